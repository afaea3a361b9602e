#!/usr/bin/env python3
"""Write logits / greedy-decoding goldens for the test models with transformers (fp32, CPU, eager).

For each model NAME this writes
  tests/data/goldens/NAME.safetensors
      input_ids      int64   [2, 12]      row 0: tokenizer ids of a TinyStories-like sentence (real
                                          models) or seeded random ids; row 1: seeded random ids
      logits         float32 [2, 12, V]   model(input_ids).logits (no attention mask = all ones)
      greedy_prompt  int64   [1, 5]
      greedy_tokens  int64   [1, 32]      manual greedy loop with the KV cache, no EOS stop
      (llama3-rope model only)
      long_input_ids int64   [1, 48]      positions run past original_max_position_embeddings
      long_logits    float32 [1, 48, V]
      rope_inv_freq  float32 [head_dim/2] HF's llama3-scaled inverse frequencies
  tests/data/goldens/NAME.json  versions, model folder, sha256 of model.safetensors, observed
                                numerical spreads (fp32 vs fp64, thread counts, cached vs full).
and tests/data/goldens/rope_llama3_cases.{safetensors,json}: HF inverse frequencies for a few
llama3 rope configurations (covers the unchanged / smoothed / divided branches).

    python tools/goldens/make_model_goldens.py [--only NAME ...]
"""
from __future__ import annotations

import argparse
import copy
import sys
import zlib
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    GOLDENS_DIR, RANDOM_MODELS, REAL_MODELS, model_dir, rel, sha256_file, versions, write_json)

import transformers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: E402

transformers.logging.set_verbosity_error()

SEQ = 12
PROMPT_LEN = 5
NEW_TOKENS = 32
LONG_LEN = 48
MIN_MARGIN = 2e-3  # re-roll random greedy prompts until every step's top1-top2 gap exceeds this (>> fp32 noise ~1e-6)
ROW0_TEXT = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
PROMPT_TEXT = "Once upon a time"


def seed_of(name: str, salt: str) -> int:
    return zlib.crc32(f"{name}/{salt}".encode())


def rand_ids(gen: torch.Generator, shape, lo: int, hi: int) -> torch.Tensor:
    return torch.randint(lo, hi, shape, generator=gen, dtype=torch.int64)


def load(name: str, dtype=torch.float32):
    m = AutoModelForCausalLM.from_pretrained(model_dir(name), torch_dtype=dtype, attn_implementation="eager")
    return m.eval()


@torch.no_grad()
def greedy(model, prompt: torch.Tensor, n: int, use_cache: bool = True):
    """Manual greedy loop: argmax of the last logits, fed back; no EOS stop. Returns (tokens, margins)."""
    toks, margins = [], []
    if use_cache:
        out = model(input_ids=prompt, use_cache=True)
        past = out.past_key_values
        last = out.logits[:, -1, :]
        for i in range(n):
            top2 = torch.topk(last.double(), 2, dim=-1).values
            margins.append(float(top2[0, 0] - top2[0, 1]))
            nxt = last.argmax(dim=-1, keepdim=True)
            toks.append(nxt)
            if i + 1 == n:
                break
            out = model(input_ids=nxt, past_key_values=past, use_cache=True)
            past = out.past_key_values
            last = out.logits[:, -1, :]
    else:
        seq = prompt
        for _ in range(n):
            last = model(input_ids=seq, use_cache=False).logits[:, -1, :]
            top2 = torch.topk(last.double(), 2, dim=-1).values
            margins.append(float(top2[0, 0] - top2[0, 1]))
            nxt = last.argmax(dim=-1, keepdim=True)
            toks.append(nxt)
            seq = torch.cat([seq, nxt], dim=1)
    return torch.cat(toks, dim=1), margins


@torch.no_grad()
def cached_logits(model, ids: torch.Tensor) -> torch.Tensor:
    """Logits computed one token at a time through the KV cache (to compare with the full forward)."""
    past, outs = None, []
    for t in range(ids.shape[1]):
        out = model(input_ids=ids[:, t:t + 1], past_key_values=past, use_cache=True)
        past = out.past_key_values
        outs.append(out.logits)
    return torch.cat(outs, dim=1)


class Fp64Model:
    """Float64 copy of a model for reference runs.

    Quirk (transformers 4.46.3 + this torch): OPT's _make_causal_mask calls
    torch.full((n, n), torch.finfo(dtype).min) without a dtype, so under a float64 model
    the fill value overflows the default float32 dtype and torch raises.  Running with the
    default dtype set to float64 avoids it.
    """

    def __init__(self, model):
        self.m = copy.deepcopy(model).double()

    def __call__(self, *a, **kw):
        old = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            return self.m(*a, **kw)
        finally:
            torch.set_default_dtype(old)


def maxdiff(a, b) -> float:
    return float((a.double() - b.double()).abs().max())


