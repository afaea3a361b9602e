#!/usr/bin/env python3
"""Independent Python reference of the quantization methods QuantScope implements in C++.

Written from the published algorithms, on top of Hugging Face transformers' own LLaMA classes
(nothing here calls or ports QuantScope's C++):
  * pseudo-quantization: llm-awq awq/quantize/quantizer.py pseudo_quantize_tensor (asym / sym,
    per group along the input dimension). Extension (QuantScope convention): a row whose
    length is not a multiple of the group size gets a SHORTER LAST GROUP (llm-awq would assert).
  * salient-channel experiments (keep 1% in fp32; scale 1% by s, quantize, scale back):
    the AWQ teaching notebook (seed 002), importance = mean |x| over all calibration tokens.
  * AWQ auto-scale / auto-clip: llm-awq awq/quantize/pre_quant.py run_awq, auto_scale.py
    (auto_scale_block, _search_module_scale, scale_ln_fcs, scale_fc_fc, apply_scale),
    auto_clip.py (auto_clip_layer, auto_clip_block, apply_clip); AutoAWQ's duo_scaling weight
    term (awq/quantize/quantizer.py _search_best_scale) as an option.
  * SmoothQuant: smoothquant/smooth.py smooth_ln_fcs (LLaMA: input_layernorm -> q/k/v,
    post_attention_layernorm -> gate/up) and smoothquant/fake_quant.py W8A8Linear /
    quantize_llama_like (weights per-channel absmax, activations per-token or per-tensor absmax,
    optional quantization of the q/k/v outputs = BMM inputs).
  * perplexity: docs/notes.md §6 protocol (single BOS, one tokenization, non-overlapping windows,
    mean CE of logits[:-1] vs ids[1:]); here seqlen 512, 10 windows.

Calibration: resources/data/calibration/tinyshakespeare.txt.zst, the whole text (bytes as
stored, decoded as UTF-8, no newline translation) tokenized once with the model's
tokenizer.json (`tokenizers` library) WITHOUT BOS, cut into consecutive blocks of 256 tokens,
the first 32 blocks kept.

Writes tests/data/goldens/quant_reference.json (read by tests/engine/test_quant_reference.cpp).

    /work/pyenv/venv/bin/python tools/goldens/quant_reference.py
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import zstandard
from tokenizers import Tokenizer

import transformers
from transformers import LlamaForCausalLM

transformers.logging.set_verbosity_error()
torch.set_grad_enabled(False)

REPO = Path(__file__).resolve().parents[2]
MODELS = {
    "TinyStories-656K": REPO / "resources" / "models" / "TinyStories-656K",
    "stories260K": REPO / "tests" / "data" / "models" / "stories260K",
}
CALIB_FILE = REPO / "resources" / "data" / "calibration" / "tinyshakespeare.txt.zst"
WIKI_FILE = REPO / "resources" / "data" / "wikitext-2-raw-v1" / "wiki.test.raw.zst"
OUT = REPO / "tests" / "data" / "goldens" / "quant_reference.json"

CALIB_SAMPLES, CALIB_SEQLEN = 32, 256
EVAL_SEQLEN, EVAL_WINDOWS = 512, 10
N_GRID = 20

# Perturbations for the sensitivity runs only (see run_model): the attention implementation
# (another summation order of the same forward) and a relative nudge of AWQ's mean |x|.
ATTN_IMPL = "eager"
XMEAN_EPS = 0.0


# --------------------------------------------------------------------------------------------
# data


def read_zst_text(path: Path) -> str:
    with open(path, "rb") as f:
        raw = zstandard.ZstdDecompressor().stream_reader(f).read()
    return raw.decode("utf-8")  # strict; bytes as stored (no newline translation)


def wikitext_text() -> str:
    """HF wikitext-2-raw-v1 test rows: lines of wiki.test.raw (universal newlines, like Python text
    mode), whitespace-only lines as "", others keeping their trailing "\\n"; joined with "\\n\\n"."""
    text = read_zst_text(WIKI_FILE).replace("\r\n", "\n").replace("\r", "\n")
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    rows = ["" if ln.strip() == "" else ln + "\n" for ln in lines]
    assert len(rows) == 4358 and sum(r == "" for r in rows) == 1467
    return "\n\n".join(rows)


def load_tokenizer(name: str) -> Tokenizer:
    return Tokenizer.from_file(str(MODELS[name] / "tokenizer.json"))


def calibration_blocks(tok: Tokenizer) -> torch.Tensor:
    ids = tok.encode(read_zst_text(CALIB_FILE), add_special_tokens=False).ids
    n = min(CALIB_SAMPLES, len(ids) // CALIB_SEQLEN)
    assert n == CALIB_SAMPLES
    return torch.tensor(ids[: n * CALIB_SEQLEN], dtype=torch.int64).view(n, CALIB_SEQLEN)


def eval_ids(tok: Tokenizer, bos: int, text: str) -> torch.Tensor:
    body = tok.encode(text, add_special_tokens=False).ids
    ids = [bos] + body
    assert tok.encode(text).ids == ids  # the post-processor adds exactly one BOS
    return torch.tensor(ids, dtype=torch.int64)


# --------------------------------------------------------------------------------------------
# model helpers


def load_model(name: str) -> LlamaForCausalLM:
    return LlamaForCausalLM.from_pretrained(MODELS[name], torch_dtype=torch.float32,
                                            attn_implementation=ATTN_IMPL).eval()


def decoder_linears(model) -> dict[str, nn.Linear]:
    return {n: m for n, m in model.named_modules()
            if isinstance(m, nn.Linear) and n.startswith("model.layers.")}


def perplexity(model, ids: torch.Tensor) -> float:
    nlls = []
    for i in range(EVAL_WINDOWS):
        batch = ids[i * EVAL_SEQLEN:(i + 1) * EVAL_SEQLEN].unsqueeze(0)
        logits = model(input_ids=batch, use_cache=False).logits
        nlls.append(float(F.cross_entropy(logits[0, :-1, :].float(), batch[0, 1:])))
    return math.exp(math.fsum(n * EVAL_SEQLEN for n in nlls) / (EVAL_WINDOWS * EVAL_SEQLEN))


def calibration_stats(model, blocks: torch.Tensor) -> dict[str, dict]:
    """Per input channel of every decoder Linear: mean |x| over all calibration tokens (sum in
    float64) and max |x|."""
    acc: dict[str, dict] = {}

    def hook(m, inp, out, name):
        x = inp[0].reshape(-1, inp[0].shape[-1]).abs().float()
        a = acc.setdefault(name, {"sum": torch.zeros(x.shape[-1], dtype=torch.float64),
                                  "max": torch.zeros(x.shape[-1]), "n": 0})
        a["sum"] += x.sum(0, dtype=torch.float64)
        a["max"] = torch.maximum(a["max"], x.amax(0))
        a["n"] += x.shape[0]

    hs = [m.register_forward_hook(lambda m, i, o, n=n: hook(m, i, o, n)) for n, m in decoder_linears(model).items()]
    for i in range(0, blocks.shape[0], 4):
        model(blocks[i:i + 4], use_cache=False)
    for h in hs:
        h.remove()
    return {n: {"mean_abs": (a["sum"] / a["n"]).float(), "max_abs": a["max"], "tokens": a["n"]} for n, a in acc.items()}


# --------------------------------------------------------------------------------------------
# pseudo-quantization (llm-awq quantizer.py, with a shorter last group)


def _quant_rows(w: torch.Tensor, n_bit: int, sym: bool) -> torch.Tensor:
    """Each row of w (float32, 2-D) is one quantization group; returns (q - z) * s."""
    if sym:
        max_val = w.abs().amax(dim=1, keepdim=True)
        max_int, min_int = 2 ** (n_bit - 1) - 1, -(2 ** (n_bit - 1))
        scales = max_val.clamp(min=1e-5) / max_int
        zeros = torch.zeros_like(scales)
    else:
        max_val = w.amax(dim=1, keepdim=True)
        min_val = w.amin(dim=1, keepdim=True)
        max_int, min_int = 2 ** n_bit - 1, 0
        scales = (max_val - min_val).clamp(min=1e-5) / max_int
        zeros = (-torch.round(min_val / scales)).clamp_(min_int, max_int)
    q = torch.clamp(torch.round(w / scales) + zeros, min_int, max_int)
    return (q - zeros) * scales


def pseudo_quantize(w: torch.Tensor, n_bit: int, group: int, sym: bool = False) -> torch.Tensor:
    """group > 0: groups of `group` consecutive input columns per row, shorter last group;
    group == 0: per output channel; group < 0: per tensor."""
    dt = w.dtype
    w = w.float()
    R, C = w.shape
    if group < 0:
        return _quant_rows(w.reshape(1, -1), n_bit, sym).view(R, C).to(dt)
    if group == 0 or group >= C:
        return _quant_rows(w, n_bit, sym).to(dt)
    full, tail = C // group, C % group
    parts = [_quant_rows(w[:, :full * group].reshape(-1, group), n_bit, sym).view(R, full * group)]
    if tail:
        parts.append(_quant_rows(w[:, full * group:], n_bit, sym))
    return torch.cat(parts, 1).to(dt)


def group_ranges(C: int, group: int) -> list[tuple[int, int]]:
    g = C if group <= 0 else min(group, C)
    return [(c, min(g, C - c)) for c in range(0, C, g)]


# --------------------------------------------------------------------------------------------
# RTN and the seed notebook's salient-channel experiments


def rtn(model, n_bit, group):
    for m in decoder_linears(model).values():
        m.weight.data = pseudo_quantize(m.weight.data, n_bit, group)


def salient(importance: torch.Tensor, fraction: float) -> torch.Tensor:
    k = int(len(importance) * fraction)  # the seed: int(len(importance) * 0.01)
    return torch.topk(importance, k=k)[1]


def awq_keep(model, stats, n_bit, group, fraction):
    for n, m in decoder_linears(model).items():
        idx = salient(stats[n]["mean_abs"], fraction)
        w = m.weight.data.clone()
        q = pseudo_quantize(w, n_bit, group)
        q[:, idx] = w[:, idx]
        m.weight.data = q


def awq_scale(model, stats, n_bit, group, fraction, factor):
    for n, m in decoder_linears(model).items():
        idx = salient(stats[n]["mean_abs"], fraction)
        w = m.weight.data.clone()
        w[:, idx] *= factor
        w = pseudo_quantize(w, n_bit, group)
        w[:, idx] /= factor
        m.weight.data = w


# --------------------------------------------------------------------------------------------
# llm-awq auto_scale + auto_clip


def _duo_weight_mean(linears, group):
    # AutoAWQ: w = cat(weights); per quantization group |w| / (max|w| + 1e-6); mean over rows.
    w = torch.cat([fc.weight.data for fc in linears], dim=0).abs().float()
    cols = []
    for c0, k in group_ranges(w.shape[1], group):
        g = w[:, c0:c0 + k]
        cols.append(g / (g.amax(dim=1, keepdim=True) + 1e-6))
    return torch.cat(cols, 1).mean(0)


def search_module_scale(block, linears2scale, x, kwargs, n_bit, group, duo):
    """llm-awq _search_module_scale; returns (best scales, loss history, best index)."""
    org_out = block(x, **kwargs)
    if isinstance(org_out, tuple):
        org_out = org_out[0]
    x_max = x.abs().view(-1, x.shape[-1]).mean(0)  # get_act_scale
    if XMEAN_EPS:
        x_max = x_max * (1 + XMEAN_EPS)
    w_mean = _duo_weight_mean(linears2scale, group) if duo else None
    best_error, best_ratio, best_scales, best_idx = float("inf"), -1, None, -1
    history = []
    org_sd = {k: v.clone() for k, v in block.state_dict().items()}
    for r in range(N_GRID):
        ratio = r * 1 / N_GRID
        if duo:
            scales = (x_max.pow(ratio) / (w_mean.pow(1 - ratio) + 1e-4)).clamp(min=1e-4)
        else:
            scales = x_max.pow(ratio).clamp(min=1e-4).view(-1)
        scales = scales / (scales.max() * scales.min()).sqrt()
        scales[torch.isinf(scales)] = 1
        scales[torch.isnan(scales)] = 1
        for fc in linears2scale:
            fc.weight.mul_(scales.view(1, -1))
            fc.weight.data = pseudo_quantize(fc.weight.data, n_bit, group) / scales.view(1, -1)
        out = block(x, **kwargs)
        if isinstance(out, tuple):
            out = out[0]
        loss = (org_out - out).float().pow(2).mean().item()
        history.append(loss)
        if loss < best_error:
            best_error, best_ratio, best_scales, best_idx = loss, ratio, scales.clone(), r
        block.load_state_dict(org_sd)
    assert best_ratio != -1, history
    return best_scales.view(-1), history, best_idx


def scale_ln_fcs(ln, fcs, scales):
    ln.weight.div_(scales)
    if getattr(ln, "bias", None) is not None:
        ln.bias.div_(scales)
    for fc in fcs:
        fc.weight.mul_(scales.view(1, -1))


def scale_fc_fc(fc1, fc2, scales):
    fc1.weight[-scales.size(0):].div_(scales.view(-1, 1))
    if fc1.bias is not None:
        fc1.bias.div_(scales.view(-1))
    fc2.weight.mul_(scales.view(1, -1))


def auto_clip_layer(w, input_feat, n_bit, group, max_shrink=0.5, n_sample_token=512):
    """llm-awq auto_clip_layer, per group range (shorter last group handled as its own group)."""
    x_all = input_feat.view(-1, input_feat.shape[-1])
    x_all = x_all[0::max(1, x_all.shape[0] // n_sample_token)]
    best_cols = []
    for c0, k in group_ranges(w.shape[1], group):
        x = x_all[:, c0:c0 + k].reshape(1, x_all.shape[0], 1, k)   # [1, n_token, 1, gs]
        wg = w[:, c0:c0 + k].reshape(w.shape[0], 1, 1, k)          # [co, 1, 1, gs]
        org_max_val = wg.abs().amax(dim=-1, keepdim=True)          # [co, 1, 1, 1]
        best_max_val = org_max_val.clone()
        min_errs = torch.ones_like(org_max_val) * 1e9
        org_out = (x * wg).sum(dim=-1)                             # [co, n_token, 1]
        for i_s in range(int(max_shrink * N_GRID)):
            max_val = org_max_val * (1 - i_s / N_GRID)
            cur_w = torch.clamp(wg, -max_val, max_val)
            q_w = pseudo_quantize(cur_w.reshape(-1, k), n_bit, k).view(cur_w.shape)
            cur_out = (x * q_w).sum(dim=-1)
            err = (cur_out - org_out).pow(2).mean(dim=1).view(min_errs.shape)
            cur_best = err < min_errs
            min_errs[cur_best] = err[cur_best]
            best_max_val[cur_best] = max_val[cur_best]
        best_cols.append(best_max_val.view(-1, 1))
    return torch.cat(best_cols, 1)  # [co, n_groups]


def apply_clip(layer, max_val, group):
    w = layer.weight.data
    cols = []
    for gi, (c0, k) in enumerate(group_ranges(w.shape[1], group)):
        m = max_val[:, gi:gi + 1]
        cols.append(torch.clamp(w[:, c0:c0 + k], -m, m))
    layer.weight.data = torch.cat(cols, 1)


def first_layer_inputs(model, layers, samples):
    """llm-awq's Catcher: runs the model on `samples` up to the first decoder layer and returns
    that layer's input hidden states and keyword arguments (use_cache off)."""
    inps, layer_kwargs = [], {}

    class Catcher(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, inp, **kwargs):
            inps.append(inp)
            layer_kwargs.update(kwargs)
            raise ValueError

    layers[0] = Catcher(layers[0])
    try:
        model(samples, use_cache=False)
    except ValueError:
        pass
    layers[0] = layers[0].module
    layer_kwargs["use_cache"] = False
    return inps[0], layer_kwargs


