#!/usr/bin/env python3
"""Checks QuantScope's llm-compressor recipes with llm-compressor's own parser.

For each configuration below, `quantscope-cli recipe --json` writes the recipe; the script loads
the file with `llmcompressor.recipe.Recipe.create_instance(path)` (which instantiates and
validates every modifier, and compressed-tensors' QuantizationArgs of every config group), then
checks the modifier types and their key arguments against what the QuantScope configuration
asks for (the expectations below are written from the configuration JSON, independently of the
C++ mapping). The recipes it verified are committed as fixtures under tests/data/llmc_recipes/
with a summary (summary.json: per case the configuration, the model, the modifiers llm-compressor
built and the package versions); the engine test `LlmcRecipe.RegeneratesFixtures` rebuilds each
recipe from its configuration and compares bytes.

With the oneshot runs (default; --no-oneshot skips them), six more recipes run end to end through
llm-compressor's `oneshot` on the tiny OPT and LLaMA models (CPU, random calibration tokens): their
mappings resolve on the real module names and every decoder Linear (and lm_head only when asked)
ends up quantized.

It also checks the one size rule the recipe writer relies on: compressed-tensors'
deterministic Hadamard refuses a size that is not a power of two, its random Hadamard accepts it.

    python3 -m venv /work/venv-llmc && /work/venv-llmc/bin/pip install llmcompressor
    /work/venv-llmc/bin/python tools/goldens/check_llmc_recipe.py --cli build/bin/quantscope-cli

Versions used: llmcompressor 0.14.0.1, compressed-tensors 0.19.0, torch 2.11.0 (CPU).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "data", "llmc_recipes")
LLAMA = os.path.join(ROOT, "resources", "models", "TinyStories-656K")  # LLaMA, GQA, hidden 128
LLAMA_GQA = os.path.join(ROOT, "tests", "data", "models", "llama-gqa-llama3rope-random")
OPT = os.path.join(ROOT, "tests", "data", "models", "opt-preln-random")

# name -> (model folder, method options exactly as on the command line)
CASES = {
    "rtn_w4_g128_asym": (LLAMA, ["--method", "rtn"]),
    "rtn_w8_channel_sym_lm_head": (LLAMA, ["--method", "rtn", "--w-bits", "8", "--group-size", "-1", "--symmetric",
                                           "--include-lm-head"]),
    "rtn_w4_tensor_sym_fp16_scales": (LLAMA_GQA, ["--method", "rtn", "--w-quant", "per-tensor", "--symmetric",
                                                  "--fp16-scales"]),
    "smoothquant_w8a8": (LLAMA, ["--method", "smoothquant", "--sq-alpha", "0.8"]),
    "smoothquant_w8a8_per_tensor_bmm_opt": (OPT, ["--method", "smoothquant", "--act-quant", "per-tensor",
                                                  "--quantize-bmm"]),
    "smoothquant_gptq_w8a8": (LLAMA, ["--method", "smoothquant,gptq", "--sq-alpha", "0.6", "--true-sequential", "0",
                                      "--static-groups"]),
    "awq_w4_g64_duo": (LLAMA, ["--method", "awq", "--group-size", "64", "--duo-scaling"]),
    "awq_clip_w3_opt": (OPT, ["--method", "awq", "--awq-clip", "--w-bits", "3", "--calib-samples", "64",
                              "--calib-seqlen", "256"]),
    "awq_keep": (LLAMA, ["--method", "awq-keep", "--w-bits", "3"]),
    "awq_scale": (LLAMA, ["--method", "awq-scale", "--awq-factor", "2", "--awq-salient", "0.02"]),
    "gptq_w4_g128_sym_actorder_static": (LLAMA, ["--method", "gptq", "--symmetric", "--act-order", "--static-groups",
                                                 "--true-sequential", "0"]),
    "gptq_w3_g64_asym": (LLAMA_GQA, ["--method", "gptq", "--w-bits", "3", "--group-size", "64", "--gptq-damp",
                                     "0.05", "--gptq-block", "64"]),
    "gptq_actorder_dynamic_groups": (LLAMA, ["--method", "gptq", "--act-order"]),
    "rotate_hadamard_rtn": (LLAMA, ["--method", "rotate,rtn", "--rotation", "hadamard", "--seed", "7"]),
    "rotate_plain_gptq_channel": (LLAMA, ["--method", "rotate,gptq", "--rotation", "hadamard-plain",
                                          "--group-size", "-1", "--symmetric"]),
    "rotate_random_rtn": (LLAMA, ["--method", "rotate,rtn", "--rotation", "random"]),
    "rotate_smoothquant_opt": (OPT, ["--method", "rotate,smoothquant", "--rotation", "hadamard"]),
    "rtn_w4a8_per_token": (LLAMA, ["--method", "rtn", "--a-bits", "8"]),
    # mixed precision (per-Linear overrides, issue #16 item 5): config groups on exact names, skipped in ignore
    "mixed_rtn_w3_g64_down_w8_skip": (LLAMA, ["--method", "rtn", "--w-bits", "3", "--group-size", "64",
                                              "--override", "model.layers.0.mlp.down_proj=w8",
                                              "--override", "model.layers.1.mlp.down_proj=w8",
                                              "--override", "model.layers.1.self_attn.o_proj=w4:channel",
                                              "--override", "model.layers.0.mlp.up_proj=skip"]),
    "mixed_gptq_w4a8_lm_head": (LLAMA, ["--method", "gptq", "--a-bits", "8", "--include-lm-head",
                                        "--override", "lm_head=w8:g32", "--override", "model.layers.1.mlp.gate_proj=skip"]),
}

# Recipes run end to end through llm-compressor's oneshot on the CPU (4 random calibration rows of
# 32 tokens) with --oneshot: group sizes that fit the tiny models' widths (OPT hidden 32).
RUNS = {
    "opt_awq_clip_w3_g16": (OPT, ["--method", "awq", "--awq-clip", "--w-bits", "3", "--group-size", "16"]),
    "opt_smoothquant_gptq": (OPT, ["--method", "smoothquant,gptq", "--sq-alpha", "0.7"]),
    "llama_rotate_hadamard_gptq_actorder_g32": (LLAMA, ["--method", "rotate,gptq", "--rotation", "hadamard",
                                                        "--act-order", "--group-size", "32"]),
    "llama_awq_duo_g32": (LLAMA, ["--method", "awq", "--duo-scaling", "--group-size", "32"]),
    "llama_smoothquant_per_tensor": (LLAMA, ["--method", "smoothquant", "--act-quant", "per-tensor"]),
    "llama_rtn_w4_g32_lm_head": (LLAMA, ["--method", "rtn", "--group-size", "32", "--include-lm-head"]),
    "llama_mixed_rtn_w4_g32": (LLAMA, ["--method", "rtn", "--group-size", "32",
                                       "--override", "model.layers.0.mlp.down_proj=w8:g64",
                                       "--override", "model.layers.1.mlp.up_proj=skip"]),
}

# The module names of each architecture (as Hugging Face's modeling code names them).
NAMES = {
    "llama": {"attn_norm": "input_layernorm", "mlp_norm": "post_attention_layernorm", "qkv": ["q_proj", "k_proj", "v_proj"],
              "o": "o_proj", "up": ["gate_proj", "up_proj"], "down": "down_proj"},
    "opt": {"attn_norm": "self_attn_layer_norm", "mlp_norm": "final_layer_norm", "qkv": ["q_proj", "k_proj", "v_proj"],
            "o": "out_proj", "up": ["fc1"], "down": "fc2"},
}


def fail(case, msg):
    raise SystemExit(f"{case}: {msg}")


def check(case, cond, msg):
    if not cond:
        fail(case, msg)


def strip_re(s):
    s = s[3:] if s.startswith("re:") else s
    return s.replace(".*", "").replace("$", "").replace("layers\\.\\d+\\.", "")


def expected_modifiers(cfg, arch):
    """The modifier types, in order, that QuantScope's configuration asks for."""
    m = cfg["methods"]
    out = []
    if "rotate" in m and arch == "llama" and cfg["rotation"] != "random":
        out.append("SpinQuantModifier")
    if "smoothquant" in m:
        out.append("SmoothQuantModifier")
    if "awq" in m:
        out.append("AWQModifier")
    out.append("GPTQModifier" if "gptq" in m else "QuantizationModifier")
    return out