@torch.no_grad()
def make_one(name: str) -> dict:
    folder = model_dir(name)
    model = load(name)
    cfg = model.config
    V = cfg.vocab_size
    real = name in REAL_MODELS
    gen = torch.Generator().manual_seed(seed_of(name, "inputs"))
    tensors: dict[str, torch.Tensor] = {}
    info: dict = {"inputs": {}}

    # ---- input_ids [2, 12]
    if real:
        tok = AutoTokenizer.from_pretrained(folder)
        row0 = tok(ROW0_TEXT, return_tensors="pt").input_ids[0]
        assert row0[0].item() == cfg.bos_token_id and row0.numel() >= SEQ, row0
        row0 = row0[:SEQ]
        row1 = rand_ids(gen, (SEQ,), 3, V)
        input_ids = torch.stack([row0, row1])
        info["inputs"]["row0"] = {"text": ROW0_TEXT, "note": f"tokenizer(text) with its BOS, first {SEQ} ids",
                                  "decoded": tok.decode(row0)}
        info["inputs"]["row1"] = f"torch.randint(3, {V}) seeded"
    else:
        input_ids = rand_ids(gen, (2, SEQ), 0, V)
        info["inputs"]["rows"] = f"torch.randint(0, {V}) seeded"
    tensors["input_ids"] = input_ids.contiguous()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    nthreads = torch.get_num_threads()
    logits = model(input_ids=input_ids).logits.float()
    tensors["logits"] = logits.contiguous()

    # ---- observed spreads
    obs = {}
    torch.set_num_threads(1)
    logits_1t = model(input_ids=input_ids).logits.float()
    torch.set_num_threads(nthreads)
    obs["max_abs_fp32_threads_%d_vs_1" % nthreads] = maxdiff(logits, logits_1t)
    obs["max_abs_fp32_repeat"] = maxdiff(logits, model(input_ids=input_ids).logits)
    m64 = Fp64Model(model)
    logits64 = m64(input_ids=input_ids).logits
    obs["max_abs_fp32_vs_fp64"] = maxdiff(logits, logits64)
    obs["max_abs_logit"] = float(logits.abs().max())
    obs["logit_std"] = float(logits.std())
    obs["max_abs_fp32_cached_vs_full"] = maxdiff(logits, cached_logits(model, input_ids))

    # ---- greedy
    if real:
        p = tok(PROMPT_TEXT, return_tensors="pt").input_ids[:, :PROMPT_LEN]
        assert p.shape[1] == PROMPT_LEN, p
        prompt = p
        info["inputs"]["greedy_prompt"] = {"text": PROMPT_TEXT, "note": f"first {PROMPT_LEN} ids incl. BOS",
                                           "decoded": tok.decode(prompt[0])}
        tokens, margins = greedy(model, prompt, NEW_TOKENS)
    else:
        for attempt in range(200):
            prompt = rand_ids(gen, (1, PROMPT_LEN), 0, V)
            tokens, margins = greedy(model, prompt, NEW_TOKENS)
            if min(margins) >= MIN_MARGIN:
                break
        else:
            raise RuntimeError(f"{name}: no prompt with greedy margins >= {MIN_MARGIN}")
        info["inputs"]["greedy_prompt"] = (f"torch.randint(0, {V}) seeded; attempt {attempt} (re-rolled until "
                                           f"every step's top1-top2 logit gap >= {MIN_MARGIN})")
    tensors["greedy_prompt"] = prompt.contiguous()
    tensors["greedy_tokens"] = tokens.contiguous()
    tok_nocache, _ = greedy(model, prompt, NEW_TOKENS, use_cache=False)
    tok64, _ = greedy(m64, prompt, NEW_TOKENS)
    obs["greedy_min_top1_top2_margin"] = min(margins)
    obs["greedy_same_without_cache"] = bool(torch.equal(tok_nocache, tokens))
    obs["greedy_same_in_fp64"] = bool(torch.equal(tok64, tokens))
    # cross-check against transformers' own generate (EOS disabled)
    gen_out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=NEW_TOKENS,
                             min_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1, eos_token_id=None,
                             pad_token_id=0)
    obs["greedy_same_as_generate"] = bool(torch.equal(gen_out[:, PROMPT_LEN:], tokens))
    if real:
        info["greedy_decoded"] = tok.decode(torch.cat([prompt, tokens], 1)[0])

    # ---- llama3 rope extras
    rs = getattr(cfg, "rope_scaling", None) or {}
    if rs.get("rope_type") == "llama3":
        orig = rs["original_max_position_embeddings"]
        assert LONG_LEN > orig and LONG_LEN <= cfg.max_position_embeddings
        long_ids = rand_ids(gen, (1, LONG_LEN), 0, V)
        long_logits = model(input_ids=long_ids).logits.float()
        tensors["long_input_ids"] = long_ids.contiguous()
        tensors["long_logits"] = long_logits.contiguous()
        obs["long_max_abs_fp32_vs_fp64"] = maxdiff(long_logits, m64(input_ids=long_ids).logits)
        inv, _ = ROPE_INIT_FUNCTIONS["llama3"](cfg, "cpu")
        inv_def, _ = ROPE_INIT_FUNCTIONS["default"](cfg, "cpu")
        tensors["rope_inv_freq"] = inv.float().contiguous()
        info["rope"] = {"inv_freq": inv.tolist(), "default_inv_freq": inv_def.tolist(),
                        "entries_differing_from_default": int((inv != inv_def).sum()),
                        "note": f"long_input_ids run to position {LONG_LEN - 1} > original_max_position_embeddings {orig}"}
        # rotary module in the loaded model must agree with the init function
        rot = model.model.rotary_emb.inv_freq
        assert torch.equal(rot.float(), inv.float())

    # ---- write
    GOLDENS_DIR.mkdir(parents=True, exist_ok=True)
    out = GOLDENS_DIR / f"{name}.safetensors"
    save_file(tensors, str(out), metadata={"model": rel(folder), "generator": "tools/goldens/make_model_goldens.py"})
    side = {
        "name": name,
        "model_folder": rel(folder),
        "model_safetensors_sha256": sha256_file(folder / "model.safetensors"),
        "config_json_sha256": sha256_file(folder / "config.json"),
        "versions": versions(),
        "protocol": {
            "dtype": "float32", "device": "cpu", "attn_implementation": "eager", "attention_mask": "none (all ones)",
            "greedy": f"{NEW_TOKENS} tokens, argmax of last logits fed back with past_key_values, no EOS stop",
        },
        "tensors": {k: {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)} for k, v in tensors.items()},
        "observed": obs,
        **info,
    }
    write_json(GOLDENS_DIR / f"{name}.json", side)
    print(f"[{name}] {out.stat().st_size} bytes; " + ", ".join(f"{k}={v}" for k, v in obs.items()))
    if real:
        print(f"    greedy: {info['greedy_decoded']!r}")
    return side


