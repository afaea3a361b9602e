#!/usr/bin/env python3
"""Wikitext-2 perplexity goldens with transformers (CPU), by the protocol of docs/notes.md §6.

Protocol (llm-awq / AutoAWQ / GPTQ):
  rows  = lines of wiki.test.raw, blank lines as "", other lines keeping their trailing "\\n"
  text  = "\\n\\n".join(rows); tokenized ONCE with a single BOS at the start
  windows: non-overlapping, seqlen tokens each, nsamples = ntokens // seqlen (tail dropped) or a limit
  per window: mean cross-entropy of logits[:-1].float() against ids[1:]   (= nlls[i])
  ppl = exp(sum(nlls[i] * seqlen) / (nsamples * seqlen))

Writes tests/data/goldens/ppl.json.  Also checks the Llama-2 SentencePiece token count (341,469).

    python tools/goldens/make_ppl_goldens.py [--only NAME ...] [--skip-all]
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    GOLDENS_DIR, LLAMA2_SPM, PPL_MODEL, WIKITEXT_TEST, model_dir, rel, sha256_file, versions,
    wikitext_text, write_json)

import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

transformers.logging.set_verbosity_error()

SEQLEN = 512
LLAMA2_EXPECTED = 341469
MODELS = ["TinyStories-656K", "stories260K", PPL_MODEL]


def tokenize(name: str, text: str) -> tuple[torch.Tensor, dict]:
    folder = model_dir(name)
    tok = AutoTokenizer.from_pretrained(folder)
    bos = tok.bos_token_id
    t0 = time.time()
    body = tok(text, add_special_tokens=False).input_ids
    ids = [bos] + body
    dflt = tok(text).input_ids  # the tokenizer's own special-token handling must give the same
    assert dflt == ids, f"{name}: default encoding differs from [BOS] + body"
    info = {"tokenizer_class": type(tok).__name__, "bos_token_id": bos,
            "tokenizer_files": sorted(p.name for p in folder.iterdir() if "token" in p.name or p.name in
                                      ("vocab.json", "merges.txt")),
            "tokenize_seconds": round(time.time() - t0, 1)}
    if name == PPL_MODEL:
        # the fast GPT2 tokenizer (converted) must agree with the slow reference one
        from transformers import GPT2Tokenizer
        slow = GPT2Tokenizer.from_pretrained(folder)
        assert slow("Hello, my dog is cute").input_ids == [2, 31414, 6, 127, 2335, 16, 11962]
        assert tok("Hello, my dog is cute").input_ids == [2, 31414, 6, 127, 2335, 16, 11962]
        sids = slow(text).input_ids
        info["slow_tokenizer_agrees"] = sids == ids
        assert sids == ids, "slow and fast OPT tokenizers disagree on wikitext"
    if "unk_token_id" in dir(tok) and tok.unk_token_id is not None:
        info["unk_count_after_bos"] = sum(1 for i in ids[1:] if i == tok.unk_token_id)
    info["ids_sha256"] = hashlib.sha256(torch.tensor(ids, dtype=torch.int64).numpy().tobytes()).hexdigest()
    return torch.tensor(ids, dtype=torch.int64), info


@torch.no_grad()
def eval_ppl(model, ids: torch.Tensor, seqlen: int, nsamples: int) -> dict:
    nlls = []
    for i in range(nsamples):
        batch = ids[i * seqlen:(i + 1) * seqlen].unsqueeze(0)
        logits = model(input_ids=batch, use_cache=False).logits
        shift_logits = logits[0, :-1, :].float()
        shift_labels = batch[0, 1:]
        ce = F.cross_entropy(shift_logits, shift_labels)  # mean over seqlen-1 positions
        nlls.append(float(ce))
    total = math.fsum(n * seqlen for n in nlls)
    return {"nsamples": nsamples, "ppl": math.exp(total / (nsamples * seqlen)), "nlls": nlls}


def fp64_ppl10(name: str, ids: torch.Tensor) -> dict:
    """10-window reference in float64 (to size the tolerance of fp32 implementations).

    The default dtype is set to float64 meanwhile: OPT's causal-mask helper in transformers 4.46.3
    calls torch.full(..., finfo(float64).min) without a dtype, which overflows a float32 default.
    """
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        m = load(name, torch.float64)
        r = eval_ppl(m, ids, SEQLEN, 10)
    finally:
        torch.set_default_dtype(old)
    return {"ppl": r["ppl"], "nlls": r["nlls"]}


def load(name: str, dtype):
    return AutoModelForCausalLM.from_pretrained(model_dir(name), torch_dtype=dtype,
                                                attn_implementation="eager").eval()


def llama2_token_count(text: str) -> int:
    from transformers import LlamaTokenizer
    tok = LlamaTokenizer(vocab_file=str(LLAMA2_SPM), legacy=True)
    n = len(tok(text).input_ids)
    print(f"Llama-2 slow LlamaTokenizer token count (with BOS): {n}")
    assert n == LLAMA2_EXPECTED, n
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, choices=MODELS)
    ap.add_argument("--skip-all", action="store_true",
                    help="quick check: skip the all-windows runs and compare with the committed ppl.json "
                         "instead of writing it")
    args = ap.parse_args()

    text = wikitext_text()
    out_path = GOLDENS_DIR / "ppl.json"
    result = {
        "_meta": {
            "generator": "tools/goldens/make_ppl_goldens.py",
            "versions": versions(),
            "data": {"file": "wikitext-2-raw-v1/wiki.test.raw (../shared, not in the repo)",
                     "sha256": sha256_file(WIKITEXT_TEST), "rows": 4358, "blank_rows": 1467,
                     "text": "\"\\n\\n\".join(rows); blank lines as \"\", others keep trailing \"\\n\"",
                     "text_chars": len(text),
                     "text_utf8_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()},
            "protocol": ("tokenize once with a single BOS; non-overlapping windows of seqlen; nsamples = "
                         "ntokens // seqlen unless limited; per window mean CE of logits[:-1].float() vs ids[1:] "
                         "(nlls = these per-window means); ppl = exp(sum(nll*seqlen)/(nsamples*seqlen)); "
                         "CPU, attn_implementation=eager, no attention mask, use_cache=False"),
            "llama2_sentencepiece_tokens_with_bos": llama2_token_count(text),
        }
    }
    for name in MODELS:
        if args.only and name not in args.only:
            continue
        folder = model_dir(name)
        ids, tinfo = tokenize(name, text)
        n_all = ids.numel() // SEQLEN
        print(f"[{name}] tokens {ids.numel()} -> {n_all} windows of {SEQLEN} ({tinfo})")
        m32 = load(name, torch.float32)
        assert m32.config.max_position_embeddings >= SEQLEN
        r10 = eval_ppl(m32, ids, SEQLEN, 10)
        print(f"  fp32 nsamples=10: ppl {r10['ppl']:.6f}")
        r10b = eval_ppl(m32, ids, SEQLEN, 10)
        rep = max(abs(a - b) for a, b in zip(r10["nlls"], r10b["nlls"]))
        entry = {
            "model_folder": rel(folder),
            "model_safetensors_sha256": sha256_file(folder / "model.safetensors"),
            "stored_dtype": str(m32.config.torch_dtype),
            "seqlen": SEQLEN,
            "tokens": ids.numel(),
            "tokenizer": tinfo,
            "nsamples_10": {"ppl": r10["ppl"], "nlls": r10["nlls"]},
            "fp32_repeat_max_abs_nll_diff": rep,
        }
        if not args.skip_all:
            t0 = time.time()
            rall = eval_ppl(m32, ids, SEQLEN, n_all)
            print(f"  fp32 all ({n_all}): ppl {rall['ppl']:.6f}  [{time.time() - t0:.0f}s]")
            entry["all"] = {"nsamples": n_all, "ppl": rall["ppl"]}
            assert abs(math.exp(math.fsum(rall["nlls"][:10]) / 10) - r10["ppl"]) < 1e-9 * r10["ppl"]
        del m32
        entry["fp64_nsamples_10"] = fp64_ppl10(name, ids)
        print(f"  fp64 nsamples=10: ppl {entry['fp64_nsamples_10']['ppl']:.6f}")
        mbf = load(name, torch.bfloat16)
        rbf = eval_ppl(mbf, ids, SEQLEN, 10)
        print(f"  bf16 nsamples=10: ppl {rbf['ppl']:.6f}")
        entry["bf16_nsamples_10"] = {"ppl": rbf["ppl"], "nlls": rbf["nlls"],
                                     "note": "model loaded with torch_dtype=bfloat16 (weights and compute), "
                                             "logits cast to float before the CE"}
        assert math.isfinite(r10["ppl"]) and math.isfinite(rbf["ppl"])
        result[name] = entry
    import json
    if args.skip_all:
        if out_path.exists():
            old = json.loads(out_path.read_text())
            for name, e in result.items():
                if name in old and "nsamples_10" in e:
                    for key in ("nsamples_10", "bf16_nsamples_10"):
                        a, b = e[key]["ppl"], old[name][key]["ppl"]
                        print(f"check {name} {key}: now {a:.6f} committed {b:.6f} rel.diff {abs(a - b) / b:.2e}")
        print("--skip-all: ppl.json not written")
        return
    if args.only and out_path.exists():  # partial run: keep the other entries
        old = json.loads(out_path.read_text())
        old.update(result)
        result = old
    write_json(out_path, result)
    print(f"wrote {rel(out_path)}")


if __name__ == "__main__":
    main()