def weight_spec(cfg, name=None):
    """(num_bits, strategy, group_size) of a Linear: the configuration's, with its override applied."""
    ov = (cfg.get("overrides") or {}).get(name, {}) if name else {}
    bits = ov.get("bits") or cfg["w_bits"]
    strategy = {"per-group": "group", "per-channel": "channel", "per-tensor": "tensor"}[cfg["w_quant"]]
    group = cfg["group_size"] if strategy == "group" else None
    g = ov.get("group_size", 0)
    if g == -1:
        strategy, group = "channel", None
    elif g and g > 0:
        strategy, group = "group", g
    return bits, strategy, group


def override_options(opts):
    """{Linear: SPEC} of the --override options."""
    return dict(opts[i + 1].split("=", 1) for i in range(len(opts) - 1) if opts[i] == "--override")


def check_case(case, path, cfg, model, hidden):
    from llmcompressor.recipe import Recipe

    recipe = Recipe.create_instance(path)  # parses, instantiates and validates every modifier
    mods = recipe.modifiers
    types = [type(x).__name__ for x in mods]
    arch = model["arch"]
    check(case, types == expected_modifiers(cfg, arch), f"modifiers {types}")
    names = NAMES[arch]
    summary = []
    for mod in mods:
        t = type(mod).__name__
        if t == "SpinQuantModifier":
            check(case, list(mod.rotations) == ["R1"], f"rotations {mod.rotations}")
            want = {"hadamard": "random-hadamard", "hadamard-plain": "hadamard"}[cfg["rotation"]]
            if cfg["rotation"] == "hadamard-plain" and hidden & (hidden - 1):
                want = "random-hadamard"
            check(case, mod.transform_type == want, f"transform_type {mod.transform_type}, expected {want}")
            summary.append({"type": t, "rotations": list(mod.rotations), "transform_type": mod.transform_type})
        elif t == "SmoothQuantModifier":
            check(case, mod.smoothing_strength == cfg["sq_alpha"], f"smoothing_strength {mod.smoothing_strength}")
            got = [(sorted(strip_re(b) for b in bal), strip_re(sm)) for bal, sm in mod.mappings]
            want = [(sorted(names["qkv"]), names["attn_norm"]), (sorted(names["up"]), names["mlp_norm"])]
            check(case, got == want, f"smoothquant mappings {got}, expected {want}")
            summary.append({"type": t, "smoothing_strength": mod.smoothing_strength,
                            "mappings": [list(x) for x in mod.mappings]})
        elif t == "AWQModifier":
            check(case, mod.duo_scaling is cfg["duo_scaling"], f"duo_scaling {mod.duo_scaling}")
            check(case, mod.n_grid == 20, f"n_grid {mod.n_grid}")
            got = [(strip_re(x.smooth_layer), sorted(strip_re(b) for b in x.balance_layers)) for x in mod.mappings]
            want = [(names["attn_norm"], sorted(names["qkv"])), ("v_proj", [names["o"]]),
                    (names["mlp_norm"], sorted(names["up"])), (names["up"][-1], [names["down"]])]
            check(case, got == want, f"awq mappings {got}, expected {want}")
            summary.append({"type": t, "duo_scaling": mod.duo_scaling, "n_grid": mod.n_grid,
                            "mappings": [{"smooth_layer": x.smooth_layer, "balance_layers": x.balance_layers}
                                         for x in mod.mappings]})
        else:  # QuantizationModifier / GPTQModifier
            overrides = cfg.get("overrides") or {}
            skipped = [n for n, o in sorted(overrides.items()) if o.get("skip")]
            want_ignore = [n for n in skipped if n != "lm_head"]
            if not cfg["include_lm_head"] or "lm_head" in skipped:
                want_ignore.append("lm_head")
            check(case, list(mod.ignore) == want_ignore, f"ignore {mod.ignore}, expected {want_ignore}")
            # mixed precision: every overridden (not skipped) Linear whose spec differs from the configuration's
            # is the exact target of one more group with its spec; group_0 targets Linear with the configuration's
            base = weight_spec(cfg)
            own = {n: weight_spec(cfg, n) for n, o in overrides.items() if not o.get("skip")}
            own = {n: s for n, s in own.items() if s != base}
            check(case, list(mod.targets) == ["Linear"], f"targets {mod.targets}")
            want_groups = ["group_0"] + [f"group_{i + 1}" for i in range(len(set(own.values())))]
            check(case, list(mod.config_groups) == want_groups, f"config_groups {list(mod.config_groups)}")
            for gname in want_groups[1:]:
                sch = mod.config_groups[gname]
                specs = {own.get(n) for n in sch.targets}
                check(case, len(specs) == 1 and None not in specs, f"{gname} targets {sch.targets}")
                b, st, gs = specs.pop()
                w = sch.weights
                check(case, (w.num_bits, str(getattr(w.strategy, "value", w.strategy)), w.group_size) == (b, st, gs),
                      f"{gname} weights {w}, expected {(b, st, gs)}")
                check(case, w.symmetric == cfg["symmetric"], f"{gname} symmetric {w.symmetric}")
            check(case, sorted(n for g in want_groups[1:] for n in mod.config_groups[g].targets) == sorted(own),
                  "the override groups' targets are the overridden Linears")
            scheme = mod.config_groups["group_0"]
            check(case, scheme.targets == ["Linear"], f"scheme targets {scheme.targets}")
            wq = scheme.weights
            entry = {"type": t, "ignore": list(mod.ignore)}
            if own:
                entry["override_groups"] = {g: {"targets": list(mod.config_groups[g].targets),
                                                "num_bits": mod.config_groups[g].weights.num_bits,
                                                "strategy": str(getattr(mod.config_groups[g].weights.strategy, "value",
                                                                        mod.config_groups[g].weights.strategy)),
                                                "group_size": mod.config_groups[g].weights.group_size}
                                            for g in want_groups[1:]}
            if cfg["methods"] == ["rotate"] or not any(x in cfg["methods"] for x in
                                                         ("rtn", "gptq", "awq", "awq-keep", "awq-scale", "smoothquant")):
                check(case, wq is None, "weights quantized")
            else:
                strategy = {"per-group": "group", "per-channel": "channel", "per-tensor": "tensor"}[cfg["w_quant"]]
                check(case, wq.num_bits == cfg["w_bits"], f"num_bits {wq.num_bits}")
                check(case, wq.type == "int", f"type {wq.type}")
                check(case, wq.symmetric == cfg["symmetric"], f"symmetric {wq.symmetric}")
                check(case, wq.strategy == strategy, f"strategy {wq.strategy}, expected {strategy}")
                check(case, wq.group_size == (cfg["group_size"] if strategy == "group" else None),
                      f"group_size {wq.group_size}")
                import torch
                check(case, wq.scale_dtype == (torch.float16 if cfg["fp16_scales"] else None),
                      f"scale_dtype {wq.scale_dtype}")
                entry["weights"] = {"num_bits": wq.num_bits, "type": str(getattr(wq.type, "value", wq.type)), "symmetric": wq.symmetric,
                                    "strategy": str(getattr(wq.strategy, "value", wq.strategy)), "group_size": wq.group_size}
            ia = scheme.input_activations
            if cfg["a_bits"] > 0:
                want_strategy = "token" if cfg["act_quant"] == "per-token" else "tensor"
                check(case, ia is not None and ia.num_bits == cfg["a_bits"] and ia.symmetric and ia.dynamic is True
                      and ia.strategy == want_strategy, f"input_activations {ia}")
                entry["input_activations"] = {"num_bits": ia.num_bits, "symmetric": ia.symmetric,
                                              "strategy": str(getattr(ia.strategy, "value", ia.strategy)), "dynamic": ia.dynamic}
            else:
                check(case, ia is None, f"input_activations {ia}")
            if t == "GPTQModifier":
                check(case, mod.block_size == cfg["gptq_block_size"], f"block_size {mod.block_size}")
                check(case, mod.dampening_frac == cfg["gptq_damp"], f"dampening_frac {mod.dampening_frac}")
                want_ao = "weight" if cfg["gptq_act_order"] else None
                got_ao = None if mod.actorder is None else str(getattr(mod.actorder, "value", mod.actorder))
                check(case, got_ao == want_ao, f"actorder {mod.actorder}, expected {want_ao}")
                entry.update({"block_size": mod.block_size, "dampening_frac": mod.dampening_frac, "actorder": got_ao})
            summary.append(entry)
    return summary


