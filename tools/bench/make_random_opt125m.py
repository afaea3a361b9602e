#!/usr/bin/env python3
"""Write a random-weight, OPT-125m-shaped fp32 checkpoint (for the load-memory benchmark).

Shape of facebook/opt-125m: hidden 768, 12 layers, 12 heads, FFN 3072, vocab 50272,
max_position_embeddings 2048 (embed_positions has 2048 + 2 rows), pre-LN, final layer
norm, biases everywhere, lm_head tied to the embedding (so not stored, as save_pretrained
does). 125,239,296 parameters, about 501 MB of fp32.

The weights are N(0, 0.02) from numpy's PCG64 seeded with --seed; the file is written
tensor by tensor, so the script needs little memory. Only numpy + struct + json; without numpy
(e.g. a bare PyTorch environment, tools/gpu_check.sh) torch's generator makes them instead
(same shapes and distribution, other values).

    python3 tools/bench/make_random_opt125m.py [OUT_DIR]   (default tools/bench/out/opt125m-random)
"""
from __future__ import annotations

import argparse
import ctypes
import json
import math
import struct
from pathlib import Path

try:
    import numpy as np
except ImportError:  # a PyTorch-only environment
    np = None

HIDDEN, LAYERS, HEADS, FFN, VOCAB, MAX_POS = 768, 12, 12, 3072, 50272, 2048

CONFIG = {
    "_name_or_path": "random OPT-125m-shaped checkpoint (tools/bench/make_random_opt125m.py)",
    "activation_dropout": 0.0,
    "activation_function": "relu",
    "architectures": ["OPTForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 2,
    "do_layer_norm_before": True,
    "dropout": 0.1,
    "enable_bias": True,
    "eos_token_id": 2,
    "ffn_dim": FFN,
    "hidden_size": HIDDEN,
    "init_std": 0.02,
    "layer_norm_elementwise_affine": True,
    "layerdrop": 0.0,
    "max_position_embeddings": MAX_POS,
    "model_type": "opt",
    "num_attention_heads": HEADS,
    "num_hidden_layers": LAYERS,
    "pad_token_id": 1,
    "prefix": "</s>",
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "use_cache": True,
    "vocab_size": VOCAB,
    "word_embed_proj_dim": HIDDEN,
}


def tensor_specs() -> list[tuple[str, tuple[int, ...]]]:
    d = "model.decoder."
    specs = [(d + "embed_tokens.weight", (VOCAB, HIDDEN)), (d + "embed_positions.weight", (MAX_POS + 2, HIDDEN))]
    for i in range(LAYERS):
        l = f"{d}layers.{i}."
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            specs += [(f"{l}self_attn.{p}.weight", (HIDDEN, HIDDEN)), (f"{l}self_attn.{p}.bias", (HIDDEN,))]
        specs += [(l + "self_attn_layer_norm.weight", (HIDDEN,)), (l + "self_attn_layer_norm.bias", (HIDDEN,))]
        specs += [(l + "fc1.weight", (FFN, HIDDEN)), (l + "fc1.bias", (FFN,))]
        specs += [(l + "fc2.weight", (HIDDEN, FFN)), (l + "fc2.bias", (HIDDEN,))]
        specs += [(l + "final_layer_norm.weight", (HIDDEN,)), (l + "final_layer_norm.bias", (HIDDEN,))]
    specs += [(d + "final_layer_norm.weight", (HIDDEN,)), (d + "final_layer_norm.bias", (HIDDEN,))]
    return specs


_rng = None


def values(kind: str, shape: tuple[int, ...], seed: int) -> bytes:
    """float32 little-endian bytes: ones, zeros or N(0, 0.02) from the seeded generator."""
    global _rng
    if np is not None:
        if _rng is None:
            _rng = np.random.default_rng(seed)
        t = {"ones": lambda: np.ones(shape, dtype=np.float32), "zeros": lambda: np.zeros(shape, dtype=np.float32),
             "normal": lambda: _rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)}[kind]()
        return t.astype("<f4", copy=False).tobytes()
    import torch
    if _rng is None:
        _rng = torch.Generator().manual_seed(seed)
    t = {"ones": lambda: torch.ones(shape), "zeros": lambda: torch.zeros(shape),
         "normal": lambda: torch.randn(shape, generator=_rng) * 0.02}[kind]().contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * 4)  # x86/arm: little-endian


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default=str(here / "out" / "opt125m-random"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    specs = tensor_specs()
    header: dict = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, shape in specs:
        n = 4 * math.prod(shape)
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)

    path = out / "model.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name, shape in specs:
            kind = "ones" if name.endswith("layer_norm.weight") else "zeros" if name.endswith(".bias") else "normal"
            f.write(values(kind, shape, args.seed))
    (out / "config.json").write_text(json.dumps(CONFIG, indent=2) + "\n")
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": 2, "eos_token_id": 2, "pad_token_id": 1}, indent=2) + "\n")
    params = off // 4
    print(f"wrote {path}: {path.stat().st_size:,} bytes, {len(specs)} tensors, {params:,} parameters")


if __name__ == "__main__":
    main()