def run_awq(model, samples, n_bit, group, clip, duo):
    """llm-awq run_awq (auto_scale=True, mse_range=clip) followed by pseudo-quantization of every
    decoder Linear. Returns the searched groups and the clip values."""
    layers = model.model.layers
    inps, layer_kwargs = first_layer_inputs(model, layers, samples)

    groups, clips = [], {}
    for i, layer in enumerate(layers):
        named = {n: m for n, m in layer.named_modules() if isinstance(m, nn.Linear)}
        feat: dict[str, list] = {n: [] for n in named}
        hs = [m.register_forward_hook(lambda m, x, y, n=n: feat[n].append(x[0].detach().clone()))
              for n, m in named.items()]
        outs = layer(inps, **layer_kwargs)[0]
        for h in hs:
            h.remove()
        input_feat = {k: torch.cat(v, dim=0) for k, v in feat.items()}

        # auto_scale_block (LLaMA): all groups searched with the original weights, then applied
        at, mlp = layer.self_attn, layer.mlp
        specs = [("input_layernorm", [at.q_proj, at.k_proj, at.v_proj], ["self_attn.q_proj", "self_attn.k_proj",
                  "self_attn.v_proj"], at, layer_kwargs, "self_attn.q_proj", "self_attn")]
        if at.v_proj.weight.shape == at.o_proj.weight.shape:
            specs.append(("self_attn.v_proj", [at.o_proj], ["self_attn.o_proj"], at.o_proj, {}, "self_attn.o_proj",
                          "self_attn.o_proj"))
        specs.append(("post_attention_layernorm", [mlp.gate_proj, mlp.up_proj], ["mlp.gate_proj", "mlp.up_proj"], mlp,
                      {}, "mlp.gate_proj", "mlp"))
        specs.append(("mlp.up_proj", [mlp.down_proj], ["mlp.down_proj"], mlp.down_proj, {}, "mlp.down_proj",
                      "mlp.down_proj"))
        scales_list = []
        for prev, fcs, names, inspect, kw, inp_name, inspected in specs:
            s, hist, best = search_module_scale(inspect, fcs, input_feat[inp_name], kw, n_bit, group, duo)
            scales_list.append((prev, names, s))
            groups.append({"block": i, "prev_op": f"model.layers.{i}.{prev}",
                           "linears": [f"model.layers.{i}.{n}" for n in names],
                           "inspected": f"model.layers.{i}.{inspected}", "loss": hist, "best": best, "scales": s})
        # apply_scale with input_feat_dict
        for prev, names, s in scales_list:
            prev_op = layer.get_submodule(prev)
            fcs = [layer.get_submodule(n) for n in names]
            if isinstance(prev_op, nn.Linear):
                scale_fc_fc(prev_op, fcs[0], s)
            else:
                scale_ln_fcs(prev_op, fcs, s)
            for n in names:
                input_feat[n] = input_feat[n] / s.view(1, -1)
        # auto_clip_block + apply_clip
        if clip:
            for n, m in named.items():
                if any(t in n for t in ["q_", "k_", "query", "key", "Wqkv"]):
                    continue
                w = m.weight.data
                org_max = torch.cat([w[:, c0:c0 + k].abs().amax(1, keepdim=True)
                                     for c0, k in group_ranges(w.shape[1], group)], 1)
                mv = auto_clip_layer(w, input_feat[n], n_bit, group)
                apply_clip(m, mv, group)
                clips[f"model.layers.{i}.{n}"] = (mv, org_max)
        inps = outs
    rtn(model, n_bit, group)
    return groups, clips


