#!/usr/bin/env python3
"""GPTQ goldens from the original IST-DASLab code, run on transformers (CPU, fp32).

    python tools/goldens/make_gptq_goldens.py --gptq PATH/TO/gptq [--only NAME ...]

PATH/TO/gptq is a checkout of https://github.com/IST-DASLab/gptq (the goldens were made at
commit 2d65066eeb06a5c9ff5184d8cebdf33662c67faf). Its llama.py `llama_sequential` (with gptq.py's
GPTQ.fasterquant and quant.py's Quantizer) is imported and run as is on the CPU; the only
changes are made from outside: `args` (the script's argparse namespace, a module global there)
is set, `torch.cuda.synchronize` becomes a no-op (no GPU here) and the printed per-Linear
'error' is captured.

Inputs, exactly as QuantScope builds them (the C++ test checks the checksums):
- calibration: the bundled resources/data/calibration/tinyshakespeare.txt.zst, encoded once
  without BOS by the model's tokenizer.json, cut into consecutive blocks of 512 tokens, the first
  32 (QuantScope's --calib-samples 32 --calib-seqlen 512);
- evaluation: wikitext-2 test (the bundled copy), "\\n\\n".join(rows), single BOS, NSAMPLES
  windows of 512 tokens, ppl = exp(mean cross-entropy of logits[:-1]) (make_ppl_goldens.py).

Writes tests/data/goldens/gptq.json: per model and configuration the perplexity, and per Linear
the reference's 'error' (its loss) and the mean |w| of the quantized weight.

--unit writes tests/data/goldens/gptq_unit.safetensors (+ .json) instead: one random weight
W [24, 320] (320 = 2.5 blocks of 128; groups of 64 and 96, which straddle the blocks), the
reference's H from 6 random calibration samples X [6, 40, 320] (gptq.py add_batch, sample by
sample; some input channels all zero = dead columns, some scaled x10 = act-order matters), and
fasterquant's Q and error for each UNIT_CONFIGS entry.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import io
import math
import re
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import GOLDENS_DIR, REPO, model_dir, versions, write_json  # noqa: E402

import transformers  # noqa: E402

transformers.logging.set_verbosity_error()

MODELS = ["TinyStories-656K", "stories260K"]
CALIB = REPO / "resources" / "data" / "calibration" / "tinyshakespeare.txt.zst"
WIKITEXT = REPO / "resources" / "data" / "wikitext-2-raw-v1"
CALIB_SAMPLES, CALIB_SEQLEN = 32, 512  # --calib-samples 32 (the reference's per-sample loops are slow on 2 cores)
SEQLEN, NSAMPLES = 512, 40
# name -> reference arguments (wbits, groupsize, sym, act_order, static_groups, true_sequential)
CONFIGS = {
    "w4_g128": dict(wbits=4, groupsize=128, sym=False, act_order=False, static_groups=False, true_sequential=True),
    "w3_g64": dict(wbits=3, groupsize=64, sym=False, act_order=False, static_groups=False, true_sequential=True),
    "w4_g128_act_order": dict(wbits=4, groupsize=128, sym=False, act_order=True, static_groups=False, true_sequential=True),
    "w3_g64_act_order_static": dict(wbits=3, groupsize=64, sym=False, act_order=True, static_groups=True, true_sequential=True),
}


def checksum(ids: torch.Tensor) -> dict:
    flat = ids.flatten().to(torch.int64)
    w = (torch.arange(flat.numel(), dtype=torch.int64) % 97) + 1
    return {"count": int(flat.numel()), "sum": int(flat.sum()), "weighted_sum": int((flat * w).sum())}


def calibration_ids(tok) -> torch.Tensor:
    import zstandard
    text = zstandard.ZstdDecompressor().stream_reader(open(CALIB, "rb")).read().decode("utf-8")
    ids = tok.encode(text, add_special_tokens=False).ids
    n = min(CALIB_SAMPLES, len(ids) // CALIB_SEQLEN)
    return torch.tensor(ids[: n * CALIB_SEQLEN], dtype=torch.int64).view(n, CALIB_SEQLEN)


def eval_ids(name: str) -> torch.Tensor:
    from transformers import AutoTokenizer
    files = sorted(WIKITEXT.glob("wiki.test.raw*"))
    assert files, f"no wikitext copy under {WIKITEXT}"
    raw = files[0].read_bytes()
    if files[0].suffix == ".zst":
        import zstandard
        raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    lines = raw.decode("utf-8").split("\n")[:-1]
    rows = ["" if ln.strip() == "" else ln + "\n" for ln in lines]
    text = "\n\n".join(rows)
    tok = AutoTokenizer.from_pretrained(model_dir(name))
    return torch.tensor([tok.bos_token_id] + tok(text, add_special_tokens=False).input_ids, dtype=torch.int64)


@torch.no_grad()
def ppl(model, ids: torch.Tensor) -> float:
    total = 0.0
    for i in range(NSAMPLES):
        batch = ids[i * SEQLEN:(i + 1) * SEQLEN].unsqueeze(0)
        logits = model(input_ids=batch, use_cache=False).logits
        total += float(F.cross_entropy(logits[0, :-1, :].float(), batch[0, 1:])) * SEQLEN
    return math.exp(total / (NSAMPLES * SEQLEN))


def run_reference(llama, base, calib: torch.Tensor, cfg: dict):
    model = copy.deepcopy(base)
    model.seqlen = CALIB_SEQLEN
    llama.args = argparse.Namespace(nsamples=calib.size(0), percdamp=0.01, **cfg)
    loader = [(calib[i:i + 1], None) for i in range(calib.size(0))]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        llama.llama_sequential(model, loader, "cpu")
    # the reference prints "<layer> <name>", "Quantizing ...", "time t", "error e" per Linear
    losses, cur = {}, None
    for line in out.getvalue().splitlines():
        m = re.match(r"^(\d+) (\S+)$", line)
        if m:
            cur = f"model.layers.{m.group(1)}.{m.group(2)}"
        m = re.match(r"^error (\S+)$", line)
        if m and cur:
            losses[cur] = float(m.group(1))
    return model, losses


UNIT_CONFIGS = {
    "g64": dict(wbits=4, groupsize=64, sym=False, actorder=False, static_groups=False),
    "g96_w3": dict(wbits=3, groupsize=96, sym=False, actorder=False, static_groups=False),
    "g64_act_order": dict(wbits=4, groupsize=64, sym=False, actorder=True, static_groups=False),
    "g64_act_order_static": dict(wbits=3, groupsize=64, sym=False, actorder=True, static_groups=True),
    "channel_sym": dict(wbits=4, groupsize=-1, sym=True, actorder=False, static_groups=False),
    "g64_sym_act_order": dict(wbits=2, groupsize=64, sym=True, actorder=True, static_groups=False),
}


def make_unit(gptq_dir: Path) -> None:
    from safetensors.torch import save_file
    sys.path.insert(0, str(gptq_dir))
    gptq_mod = importlib.import_module("gptq")
    quant_mod = importlib.import_module("quant")
    g = torch.Generator().manual_seed(16)
    rows, cols = 24, 320
    w = torch.randn(rows, cols, generator=g) * 0.05
    x = torch.randn(6, 40, cols, generator=g)
    x[:, :, 5] = 0
    x[:, :, 200] = 0  # dead inputs
    x[:, :, 17] *= 10
    x[:, :, 150] *= 10  # outlier channels (act-order moves them first)
    tensors = {"w": w.contiguous(), "x": x.contiguous()}
    meta = {"configs": {}}
    for name, cfg in UNIT_CONFIGS.items():
        layer = torch.nn.Linear(cols, rows, bias=False)
        layer.weight.data = w.clone()
        q = gptq_mod.GPTQ(layer)
        for j in range(x.size(0)):
            q.add_batch(x[j:j + 1], None)
        if "h" not in tensors:
            tensors["h"] = q.H.clone().contiguous()
        q.quantizer = quant_mod.Quantizer()
        q.quantizer.configure(cfg["wbits"], perchannel=True, sym=cfg["sym"], mse=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            q.fasterquant(blocksize=128, percdamp=0.01, groupsize=cfg["groupsize"], actorder=cfg["actorder"],
                          static_groups=cfg["static_groups"])
        err = float(re.search(r"error (\S+)", out.getvalue()).group(1))
        tensors["q_" + name] = layer.weight.data.clone().contiguous()
        meta["configs"][name] = {"args": cfg, "error": err}
        print(f"unit {name}: error {err:.6f}")
    save_file(tensors, str(GOLDENS_DIR / "gptq_unit.safetensors"))
    meta.update({"made_by": "tools/goldens/make_gptq_goldens.py --unit", "versions": versions(),
                 "gptq_commit": subprocess.run(["git", "-C", str(gptq_dir), "rev-parse", "HEAD"], capture_output=True,
                                               text=True).stdout.strip()})
    write_json(GOLDENS_DIR / "gptq_unit.json", meta)
    print("wrote", GOLDENS_DIR / "gptq_unit.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gptq", type=Path, required=True, help="a checkout of IST-DASLab/gptq")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--unit", action="store_true", help="write gptq_unit.* only")
    a = ap.parse_args()
    torch.cuda.synchronize = lambda *args, **kw: None  # fasterquant calls it; no GPU here
    torch.set_num_threads(1)
    if a.unit:
        make_unit(a.gptq)
        return
    sys.path.insert(0, str(a.gptq))
    llama = importlib.import_module("llama")
    commit = subprocess.run(["git", "-C", str(a.gptq), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    dst = GOLDENS_DIR / "gptq.json"
    import json
    out = json.loads(dst.read_text()) if dst.exists() and a.only else {"models": {}}
    for name in MODELS:
        if a.only and name not in a.only:
            continue
        tok = Tokenizer.from_file(str(model_dir(name) / "tokenizer.json"))
        calib = calibration_ids(tok)
        ids = eval_ids(name)
        base = AutoModelForCausalLM.from_pretrained(model_dir(name), torch_dtype=torch.float32,
                                                    attn_implementation="eager").eval()
        entry = {"calibration": checksum(calib), "eval_ids": checksum(ids[: NSAMPLES * SEQLEN]),
                 "fp32_ppl": ppl(base, ids), "configs": {}}
        print(f"{name}: fp32 ppl {entry['fp32_ppl']:.4f}, calibration {tuple(calib.shape)}", flush=True)
        for cname, cfg in CONFIGS.items():
            model, losses = run_reference(llama, base, calib, cfg)
            linears = {}
            for n, mod in model.named_modules():
                if isinstance(mod, torch.nn.Linear) and n.startswith("model.layers."):
                    linears[n] = {"loss": losses.get(n), "mean_abs": float(mod.weight.abs().mean())}
            p = ppl(model, ids)
            entry["configs"][cname] = {"args": cfg, "ppl": p, "linears": linears}
            print(f"  {cname}: ppl {p:.4f}, total loss {sum(v['loss'] for v in linears.values()):.4f}", flush=True)
        out["models"][name] = entry
    out.update({
        "what": "GPTQ by the IST-DASLab reference code (llama.py llama_sequential, percdamp 0.01, blocksize 128) "
                "on transformers, fp32 CPU; ppl over NSAMPLES windows of SEQLEN tokens of wikitext-2 test",
        "made_by": "tools/goldens/make_gptq_goldens.py",
        "gptq_commit": commit,
        "calib": {"file": "resources/data/calibration/tinyshakespeare.txt.zst", "samples": CALIB_SAMPLES,
                  "seqlen": CALIB_SEQLEN, "bos": False},
        "seqlen": SEQLEN, "nsamples": NSAMPLES,
        "versions": versions(),
    })
    write_json(dst, out)
    print("wrote", dst)


if __name__ == "__main__":
    main()
