#!/usr/bin/env python3
"""Perplexity of a QuaRot R1 rotation + symmetric RTN W4 per-tensor, by QuaRot's own code (#16 item 7).

    python tools/goldens/make_quarot_ppl.py --quarot PATH/TO/QuaRot

The independent reference for the README row "Hadamard rotation + RTN W4 per-tensor (sym)" and for
tests/engine/test_rotation_seeds.cpp. PATH/TO/QuaRot is a checkout of https://github.com/spcl/QuaRot
(made at commit 5008669b08c1f11f9b64d52d16fddd47ca754c5a). Its fake_quant/rotation_utils.py is imported
(the CUDA-only fast_hadamard_transform replaced by an empty module) and used as is:
fuse_layer_norms, rotate_embeddings, rotate_attention_inputs, rotate_attention_output,
rotate_mlp_input, rotate_head; R = hadamard_utils.matmul_hadU(diag(s)) (the body of
random_hadamard_matrix) with the sign vector s QuantScope draws for the seed (its xoshiro256**
generator, ported below: s_i = -1 when bit 63 of the i-th draw is set).

What QuantScope does differently from QuaRot's full pipeline, and so is left out here: only R1 (the
residual stream). rotate_mlp_output is replaced by its first half (W = Q^T W for down_proj), without
QuaRot's extra online Hadamard on down_proj's input (R4), and rotate_ov_proj (R2) is not applied.
The tied TinyStories head is untied first (QuaRot assumes untied LLaMA-2 heads), QuaRot's RMSN
gets each model's rms_norm_eps (it defaults to 1e-5), and the embeddings are not mean-centred
(QuaRot centres them for every model; exact only before a LayerNorm): with these, the rotated fp32
model keeps its perplexity (rotate_fp32_seed* = fp32).

Then every decoder Linear is quantized RTN W4 per tensor, symmetric, as QuantScope's seed formula
(s = max|w| / 7, q = clamp(round(w / s), -8, 7)), and the wikitext-2 perplexity is taken over
NSAMPLES windows of 512 tokens (make_ppl_goldens.py's protocol).

Writes tests/data/goldens/quarot_ppl.json.
"""
from __future__ import annotations

import argparse
import importlib
import math
import subprocess
import sys
import types
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import GOLDENS_DIR, REPO, model_dir, versions, write_json  # noqa: E402

MODELS = ["TinyStories-656K", "stories260K"]
SEEDS = [0, 1, 7]
SEQLEN, NSAMPLES = 512, 10
MASK = (1 << 64) - 1