def make_rope_cases():
    """HF llama3 inverse frequencies for several configurations (tiny; no model needed)."""
    cases = [
        # name, head_dim, theta, factor, low, high, orig
        ("tiny_model_hd8_orig16", 8, 500000.0, 8.0, 1.0, 4.0, 16),
        ("hd8_orig32", 8, 500000.0, 8.0, 1.0, 4.0, 32),
        ("hd16_orig64", 16, 500000.0, 8.0, 1.0, 4.0, 64),
        ("llama31_8b_hd128", 128, 500000.0, 8.0, 1.0, 4.0, 8192),
        ("llama32_1b_hd64", 64, 500000.0, 32.0, 1.0, 4.0, 8192),
    ]
    tensors, meta = {}, {}
    for cname, hd, theta, factor, lo, hi, orig in cases:
        cfg = AutoConfig.for_model(
            "llama", hidden_size=hd * 2, num_attention_heads=2, num_key_value_heads=2, rope_theta=theta,
            max_position_embeddings=max(4 * orig, 64),
            rope_scaling={"rope_type": "llama3", "factor": factor, "low_freq_factor": lo,
                          "high_freq_factor": hi, "original_max_position_embeddings": orig})
        inv, _ = ROPE_INIT_FUNCTIONS["llama3"](cfg, "cpu")
        d, _ = ROPE_INIT_FUNCTIONS["default"](cfg, "cpu")
        wl = 2 * torch.pi / d
        n_keep = int((wl < orig / hi).sum())
        n_div = int((wl > orig / lo).sum())
        tensors[f"{cname}.inv_freq"] = inv.float().contiguous()
        tensors[f"{cname}.default_inv_freq"] = d.float().contiguous()
        meta[cname] = {"head_dim": hd, "rope_theta": theta, "factor": factor, "low_freq_factor": lo,
                       "high_freq_factor": hi, "original_max_position_embeddings": orig,
                       "n_unchanged": n_keep, "n_smoothed": hd // 2 - n_keep - n_div, "n_divided": n_div}
    save_file(tensors, str(GOLDENS_DIR / "rope_llama3_cases.safetensors"),
              metadata={"generator": "tools/goldens/make_model_goldens.py"})
    write_json(GOLDENS_DIR / "rope_llama3_cases.json",
               {"versions": versions(), "function": "transformers.modeling_rope_utils.ROPE_INIT_FUNCTIONS['llama3']",
                "tensors": "<case>.inv_freq and <case>.default_inv_freq, float32 [head_dim/2]", "cases": meta})
    print("[rope_llama3_cases] " + "; ".join(
        f"{k}: keep {v['n_unchanged']} smooth {v['n_smoothed']} div {v['n_divided']}" for k, v in meta.items()))


def main():
    names = RANDOM_MODELS + list(REAL_MODELS)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, choices=names + ["rope"])
    args = ap.parse_args()
    torch.manual_seed(0)
    for n in names:
        if not args.only or n in args.only:
            make_one(n)
    if not args.only or "rope" in args.only:
        make_rope_cases()


if __name__ == "__main__":
    main()
