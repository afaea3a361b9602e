#!/usr/bin/env python3
"""Independent check of QuantScope's compressed-tensors export (issue #16, item 2).

Developer side only. Needs torch, transformers and the `compressed-tensors` package (the
versions used are recorded in the fixture), and a built `quantscope-cli`.

For every case below it
  1. exports the bundled tiny model with `quantscope-cli quantize --format compressed-tensors`
     and the same configuration with `--format fake` (QuantScope's fake-quant weights);
  2. loads the compressed-tensors export with transformers + compressed-tensors on the CPU,
     decompressed (`CompressedTensorsConfig(dequantize=True)`), and checks every Linear weight
     against the fake-quant export (expected: bit for bit) and the logits of both;
  3. makes the package write ITS OWN checkpoint of the same scheme for the same model
     (apply_quantization_config + ModelCompressor.compress_model + update_config, as
     llm-compressor saves) and checks that QuantScope's quantization_config equals the
     package's, and that both files hold the same tensor names, dtypes and shapes;
and it packs hand-made code tensors with the package's own pack_to_int32.

The mixed-precision case (per-Linear overrides: one config group per weight scheme on the exact
Linear names, skipped Linears in `ignore`) is loaded by the package alone (`package_load`: the
package's own module matching and pack-quantized decompressor), because transformers 5.25's
`CompressedTensorsConfig(dequantize=True)` path decompresses every dense module with one config
group (`get_dense_scheme`) and fails on such a checkpoint ("The size of tensor a (12) must match
the size of tensor b (6)": down_proj's g64 zero points read with the g32 group's scheme).

Writes tests/data/goldens/compressed_tensors.json (cases, ids, checks, packing goldens) and
tests/data/goldens/compressed_tensors.safetensors (the decompressed model's fp32 logits per
case), which tests/engine/test_export_compressed_tensors.cpp compares QuantScope against.

GPTQ's codes depend on the floating-point summation order of its Hessian and Cholesky factor
(the BLAS, its thread count, the CPU's kernels): the same GPTQ run on another machine may round a
few weights the other way. So for the GPTQ case the export the package loaded is kept too
(tests/data/goldens/compressed_tensors_exports/<case>/: config.json + model.safetensors): the
engine test reads THAT checkpoint and compares its logits with the package's (a pure format
check), and checks its own GPTQ export on the test machine by reopening it.

    python tools/goldens/check_compressed_tensors.py --cli build/app/quantscope-cli
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import GOLDENS_DIR, REAL_MODELS  # noqa: E402

import compressed_tensors  # noqa: E402
import safetensors  # noqa: E402
import transformers  # noqa: E402
from compressed_tensors.compressors import ModelCompressor  # noqa: E402
from compressed_tensors.compressors.pack_quantized.helpers import pack_to_int32  # noqa: E402
from compressed_tensors.quantization import (  # noqa: E402
    QuantizationArgs,
    QuantizationConfig,
    QuantizationScheme,
    apply_quantization_config,
)
from compressed_tensors.quantization.utils import calculate_qparams  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoModelForCausalLM, CompressedTensorsConfig  # noqa: E402

N_TOKENS = 8

# (model, case, QuantScope CLI method options, compressed-tensors weight args)
CASES = [
    ("TinyStories-656K", "w4_g64_sym", ["--method", "rtn", "--w-bits", "4", "--group-size", "64", "--symmetric"],
     dict(num_bits=4, symmetric=True, strategy="group", group_size=64)),
    ("TinyStories-656K", "w4_g32_asym", ["--method", "rtn", "--w-bits", "4", "--group-size", "32"],
     dict(num_bits=4, symmetric=False, strategy="group", group_size=32)),
    ("TinyStories-656K", "w8_channel_sym", ["--method", "rtn", "--w-bits", "8", "--w-quant", "per-channel",
                                            "--symmetric"],
     dict(num_bits=8, symmetric=True, strategy="channel")),
    # FFN of 172: 4-bit rows of 21.5 words (padding) and zero points packed along 172 outputs
    ("stories260K", "w4_channel_asym", ["--method", "rtn", "--w-bits", "4", "--w-quant", "per-channel"],
     dict(num_bits=4, symmetric=False, strategy="channel")),
    # the calibrated methods (bundled calibration text, 4 blocks of 32 tokens)
    ("TinyStories-656K", "awq_w4_g64_asym", ["--method", "awq", "--w-bits", "4", "--group-size", "64",
                                             "--calib-samples", "4", "--calib-seqlen", "32"],
     dict(num_bits=4, symmetric=False, strategy="group", group_size=64)),
    ("TinyStories-656K", "gptq_w4_g32_sym", ["--method", "gptq", "--w-bits", "4", "--group-size", "32", "--symmetric",
                                             "--calib-samples", "4", "--calib-seqlen", "32"],
     dict(num_bits=4, symmetric=True, strategy="group", group_size=32)),
    # mixed precision (issue #16 item 5): per-Linear overrides -> one config group per spec on the exact
    # Linear names, skipped Linears in `ignore`
    ("TinyStories-656K", "mixed_w4_g32_down_w8_g64_q_w8_channel_skip_up",
     ["--method", "rtn", "--w-bits", "4", "--group-size", "32",
      "--override", "model.layers.0.mlp.down_proj=w8:g64", "--override", "model.layers.1.mlp.down_proj=w8:g64",
      "--override", "model.layers.1.self_attn.q_proj=w8:channel", "--override", "model.layers.1.mlp.up_proj=skip"],
     dict(num_bits=4, symmetric=False, strategy="group", group_size=32,
          mixed=dict(groups=[(["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"],
                              dict(num_bits=8, symmetric=False, strategy="group", group_size=64)),
                             (["model.layers.1.self_attn.q_proj"], dict(num_bits=8, symmetric=False, strategy="channel"))],
                     ignore=["model.layers.1.mlp.up_proj"]))),
]


def ids_for(vocab: int) -> list[int]:
    # the engine tests' ids_1d: (1 + 37 i) mod V
    return [(1 + 37 * i) % vocab for i in range(N_TOKENS)]


def run_cli(cli: str, args: list[str]) -> dict:
    # one thread, as ctest runs the engine tests: GPTQ's codes depend on the summation order of its
    # Hessian, which depends on the thread count
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([cli, "quantize", *args, "--json"], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


def header(path: Path) -> dict:
    out = {}
    with safe_open(str(path), "pt") as f:
        for k in f.keys():
            t = f.get_slice(k)
            out[k] = (t.get_dtype(), list(t.get_shape()))
    return out


def package_checkpoint(src: Path, wargs: dict, out: Path) -> None:
    """The package's own pack-quantized checkpoint of the same scheme (min-max qparams); with
    wargs["mixed"], one more config group per (exact Linear names, weight args) and more `ignore`."""
    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    wargs = dict(wargs)
    mixed = wargs.pop("mixed", {"groups": [], "ignore": []})
    groups = {"group_0": QuantizationScheme(targets=["Linear"], weights=QuantizationArgs(type="int", **wargs))}
    for i, (targets, a) in enumerate(mixed["groups"]):
        groups[f"group_{i + 1}"] = QuantizationScheme(targets=targets, weights=QuantizationArgs(type="int", **a))
    cfg = QuantizationConfig(config_groups=groups, ignore=mixed["ignore"] + ["lm_head"], format="pack-quantized")
    apply_quantization_config(model, cfg)
    for _, mod in model.named_modules():
        if not hasattr(mod, "weight_scale"):
            continue
        args = mod.quantization_scheme.weights  # the module's own group (exact names before "Linear")
        w = mod.weight.data
        g = args.group_size or w.shape[1]
        wg = w.view(w.shape[0], -1, g) if w.shape[1] % g == 0 else w.view(w.shape[0], 1, -1)
        s, z = calculate_qparams(wg.amin(-1).clamp(max=0), wg.amax(-1).clamp(min=0), args)
        mod.weight_scale.data.copy_(s.reshape(mod.weight_scale.shape))
        if hasattr(mod, "weight_zero_point"):
            mod.weight_zero_point.data.copy_(z.reshape(mod.weight_zero_point.shape))
    comp = ModelCompressor.from_pretrained_model(model, quantization_format="pack-quantized")
    comp.compress_model(model)
    model.save_pretrained(str(out))
    comp.update_config(str(out))


def package_load(ct_dir: Path, src: Path):
    """The export loaded by the compressed-tensors package alone (for mixed precision: transformers
    5.25's `dequantize=True` path decompresses every dense module with ONE config group, its
    `get_dense_scheme`, and fails on a checkpoint with several). Each module's scheme comes from the
    package's own matching (apply_quantization_config: exact names, then regexes, then "Linear";
    `ignore`), its tensors are decompressed by the package's pack-quantized compressor, and the
    dense weights go into a plain transformers model with every other tensor of the checkpoint."""
    from compressed_tensors.compressors import BaseCompressor

    qcfg = QuantizationConfig.model_validate(json.loads((ct_dir / "config.json").read_text())["quantization_config"])
    probe = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    apply_quantization_config(probe, qcfg)
    schemes = {n: m.quantization_scheme for n, m in probe.named_modules()
               if getattr(m, "quantization_scheme", None) is not None}
    compressor = BaseCompressor.get_value_from_registry(qcfg.format)
    with safe_open(str(ct_dir / "model.safetensors"), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    state = {}
    for k, v in tensors.items():
        mod, _, leaf = k.rpartition(".")
        if leaf == "weight_packed":
            parts = {l: tensors[f"{mod}.{l}"] for l in ("weight_packed", "weight_scale", "weight_zero_point",
                                                          "weight_shape") if f"{mod}.{l}" in tensors}
            state[f"{mod}.weight"] = compressor.decompress(parts, schemes[mod])["weight"].to(torch.float32)
        elif leaf not in ("weight_scale", "weight_zero_point", "weight_shape"):
            state[k] = v.to(torch.float32)
    assert set(schemes) == {k.rpartition(".")[0] for k in tensors if k.endswith(".weight_packed")}, \
        "the package quantizes other modules than the checkpoint holds packed"
    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)  # lm_head: tied
    return model.eval(), {n: [s.weights.num_bits, s.weights.group_size] for n, s in schemes.items()}


def linear_weights(model) -> dict:
    return {n: m.weight.detach().clone() for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


def packing_goldens() -> list[dict]:
    gen = torch.Generator().manual_seed(16)
    out = []
    for bits, shape, dim in [(4, (3, 20), 1), (8, (3, 6), 1), (4, (13, 2), 0), (8, (5, 3), 0)]:
        lo, hi = -(1 << (bits - 1)), 1 << (bits - 1)
        signed = torch.randint(lo, hi, shape, generator=gen, dtype=torch.int64).to(torch.int8)
        packed = pack_to_int32(signed, bits, packed_dim=dim)
        out.append({"bits": bits, "dim": dim,
                    "codes_unsigned": (signed.to(torch.int64) + hi).tolist(),  # what QuantScope packs
                    "codes_signed": signed.tolist(),                          # what the package packs
                    "packed": packed.tolist()})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True, help="quantscope-cli")
    ap.add_argument("--out", default=str(GOLDENS_DIR / "compressed_tensors"), help="fixture path without suffix")
    args = ap.parse_args()
    torch.manual_seed(0)
    fixture = {
        "generator": "tools/goldens/check_compressed_tensors.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "compressed_tensors": compressed_tensors.__version__, "safetensors": safetensors.__version__},
        "loaded_with": "AutoModelForCausalLM.from_pretrained(dir, dtype=float32, "
                       "quantization_config=CompressedTensorsConfig(dequantize=True)), CPU",
        "ids_rule": "(1 + 37 i) mod vocab_size, i < n_tokens, one batch row",
        "quantscope_threads": "quantscope-cli ran with OMP_NUM_THREADS=1 (GPTQ's codes depend on the thread count)",
        "n_tokens": N_TOKENS,
        "pack": packing_goldens(),
        "cases": [],
    }
    logits = {}
    ok = True
    with tempfile.TemporaryDirectory(prefix="qs_ct_check_") as tmp:
        tmp = Path(tmp)
        for model_name, case, opts, wargs in CASES:
            src = REAL_MODELS[model_name]
            ct_dir, fake_dir, pkg_dir = tmp / f"{model_name}-{case}-ct", tmp / f"{model_name}-{case}-fake", \
                tmp / f"{model_name}-{case}-package"
            rep = run_cli(args.cli, ["--model", str(src), "--out", str(ct_dir), "--format", "compressed-tensors",
                                     *opts])
            run_cli(args.cli, ["--model", str(src), "--out", str(fake_dir), "--format", "fake", "--out-dtype",
                               "float32", *opts])
            mixed = "mixed" in wargs
            if mixed:
                ct, module_schemes = package_load(ct_dir, src)
            else:
                ct = AutoModelForCausalLM.from_pretrained(
                    str(ct_dir), dtype=torch.float32,
                    quantization_config=CompressedTensorsConfig(dequantize=True)).eval()
            fake = AutoModelForCausalLM.from_pretrained(str(fake_dir), dtype=torch.float32).eval()
            wc, wf = linear_weights(ct), linear_weights(fake)
            assert wc.keys() == wf.keys(), (wc.keys(), wf.keys())
            weight_diff = max((wc[k] - wf[k]).abs().max().item() for k in wc)
            ids = ids_for(ct.config.vocab_size)
            with torch.no_grad():
                lc = ct(torch.tensor([ids])).logits[0].float()
                lf = fake(torch.tensor([ids])).logits[0].float()
            logit_diff = (lc - lf).abs().max().item()

            package_checkpoint(src, wargs, pkg_dir)
            ours = json.loads((ct_dir / "config.json").read_text())["quantization_config"]
            theirs = json.loads((pkg_dir / "config.json").read_text())["quantization_config"]
            hq, hp = header(ct_dir / "model.safetensors"), header(pkg_dir / "model.safetensors")
            config_equal = ours == theirs
            layout_equal = hq == hp
            if not config_equal:
                print(f"{case}: quantization_config differs\n ours   {json.dumps(ours, sort_keys=True)}\n"
                      f" theirs {json.dumps(theirs, sort_keys=True)}", file=sys.stderr)
            if not layout_equal:
                for k in sorted(set(hq) | set(hp)):
                    if hq.get(k) != hp.get(k):
                        print(f"{case}: {k}: ours {hq.get(k)} package {hp.get(k)}", file=sys.stderr)
            kept = None
            if "--method" in opts and opts[opts.index("--method") + 1] == "gptq":
                kept = GOLDENS_DIR / "compressed_tensors_exports" / case
                if kept.exists():
                    shutil.rmtree(kept)
                kept.mkdir(parents=True)
                for f in ("config.json", "model.safetensors"):
                    shutil.copyfile(ct_dir / f, kept / f)
            case_ok = config_equal and layout_equal and weight_diff == 0 and logit_diff <= 1e-5
            ok = ok and case_ok
            key = f"{model_name}/{case}"
            logits[key] = lc.contiguous()
            fixture["cases"].append({
                "model": model_name, "case": case, "cli": opts, "package_weight_args": wargs,
                **({"loaded_with": "the compressed-tensors package alone (package_load): transformers "
                                   f"{transformers.__version__}'s dequantize path applies one config group to "
                                   "every dense module", "package_module_schemes": module_schemes}
                   if mixed else {}),
                "logits_tensor": key, "vocab_size": ct.config.vocab_size, "ids": ids,
                **({"export_dir": str(kept.relative_to(GOLDENS_DIR.parent))} if kept else {}),
                "quantized_linears": rep["export"]["quantized_linears"],
                "quantscope_configuration": rep["export"]["configuration_json"],
                "checks": {"max_abs_weight_diff_vs_quantscope_fake": weight_diff,
                           "max_abs_logit_diff_vs_quantscope_fake": logit_diff,
                           "quantization_config_equals_package": config_equal,
                           "tensor_names_dtypes_shapes_equal_package": layout_equal},
                "quantization_config": ours,
            })
            print(f"{key}: weights {weight_diff:.3g}, logits {logit_diff:.3g} vs QuantScope fake; config "
                  f"{'==' if config_equal else '!='} package; layout {'==' if layout_equal else '!='} package")
    out = Path(args.out)
    save_file(logits, str(out.with_suffix(".safetensors")), metadata={"format": "pt"})
    out.with_suffix(".safetensors").chmod(0o644)
    out.with_suffix(".json").write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.safetensors')}; {'all checks hold' if ok else 'CHECKS FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