def check_hadamard_sizes():
    import torch
    from compressed_tensors.transform.utils.hadamard import deterministic_hadamard_matrix, random_hadamard_matrix

    try:
        deterministic_hadamard_matrix(576, torch.float64)
        raise SystemExit("compressed-tensors' deterministic Hadamard accepted 576 (the recipe writer assumes not)")
    except ValueError:
        pass
    h = random_hadamard_matrix(576, torch.float64, gen=torch.Generator().manual_seed(0))
    err = (h @ h.T / 576 - torch.eye(576, dtype=torch.float64)).abs().max().item()  # H H^T = n I (unnormalized)
    if err > 1e-9:
        raise SystemExit(f"random Hadamard of 576 is not orthogonal ({err})")
    return {"deterministic_576": "ValueError", "random_576_orthogonality_error": err}


def oneshot_child(model_dir, recipe):
    """Runs in a child process: oneshot on the model, prints one JSON line of what it did."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from llmcompressor import oneshot
    from llmcompressor.pipelines.cache import IntermediatesCache

    IntermediatesCache.pin_memory = lambda self, *a, **k: None  # AWQ pins its cache: needs CUDA (CPU only here)
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
    g = torch.Generator().manual_seed(0)
    rows = [{"input_ids": torch.randint(3, model.config.vocab_size, (32,), generator=g).tolist(),
             "attention_mask": [1] * 32} for _ in range(4)]
    oneshot(model=model, recipe=recipe, dataset=Dataset.from_list(rows), num_calibration_samples=4,
            max_seq_length=32)
    schemes = {n: m.quantization_scheme for n, m in model.named_modules()
               if getattr(m, "quantization_scheme", None) is not None}
    quantized = sorted(schemes)
    bits = {n: [s.weights.num_bits, s.weights.group_size] for n, s in schemes.items() if s.weights is not None}
    print("ONESHOT " + json.dumps({"quantized_modules": len(quantized), "lm_head_quantized": "lm_head" in quantized,
                                   "weights": bits}))


def run_oneshot(cli, tmpdir):
    out = {}
    for name, (model_dir, opts) in RUNS.items():
        path = os.path.join(tmpdir, name + ".yaml")
        subprocess.run([cli, "recipe", "--model", model_dir, *opts, "--out", path], check=True, capture_output=True)
        r = subprocess.run([sys.executable, __file__, "--oneshot", model_dir, path], capture_output=True, text=True)
        lines = [l for l in r.stdout.splitlines() if l.startswith("ONESHOT ")]
        if r.returncode or not lines:
            fail(name, f"oneshot failed (exit {r.returncode}): {r.stderr[-2000:]}")
        res = json.loads(lines[0][8:])
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        per_layer = 6 if c["model_type"] == "opt" else 7
        ovs = override_options(opts)
        skipped = [n for n, spec in ovs.items() if spec == "skip"]
        want = c["num_hidden_layers"] * per_layer + ("--include-lm-head" in opts) - len(skipped)
        check(name, res["quantized_modules"] == want, f"{res['quantized_modules']} modules quantized, expected {want}")
        check(name, res["lm_head_quantized"] == ("--include-lm-head" in opts), "lm_head")
        for n in skipped:
            check(name, n not in res["weights"], f"skipped {n} was quantized")
        for n, spec in ovs.items():  # e.g. w8:g64 -> 8 bits, group 64
            if spec == "skip":
                continue
            parts = dict((p[0], p[1:]) for p in spec.split(":") if p[0] in "wg")
            if "w" in parts:
                check(name, res["weights"][n][0] == int(parts["w"]), f"{n}: {res['weights'][n]}, expected {spec}")
            if "g" in parts:
                check(name, res["weights"][n][1] == int(parts["g"]), f"{n}: {res['weights'][n]}, expected {spec}")
        res.pop("weights")
        res["options"] = opts
        res["model"] = os.path.relpath(model_dir, ROOT)
        res["log_lines"] = [l[l.find("|") + 2:] for l in (r.stdout + r.stderr).splitlines()
                            if "Smoothing with" in l or "skipped due to incompatible" in l][:8]
        out[name] = res
        print(f"oneshot {name}: ok ({res['quantized_modules']} Linears quantized)")
    return out


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--oneshot":
        return oneshot_child(sys.argv[2], sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    ap.add_argument("--no-oneshot", action="store_true", help="only parse the recipes (skip the oneshot runs)")
    args = ap.parse_args()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    summary = {"generator": "tools/goldens/check_llmc_recipe.py",
               "checked_with": {p: version(p) for p in ("llmcompressor", "compressed-tensors", "torch")},
               "hadamard_sizes": check_hadamard_sizes(), "cases": {}}
    for case, (model_dir, opts) in CASES.items():
        path = os.path.join(OUT, case + ".yaml")
        r = subprocess.run([args.cli, "recipe", "--model", model_dir, *opts, "--out", path, "--json"],
                           capture_output=True, text=True)
        if r.returncode:
            fail(case, f"quantscope-cli recipe exit {r.returncode}: {r.stderr}")
        j = json.loads(r.stdout)
        with open(path) as f:
            check(case, f.read() == j["recipe"], "the file differs from the printed recipe")
        hidden = j["model"]["hidden_size"]
        mods = check_case(case, path, j["configuration"], j["model"], hidden)
        summary["cases"][case] = {"options": opts, "model": j["model"], "configuration": j["configuration"],
                                  "not_carried_over": j["not_carried_over"], "modifiers": mods}
        print(f"{case}: ok ({', '.join(m['type'] for m in mods)}; {len(j['not_carried_over'])} not carried over)")
    if not args.no_oneshot:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            summary["oneshot_runs"] = run_oneshot(args.cli, d)
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
        f.write("\n")
    print(f"{len(CASES)} recipes verified with llmcompressor {summary['checked_with']['llmcompressor']}; "
          f"fixtures in {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
