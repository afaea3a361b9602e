#!/usr/bin/env python3
"""Write a random-weight checkpoint of a real model's shape, for the scale benchmarks (#12, #13).

    python3 tools/bench/make_random_model.py SHAPE OUT_DIR [--dtype bf16|fp16|fp32] [--seed N] [--layers N]

SHAPE is one of: opt-125m, opt-1.3b, llama-2-7b, llama-2-13b (the Hugging Face configs of
facebook/opt-125m, facebook/opt-1.3b, meta-llama/Llama-2-7b-hf, meta-llama/Llama-2-13b-hf);
--layers N keeps only the first N decoder layers (every tensor still of the real shape: a
Llama-2-7B with 8 layers fits fp32 speed runs on a 24 GB machine).
Linears and embeddings are N(0, 0.02) samples from numpy's PCG64 (seeded), norms are ones
(biases zeros), as transformers initialises them. To write tens of GB at disk speed, the samples
come from a pool of 32 Mi values read at a random offset per tensor (so values repeat with a
period of 32 Mi elements: fine for speed and memory benchmarks, not for statistics). The file is
streamed tensor by tensor, so the script needs ~300 MB of memory whatever the model size; a
Llama-2-13B-shaped bf16 file is 26 GB. Never commit the output.

Tokenizer files come from the repository's test data: OPT's BPE (tests/data/tokenizers/opt-bpe)
or Llama-2's sentencepiece model (tests/data/tokenizers/llama2-sentencepiece). Only numpy.
"""
from __future__ import annotations

import argparse
import json
import shutil
import struct
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

SHAPES = {
    "opt-125m": dict(arch="opt", hidden=768, layers=12, heads=12, ffn=3072, vocab=50272, max_pos=2048),
    "opt-1.3b": dict(arch="opt", hidden=2048, layers=24, heads=32, ffn=8192, vocab=50272, max_pos=2048),
    "llama-2-7b": dict(arch="llama", hidden=4096, layers=32, heads=32, kv_heads=32, ffn=11008, vocab=32000, max_pos=4096),
    "llama-2-13b": dict(arch="llama", hidden=5120, layers=40, heads=40, kv_heads=40, ffn=13824, vocab=32000, max_pos=4096),
}
DTYPES = {"bf16": ("BF16", "bfloat16"), "fp16": ("F16", "float16"), "fp32": ("F32", "float32")}


def config(shape: str, s: dict, torch_dtype: str) -> dict:
    name = f"random {shape}-shaped checkpoint" + (f" cut to {s['layers']} layers" if s["layers"] != SHAPES[shape]["layers"] else "")
    if s["arch"] == "opt":
        return {
            "_name_or_path": f"{name} (tools/bench/make_random_model.py)",
            "activation_function": "relu", "architectures": ["OPTForCausalLM"], "bos_token_id": 2,
            "do_layer_norm_before": True, "enable_bias": True, "eos_token_id": 2, "ffn_dim": s["ffn"],
            "hidden_size": s["hidden"], "layer_norm_elementwise_affine": True,
            "max_position_embeddings": s["max_pos"], "model_type": "opt",
            "num_attention_heads": s["heads"], "num_hidden_layers": s["layers"], "pad_token_id": 1,
            "tie_word_embeddings": True, "torch_dtype": torch_dtype, "vocab_size": s["vocab"],
            "word_embed_proj_dim": s["hidden"],
        }
    return {
        "_name_or_path": f"{name} (tools/bench/make_random_model.py)",
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "hidden_size": s["hidden"], "intermediate_size": s["ffn"],
        "max_position_embeddings": s["max_pos"], "model_type": "llama", "num_attention_heads": s["heads"],
        "num_hidden_layers": s["layers"], "num_key_value_heads": s["kv_heads"], "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "tie_word_embeddings": False, "torch_dtype": torch_dtype, "vocab_size": s["vocab"],
    }