# --------------------------------------------------------------------------------------------
# SmoothQuant


def smooth_ln_fcs(ln, fcs, act_scales, alpha):
    weight_scales = torch.cat([fc.weight.abs().max(dim=0, keepdim=True)[0] for fc in fcs], dim=0)
    weight_scales = weight_scales.max(dim=0)[0].clamp(min=1e-5)
    scales = (act_scales.pow(alpha) / weight_scales.pow(1 - alpha)).clamp(min=1e-5)
    ln.weight.div_(scales)
    if getattr(ln, "bias", None) is not None:
        ln.bias.div_(scales)
    for fc in fcs:
        fc.weight.mul_(scales.view(1, -1))
    return scales


def smooth_lm(model, stats, alpha):
    out = []
    for i, layer in enumerate(model.model.layers):
        p = f"model.layers.{i}."
        at, mlp = layer.self_attn, layer.mlp
        out.append(smooth_ln_fcs(layer.input_layernorm, [at.q_proj, at.k_proj, at.v_proj],
                                 stats[p + "self_attn.q_proj"]["max_abs"], alpha))
        out.append(smooth_ln_fcs(layer.post_attention_layernorm, [mlp.gate_proj, mlp.up_proj],
                                 stats[p + "mlp.gate_proj"]["max_abs"], alpha))
    return out


