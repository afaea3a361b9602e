#!/usr/bin/env python3
"""PyTorch eager + transformers perplexity, the same protocol as `quantscope-cli ppl`
(docs/notes.md §6: one tokenization with a single BOS, non-overlapping windows, mean CE of
logits[:-1] as float vs ids[1:]). Prints one JSON object: ppl, seconds (model evaluation
only, tokenization excluded), tokens_per_second.

    python tools/bench/bench_ppl_transformers.py --model DIR --tokenizer DIR \
        --seqlen 2048 --nsamples 4 --dtype fp32|bf16 --threads 2
"""
import argparse
import json
import time

import torch
import transformers
import zstandard
from transformers import AutoModelForCausalLM, AutoTokenizer


def wikitext_text(path):
    raw = zstandard.ZstdDecompressor().decompress(open(path, "rb").read(), max_output_size=1 << 26).decode("utf-8")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    rows = ["" if line.strip() == "" else line + "\n" for line in lines]
    return "\n\n".join(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--data", default="resources/data/wikitext-2-raw-v1/wiki.test.raw.zst")
    ap.add_argument("--seqlen", type=int, default=2048)
    ap.add_argument("--nsamples", type=int, default=4)
    ap.add_argument("--dtype", default="fp32")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--attn", default="eager", help="transformers attn_implementation (eager or sdpa)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[a.dtype]
    tok = AutoTokenizer.from_pretrained(a.tokenizer)
    ids = tok(wikitext_text(a.data), return_tensors="pt").input_ids
    # transformers 5 renamed torch_dtype to dtype
    dtype_kw = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
    model = AutoModelForCausalLM.from_pretrained(a.model, **{dtype_kw: dtype}, attn_implementation=a.attn).eval()
    nll = []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(a.nsamples):
            batch = ids[:, i * a.seqlen:(i + 1) * a.seqlen]
            logits = model(batch).logits
            shift = logits[:, :-1, :].contiguous().float()
            loss = torch.nn.functional.cross_entropy(shift.view(-1, shift.size(-1)), batch[:, 1:].reshape(-1))
            nll.append(loss.item() * a.seqlen)
    secs = time.perf_counter() - t0
    ppl = float(torch.exp(torch.tensor(sum(nll) / (a.nsamples * a.seqlen))))
    print(json.dumps({"ppl": ppl, "seconds": secs, "tokens_per_second": a.nsamples * a.seqlen / secs,
                      "tokens": int(ids.numel()), "torch": torch.__version__, "transformers": transformers.__version__, "threads": torch.get_num_threads(),
                      "dtype": a.dtype, "attn_implementation": a.attn}))


if __name__ == "__main__":
    main()