def tensors(s: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, init) with init 'normal', 'ones' or 'zeros'."""
    H, F, V = s["hidden"], s["ffn"], s["vocab"]
    out: list[tuple[str, tuple[int, ...], str]] = []
    if s["arch"] == "opt":
        d = "model.decoder."
        out += [(d + "embed_tokens.weight", (V, H), "normal"), (d + "embed_positions.weight", (s["max_pos"] + 2, H), "normal")]
        for i in range(s["layers"]):
            l = f"{d}layers.{i}."
            for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
                out += [(l + f"self_attn.{p}.weight", (H, H), "normal"), (l + f"self_attn.{p}.bias", (H,), "zeros")]
            out += [(l + "self_attn_layer_norm.weight", (H,), "ones"), (l + "self_attn_layer_norm.bias", (H,), "zeros")]
            out += [(l + "fc1.weight", (F, H), "normal"), (l + "fc1.bias", (F,), "zeros")]
            out += [(l + "fc2.weight", (H, F), "normal"), (l + "fc2.bias", (H,), "zeros")]
            out += [(l + "final_layer_norm.weight", (H,), "ones"), (l + "final_layer_norm.bias", (H,), "zeros")]
        out += [(d + "final_layer_norm.weight", (H,), "ones"), (d + "final_layer_norm.bias", (H,), "zeros")]
        return out
    kvd = s["kv_heads"] * (H // s["heads"])
    out.append(("model.embed_tokens.weight", (V, H), "normal"))
    for i in range(s["layers"]):
        l = f"model.layers.{i}."
        out += [(l + "self_attn.q_proj.weight", (H, H), "normal"), (l + "self_attn.k_proj.weight", (kvd, H), "normal"),
                (l + "self_attn.v_proj.weight", (kvd, H), "normal"), (l + "self_attn.o_proj.weight", (H, H), "normal"),
                (l + "mlp.gate_proj.weight", (F, H), "normal"), (l + "mlp.up_proj.weight", (F, H), "normal"),
                (l + "mlp.down_proj.weight", (H, F), "normal"), (l + "input_layernorm.weight", (H,), "ones"),
                (l + "post_attention_layernorm.weight", (H,), "ones")]
    out += [("model.norm.weight", (H,), "ones"), ("lm_head.weight", (V, H), "normal")]
    return out


def encode(x: np.ndarray, st_dtype: str) -> bytes:
    if st_dtype == "F32":
        return x.astype("<f4").tobytes()
    if st_dtype == "F16":
        return x.astype("<f2").tobytes()
    u = x.astype(np.float32).view(np.uint32)  # bf16: round to nearest even on the upper 16 bits
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype("<u2").tobytes()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shape", choices=sorted(SHAPES))
    ap.add_argument("out", type=Path)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=0, help="decoder layers (default: the shape's)")
    a = ap.parse_args()
    s = dict(SHAPES[a.shape])
    if a.layers:
        if not 0 < a.layers <= s["layers"]:
            ap.error(f"--layers must be in 1..{s['layers']}")
        s["layers"] = a.layers
    st_dtype, torch_dtype = DTYPES[a.dtype]
    esize = {"F32": 4, "F16": 2, "BF16": 2}[st_dtype]
    specs = tensors(s)
    header: dict = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape, _ in specs:
        n = int(np.prod(shape)) * esize
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (len(h) + 8) % 8) % 8)
    a.out.mkdir(parents=True, exist_ok=True)
    tmp = a.out / "model.safetensors.tmp"
    rng = np.random.Generator(np.random.PCG64(a.seed))
    pool_n = 1 << 25
    pool = encode(rng.standard_normal(pool_n, dtype=np.float32) * np.float32(0.02), st_dtype)
    consts = {v: encode(np.full(1 << 20, v, dtype=np.float32), st_dtype) for v in (0.0, 1.0)}
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for i, (name, shape, init) in enumerate(specs):
            n = int(np.prod(shape)) * esize
            if init == "normal":
                src, pos = pool, int(rng.integers(0, pool_n)) * esize
            else:
                src, pos = consts[1.0 if init == "ones" else 0.0], 0
            while n > 0:
                k = min(n, len(src) - pos)
                f.write(src[pos:pos + k])
                n -= k
                pos = 0
            if i % 50 == 0:
                print(f"{i + 1}/{len(specs)} {name}", flush=True)
    tmp.replace(a.out / "model.safetensors")
    (a.out / "config.json").write_text(json.dumps(config(a.shape, s, torch_dtype), indent=2) + "\n")
    if s["arch"] == "opt":
        for f in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(ROOT / "tests/data/tokenizers/opt-bpe" / f, a.out / f)
    else:
        shutil.copy(ROOT / "tests/data/tokenizers/llama2-sentencepiece/tokenizer.model", a.out / "tokenizer.model")
        (a.out / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "LlamaTokenizer", "add_bos_token": True,
                                                                  "bos_token": "<s>", "eos_token": "</s>",
                                                                  "unk_token": "<unk>"}) + "\n")
    print(f"wrote {a.out} ({(off + 8 + len(h)) / 2**30:.2f} GiB, {a.shape}, {a.dtype})")


if __name__ == "__main__":
    main()