def act_quant_per_token(t, n_bits=8):
    scales = t.abs().max(dim=-1, keepdim=True)[0].clamp(min=1e-5) / (2 ** (n_bits - 1) - 1)
    return torch.round(t / scales) * scales


def act_quant_per_tensor(t, n_bits=8):
    scales = t.abs().max().clamp(min=1e-5) / (2 ** (n_bits - 1) - 1)
    return torch.round(t / scales) * scales


def weight_quant_per_channel(w, n_bits=8):
    scales = w.abs().max(dim=-1, keepdim=True)[0].clamp(min=1e-5) / (2 ** (n_bits - 1) - 1)
    return torch.round(w / scales) * scales


class W8A8Linear(nn.Module):
    def __init__(self, fc: nn.Linear, per_token: bool, quantize_output: bool):
        super().__init__()
        self.weight = weight_quant_per_channel(fc.weight.data.clone())
        self.bias = fc.bias
        self.act_quant = act_quant_per_token if per_token else act_quant_per_tensor
        self.output_quant = self.act_quant if quantize_output else (lambda y: y)

    def forward(self, x):
        return self.output_quant(F.linear(self.act_quant(x), self.weight, self.bias))


def quantize_llama_like(model, per_token=True, quantize_bmm_input=False):
    for layer in model.model.layers:
        at, mlp = layer.self_attn, layer.mlp
        for n in ["gate_proj", "up_proj", "down_proj"]:
            setattr(mlp, n, W8A8Linear(getattr(mlp, n), per_token, False))
        for n in ["q_proj", "k_proj", "v_proj"]:
            setattr(at, n, W8A8Linear(getattr(at, n), per_token, quantize_bmm_input))
        at.o_proj = W8A8Linear(at.o_proj, per_token, False)


