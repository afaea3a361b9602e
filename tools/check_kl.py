#!/usr/bin/env python3
"""Independent check of `quantscope-cli ppl --kl` (#16 item 3; not needed by CI).

Run with a Python that has torch, transformers, tokenizers and zstandard, e.g.
    /work/venv-gptq/bin/python tools/check_kl.py --cli build/bin/quantscope-cli

For each model and configuration it
  1. exports QuantScope's fake-quant weights (`quantscope-cli quantize --format fake`),
  2. runs `quantscope-cli ppl --kl --json` with the same configuration,
  3. computes, with transformers, the logits of the original model and of the exported model over
     the same wikitext-2 windows (single BOS, non-overlapping windows, positions [:-1]) and the
     per-token KL with torch.nn.functional.kl_div(log q, log p, log_target=True) summed over the
     vocabulary; mean, median and 99.9th percentile with torch.quantile (linear interpolation),
     top-1 agreement with argmax;
and checks QuantScope's numbers against these (relative 1e-4; top-1 within one token).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {
    "TinyStories-656K": os.path.join(ROOT, "resources", "models", "TinyStories-656K"),
    "stories260K": os.path.join(ROOT, "tests", "data", "models", "stories260K"),
}
CONFIGS = [
    ["--method", "rtn", "--w-bits", "3", "--group-size", "32"],
    ["--method", "rtn", "--w-bits", "4", "--w-quant", "per-tensor", "--symmetric"],
]
SEQLEN, NSAMPLES = 256, 6


def wikitext_ids(model_dir: str) -> torch.Tensor:
    import zstandard
    from transformers import AutoTokenizer
    path = os.path.join(ROOT, "resources", "data", "wikitext-2-raw-v1", "wiki.test.raw.zst")
    raw = zstandard.ZstdDecompressor().stream_reader(open(path, "rb")).read().decode("utf-8")
    rows = ["" if ln.strip() == "" else ln + "\n" for ln in raw.split("\n")[:-1]]
    tok = AutoTokenizer.from_pretrained(model_dir)
    text = "\n\n".join(rows)
    return torch.tensor([tok.bos_token_id] + tok(text, add_special_tokens=False).input_ids, dtype=torch.int64)


@torch.no_grad()
def kl_stats(base, quant, ids: torch.Tensor) -> dict:
    kls, agree = [], 0
    for i in range(NSAMPLES):
        x = ids[i * SEQLEN:(i + 1) * SEQLEN].unsqueeze(0)
        lp = F.log_softmax(base(input_ids=x, use_cache=False).logits[0, :-1].float(), -1)
        lq = F.log_softmax(quant(input_ids=x, use_cache=False).logits[0, :-1].float(), -1)
        kls.append(F.kl_div(lq, lp, reduction="none", log_target=True).sum(-1))
        agree += int((lp.argmax(-1) == lq.argmax(-1)).sum())
    k = torch.cat(kls).double()
    return {"mean": float(k.mean()), "median": float(torch.quantile(k, 0.5)), "p99_9": float(torch.quantile(k, 0.999)),
            "max": float(k.max()), "top1_agreement": agree / k.numel(), "tokens": k.numel()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "quantscope-cli"))
    a = ap.parse_args()
    from transformers import AutoModelForCausalLM
    failures = 0
    for name, mdir in MODELS.items():
        ids = wikitext_ids(mdir)
        base = AutoModelForCausalLM.from_pretrained(mdir, torch_dtype=torch.float32, attn_implementation="eager").eval()
        for cfg in CONFIGS:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "fake")
                subprocess.run([a.cli, "quantize", "--model", mdir, *cfg, "--format", "fake", "--out", out],
                               check=True, capture_output=True)
                r = subprocess.run([a.cli, "ppl", "--model", mdir, *cfg, "--kl", "--json", "--seqlen", str(SEQLEN),
                                    "--nsamples", str(NSAMPLES)], check=True, capture_output=True, text=True)
                got = json.loads(r.stdout)["kl"]
                quant = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float32,
                                                             attn_implementation="eager").eval()
                ref = kl_stats(base, quant, ids)
            ok = got["tokens"] == ref["tokens"] and abs(got["top1_agreement"] - ref["top1_agreement"]) * ref["tokens"] <= 1
            for k in ("mean", "median", "p99_9", "max"):
                ok = ok and abs(got[k] - ref[k]) <= 1e-4 * abs(ref[k]) + 1e-7
            print(f"{'ok  ' if ok else 'FAIL'} {name} {' '.join(cfg)}\n     quantscope {got}\n     torch      {ref}")
            failures += not ok
    print("all checks passed" if failures == 0 else f"{failures} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