class Rng:
    """QuantScope's qs::Rng (engine/models/generate.cpp): splitmix64 seeding, xoshiro256**."""

    def __init__(self, seed: int):
        x, self.s = seed, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & MASK

    def next(self) -> int:
        s = self.s
        result = (self.rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result


def signs(n: int, seed: int) -> torch.Tensor:
    r = Rng(seed)
    return torch.tensor([-1.0 if (r.next() >> 63) else 1.0 for _ in range(n)], dtype=torch.float64)


def load_quarot(root: Path):
    fht = types.ModuleType("fast_hadamard_transform")
    fht.hadamard_transform = None
    sys.modules.setdefault("fast_hadamard_transform", fht)
    sys.path.insert(0, str(root / "fake_quant"))
    return importlib.import_module("rotation_utils"), importlib.import_module("hadamard_utils"), \
        importlib.import_module("model_utils"), importlib.import_module("utils")


def wikitext_ids(name: str) -> torch.Tensor:
    import zstandard
    from transformers import AutoTokenizer
    raw = zstandard.ZstdDecompressor().stream_reader(
        open(REPO / "resources" / "data" / "wikitext-2-raw-v1" / "wiki.test.raw.zst", "rb")).read().decode("utf-8")
    rows = ["" if ln.strip() == "" else ln + "\n" for ln in raw.split("\n")[:-1]]
    tok = AutoTokenizer.from_pretrained(model_dir(name))
    return torch.tensor([tok.bos_token_id] + tok("\n\n".join(rows), add_special_tokens=False).input_ids)


@torch.no_grad()
def ppl(model, ids: torch.Tensor) -> float:
    total = 0.0
    for i in range(NSAMPLES):
        x = ids[i * SEQLEN:(i + 1) * SEQLEN].unsqueeze(0)
        total += float(F.cross_entropy(model(input_ids=x, use_cache=False).logits[0, :-1].float(), x[0, 1:])) * SEQLEN
    return math.exp(total / (NSAMPLES * SEQLEN))


@torch.no_grad()
def rtn_w4_per_tensor_sym(model) -> None:
    for n, m in model.named_modules():
        if isinstance(m, torch.nn.Linear) and n.startswith("model.layers."):
            w = m.weight.data
            s = w.abs().max().clamp(min=1e-5) / 7
            m.weight.data = torch.clamp(torch.round(w / s), -8, 7) * s


@torch.no_grad()
def rotated(name: str, seed: int | None, ru, hu, mu):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(model_dir(name), torch_dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    if seed is None:
        return model
    if model.config.tie_word_embeddings:
        model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.data.clone())
        model.config.tie_word_embeddings = False
    embed = model.model.embed_tokens.weight.data.clone()
    ru.fuse_layer_norms(model)
    # QuaRot's fuse_layer_norms mean-centres the embeddings for every model; that is exact only
    # before a LayerNorm (OPT). For RMSNorm models it changes the function (TinyStories-656K: ppl
    # 629.6 -> 637.1 with no quantization), which QuantScope does not do: undo it.
    model.model.embed_tokens.weight.data = embed
    for mod in model.modules():
        if isinstance(mod, mu.RMSN):
            mod.eps = model.config.rms_norm_eps
    n = model.config.hidden_size
    q = hu.matmul_hadU(torch.diag(signs(n, seed)))  # = random_hadamard_matrix with these signs
    mt = mu.model_type_extractor(model)
    ru.rotate_embeddings(model, q)
    for layer in model.model.layers:
        ru.rotate_attention_inputs(layer, q, mt)
        ru.rotate_attention_output(layer, q, mt)
        ru.rotate_mlp_input(layer, q, mt)
        w = layer.mlp.down_proj  # rotate_mlp_output without QuaRot's online Hadamard (R4)
        w.weight.data = torch.matmul(q.T, w.weight.data.double()).float()
    ru.rotate_head(model, q)
    return model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quarot", type=Path, required=True)
    a = ap.parse_args()
    ru, hu, mu, ut = load_quarot(a.quarot)
    ut.DEV = torch.device("cpu")
    out = {"models": {}}
    for name in MODELS:
        ids = wikitext_ids(name)
        e = {}
        base = rotated(name, None, ru, hu, mu)
        e["fp32"] = ppl(base, ids)
        rtn_w4_per_tensor_sym(base)
        e["rtn_w4_per_tensor_sym"] = ppl(base, ids)
        for seed in SEEDS:
            m = rotated(name, seed, ru, hu, mu)
            e[f"rotate_fp32_seed{seed}"] = ppl(m, ids)
            rtn_w4_per_tensor_sym(m)
            e[f"hadamard_seed{seed}_rtn_w4_per_tensor_sym"] = ppl(m, ids)
        print(name, e, flush=True)
        out["models"][name] = e
    out.update({"what": "QuaRot R1 (randomized Hadamard, QuantScope's signs) + RTN W4 per-tensor symmetric; "
                        f"wikitext-2 ppl, {NSAMPLES} windows of {SEQLEN}",
                "made_by": "tools/goldens/make_quarot_ppl.py",
                "quarot_commit": subprocess.run(["git", "-C", str(a.quarot), "rev-parse", "HEAD"], capture_output=True,
                                                text=True).stdout.strip(),
                "seqlen": SEQLEN, "nsamples": NSAMPLES, "versions": versions()})
    write_json(GOLDENS_DIR / "quarot_ppl.json", out)


if __name__ == "__main__":
    main()