# --------------------------------------------------------------------------------------------
# driver


def f32(t) -> list:
    """float32 values as the shortest decimal that round-trips the float32."""
    out = []
    for v in torch.as_tensor(t).float().reshape(-1).tolist():
        s = repr(v)
        for d in range(6, 10):
            c = f"{v:.{d}g}"
            if torch.tensor(float(c), dtype=torch.float32).item() == v:
                s = c
                break
        out.append(float(s))
    return out


def near_tie(loss: list[float], best: int) -> float:
    """Relative gap between the best loss and the runner-up (the smallest other loss)."""
    others = [v for j, v in enumerate(loss) if j != best]
    return (min(others) - loss[best]) / loss[best]


def run_model(name: str, text: str) -> dict:
    t0 = time.time()
    tok = load_tokenizer(name)
    base = load_model(name)
    cfg = base.config
    bos = cfg.bos_token_id
    ids = eval_ids(tok, bos, text)
    blocks = calibration_blocks(tok)
    nl = cfg.num_hidden_layers
    last = nl - 1
    chosen = [f"model.layers.0.self_attn.q_proj", f"model.layers.{last}.mlp.down_proj"]
    res: dict = {"model_folder": Path(MODELS[name]).relative_to(REPO).as_posix(),
                 "model_safetensors_sha256": hashlib.sha256((MODELS[name] / "model.safetensors").read_bytes()).hexdigest(),
                 "eval_tokens": ids.numel(),
                 "calib_first_ids": blocks[0, :8].tolist(),
                 "calib_tokens_sha256": hashlib.sha256(blocks.numpy().tobytes()).hexdigest(),
                 # sum over the flattened blocks of (i + 1) * id_i (int64, exact)
                 "calib_ids_checksum": int((torch.arange(1, blocks.numel() + 1) * blocks.reshape(-1)).sum()),
                 "ppl": {}}
    ppl = res["ppl"]

    def fresh():
        return load_model(name)

    ppl["fp32"] = perplexity(base, ids)
    print(f"[{name}] fp32 {ppl['fp32']:.6f}", flush=True)

    stats = calibration_stats(base, blocks)
    res["calib_stats"] = {n: {"mean_abs": f32(stats[n]["mean_abs"]), "max_abs": f32(stats[n]["max_abs"]),
                              "tokens": stats[n]["tokens"]} for n in chosen}
    res["salient"] = {}
    for n in chosen:
        imp = stats[n]["mean_abs"]
        srt = torch.sort(imp, descending=True)
        k8 = min(8, imp.numel())
        gaps = [(srt.values[j] - srt.values[j + 1]).item() / srt.values[j].item() for j in range(k8)]
        res["salient"][n] = {"in_features": imp.numel(), "salient_1pct": salient(imp, 0.01).tolist(),
                             "top8": srt.indices[:k8].tolist(), "top8_min_rel_gap": min(gaps)}

    for bits, g in [(3, 32), (4, 64)]:
        m = fresh()
        rtn(m, bits, g)
        ppl[f"rtn_w{bits}_g{g}"] = perplexity(m, ids)
    m = fresh()
    awq_keep(m, stats, 3, 32, 0.01)
    ppl["awq_keep_1pct_w3_g32"] = perplexity(m, ids)
    for factor in [1, 2, 3, 4]:
        m = fresh()
        awq_scale(m, stats, 3, 32, 0.01, float(factor))
        ppl[f"awq_scale_1pct_x{factor}_w3_g32"] = perplexity(m, ids)
    print(f"[{name}] rtn/salient done {time.time() - t0:.0f}s", flush=True)

    # AWQ auto-scale (w3 g32 asym), without and with auto-clip, and with duo scaling
    m = fresh()
    groups, _ = run_awq(m, blocks, 3, 32, clip=False, duo=False)
    ppl["awq_auto_w3_g32"] = perplexity(m, ids)
    m = fresh()
    groups_c, clips = run_awq(m, blocks, 3, 32, clip=True, duo=False)
    ppl["awq_auto_clip_w3_g32"] = perplexity(m, ids)
    for a, b in zip(groups, groups_c):
        assert a["best"] == b["best"] and torch.equal(a["scales"], b["scales"])
    m = fresh()
    groups_d, _ = run_awq(m, blocks, 3, 32, clip=False, duo=True)
    ppl["awq_auto_duo_w3_g32"] = perplexity(m, ids)
    print(f"[{name}] awq done {time.time() - t0:.0f}s", flush=True)

    def group_json(g, with_scales=True):
        d = {k: g[k] for k in ["block", "prev_op", "linears", "inspected", "best"]}
        d["loss"] = g["loss"]
        d["best_rel_gap"] = near_tie(g["loss"], g["best"])
        if with_scales:
            d["scales"] = f32(g["scales"])
        return d

    clip_names = [f"model.layers.0.self_attn.v_proj", f"model.layers.{last}.mlp.down_proj"]
    res["awq"] = {"spec": "w3 g32 asym", "n_grid": N_GRID,
                  "groups": [group_json(g) for g in groups],
                  "clip": {n: {"shape": list(clips[n][0].shape), "max_val": f32(clips[n][0]),
                               "org_max": f32(clips[n][1])} for n in clip_names},
                  "clipped_linears": len(clips),
                  "duo_groups": [group_json(g, with_scales=g["block"] == 0) for g in groups_d]}

    # SmoothQuant W8A8
    sq = {}
    m = fresh()
    sc = smooth_lm(m, stats, 0.5)
    sq["alpha_0.5_block0_scales"] = {"model.layers.0.input_layernorm": f32(sc[0]),
                                     "model.layers.0.post_attention_layernorm": f32(sc[1])}
    for alpha in [0.0, 0.5, 0.85]:
        m = fresh()
        smooth_lm(m, stats, alpha)
        quantize_llama_like(m, per_token=True, quantize_bmm_input=False)
        ppl[f"sq_w8a8_alpha{alpha}_per_token"] = perplexity(m, ids)
    m = fresh()
    smooth_lm(m, stats, 0.5)
    quantize_llama_like(m, per_token=False, quantize_bmm_input=True)
    ppl["sq_w8a8_alpha0.5_per_tensor_bmm"] = perplexity(m, ids)
    m = fresh()
    quantize_llama_like(m, per_token=True, quantize_bmm_input=False)
    ppl["w8a8_no_smooth_per_token"] = perplexity(m, ids)
    res["smoothquant"] = sq

    # Sensitivity of the numbers to float32 noise (documents the C++ test's tolerances):
    # (a) the SmoothQuant W8A8 runs with transformers' sdpa attention instead of eager (same
    # math, another summation order: 8-bit activation rounding flips); (b) AWQ with mean |x|
    # nudged by 1e-7 .. 5e-7 relative (one to a few float32 ulp: weight rounding and clip
    # zero-point ties, round(3.5 +- ulp), flip).
    global ATTN_IMPL, XMEAN_EPS
    sens = {}
    ATTN_IMPL = "sdpa"
    for alpha in [0.0, 0.5, 0.85]:
        m = fresh()
        smooth_lm(m, stats, alpha)
        quantize_llama_like(m, per_token=True, quantize_bmm_input=False)
        sens[f"sq_w8a8_alpha{alpha}_per_token (sdpa)"] = perplexity(m, ids)
    m = fresh()
    smooth_lm(m, stats, 0.5)
    quantize_llama_like(m, per_token=False, quantize_bmm_input=True)
    sens["sq_w8a8_alpha0.5_per_tensor_bmm (sdpa)"] = perplexity(m, ids)
    ATTN_IMPL = "eager"
    XMEAN_EPS = 1e-7
    m = fresh()
    run_awq(m, blocks, 3, 32, clip=False, duo=False)
    sens["awq_auto_w3_g32 (mean|x| * (1 + 1e-7))"] = perplexity(m, ids)
    flips = {}
    for eps in [1e-7, -2e-7, 5e-7]:
        XMEAN_EPS = eps
        m = fresh()
        _, clips_p = run_awq(m, blocks, 3, 32, clip=True, duo=False)
        sens[f"awq_auto_clip_w3_g32 (mean|x| * (1 + {eps:g}))"] = perplexity(m, ids)
        flips[f"{eps:g}"] = [sum(int(((clips_p[n][0] - clips[n][0]).abs() > 1e-5 * clips[n][0]).sum()) for n in clips),
                             sum(clips[n][0].numel() for n in clips)]
    XMEAN_EPS = 0.0
    res["sensitivity"] = {
        "ppl": sens,
        "rel_ppl_change": {k: (v - ppl[k.split(" (")[0]]) / ppl[k.split(" (")[0]] for k, v in sens.items()},
        "clip_choices_changed_by_nudge": flips}
    res["seconds"] = round(time.time() - t0, 1)
    for k, v in ppl.items():
        print(f"  {k:40s} {v:.6f}")
    for k, v in res["sensitivity"]["rel_ppl_change"].items():
        print(f"  sensitivity {k:50s} {v:+.2e}")
    print(f"  clip choices changed by the nudges: {res['sensitivity']['clip_choices_changed_by_nudge']}")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, choices=list(MODELS))
    args = ap.parse_args()
    torch.set_num_threads(2)
    text = wikitext_text()
    out = {"_meta": {
        "generator": "tools/goldens/quant_reference.py",
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "tokenizers": __import__("tokenizers").__version__},
        "calibration": f"{CALIB_FILE.relative_to(REPO).as_posix()}: whole text tokenized once without BOS, "
                       f"first {CALIB_SAMPLES} consecutive blocks of {CALIB_SEQLEN} tokens",
        "calib_samples": CALIB_SAMPLES, "calib_seqlen": CALIB_SEQLEN,
        "eval": f"{WIKI_FILE.relative_to(REPO).as_posix()}: docs/notes.md §6 protocol, seqlen {EVAL_SEQLEN}, "
                f"first {EVAL_WINDOWS} windows, attn_implementation=eager, fp32",
        "eval_seqlen": EVAL_SEQLEN, "eval_windows": EVAL_WINDOWS,
        "conventions": [
            "pseudo-quantization in float32 (llm-awq order); a row not a multiple of the group size gets a "
            "shorter last group",
            "mean|x| = mean over all calibration tokens (float64 sum); salient = topk(mean|x|, "
            "int(in * fraction)).indices",
            "RTN / AWQ quantize decoder Linears only (lm_head tied and unquantized)",
            "AWQ: llm-awq groups (LLaMA: input_layernorm->q/k/v inspecting self_attn; v->o only when "
            "v_proj.weight.shape == o_proj.weight.shape; post_attention_layernorm->gate/up inspecting mlp; "
            "up->down), loss = mean squared error over all calibration tokens, first minimum; "
            "auto_clip: tokens 0::max(1, n // 512), max|w| * (1 - i/20), i < 10, q/k skipped",
            "duo_scaling (AutoAWQ): s = x^r / (w^(1-r) + 1e-4), w = mean over rows of |w| / (max|w| of its "
            "quantization group + 1e-6), shorter last group likewise",
            "SmoothQuant: s = (max|x|^a / max|W|^(1-a)).clamp(1e-5) with max|x| of the first Linear of the group "
            "from the calibration statistics of the original model; W8A8: weights per-channel symmetric absmax "
            "8 bit, activations of every decoder Linear 8 bit absmax per token (or per tensor), optional "
            "quantization of q/k/v outputs",
        ]}}
    names = args.only or list(MODELS)
    if args.only and OUT.exists():
        out.update({k: v for k, v in json.loads(OUT.read_text()).items() if k != "_meta"})
    for name in names:
        out[name] = run_model(name, text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    sys.exit(main())
