#!/usr/bin/env python3
"""llm-awq's AWQ search (auto_scale + auto_clip) in PyTorch eager on transformers' OPT, for the
AWQ benchmark (tools/bench/bench_awq.sh). A transcription of mit-han-lab/llm-awq
awq/quantize/pre_quant.py (run_awq), auto_scale.py (auto_scale_block for OPT,
_search_module_scale, apply_scale) and auto_clip.py (auto_clip_layer with its output-channel
batching, auto_clip_block), and quantizer.py (pseudo_quantize_tensor), on CPU in float32.
Changes, for the CPU: the clip search's `(input_feat * w).sum(-1)` runs as the equivalent
batched matmul (group_dot; the literal broadcast with --clip-broadcast is many times slower on a
CPU, so the default is the stronger baseline); the state dict snapshot is cloned (llm-awq's
`v.cpu()` copies on a GPU but aliases on the CPU, so the in-place `mul_` would corrupt it), and
the block runs with the layer kwargs that transformers 4.46 passes (attention_mask).

Calibration: the same blocks as `quantscope-cli --calib` default (the bundled tinyshakespeare,
tokenized without special tokens, consecutive blocks of --seqlen). Prints one JSON object:
seconds (run_awq: embedding + every block's search, scaling and clipping; tokenization and
model loading excluded), the chosen ratio index per group, and the clip count.

    python tools/bench/bench_awq_pytorch.py --model DIR --tokenizer DIR \
        --samples 128 --seqlen 512 --w-bits 4 --group-size 128 --clip --threads 2
"""
import argparse
import json
import time

import sys
from pathlib import Path

import torch
import torch.nn as nn
import zstandard
from transformers import AutoTokenizer, OPTForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "goldens"))
from quant_reference import first_layer_inputs  # noqa: E402  (llm-awq's Catcher)

N_GRID = 20
BROADCAST_CLIP = False


def pseudo_quantize_tensor(w, n_bit, q_group_size):
    org_w_shape = w.shape
    if q_group_size > 0:
        assert org_w_shape[-1] % q_group_size == 0
        w = w.reshape(-1, q_group_size)
    max_val = w.amax(dim=1, keepdim=True)
    min_val = w.amin(dim=1, keepdim=True)
    max_int, min_int = 2 ** n_bit - 1, 0
    scales = (max_val - min_val).clamp(min=1e-5) / max_int
    zeros = (-torch.round(min_val / scales)).clamp_(min_int, max_int)
    w = (torch.clamp(torch.round(w / scales) + zeros, min_int, max_int) - zeros) * scales
    return w.reshape(org_w_shape)


def get_act_scale(x):
    return x.abs().view(-1, x.shape[-1]).mean(0)


@torch.no_grad()
def search_module_scale(block, linears2scale, x, kwargs, n_bit, group, history_out):
    org_out = block(x, **kwargs)
    if isinstance(org_out, tuple):
        org_out = org_out[0]
    x_max = get_act_scale(x)
    best_error, best_ratio, best_scales, best_idx = float("inf"), -1, None, -1
    org_sd = {k: v.clone() for k, v in block.state_dict().items()}  # llm-awq: v.cpu() (a copy on GPU)
    for r in range(N_GRID):
        ratio = r * 1 / N_GRID
        scales = x_max.pow(ratio).clamp(min=1e-4).view(-1)
        scales = scales / (scales.max() * scales.min()).sqrt()
        for fc in linears2scale:
            fc.weight.mul_(scales.view(1, -1))
            fc.weight.data = pseudo_quantize_tensor(fc.weight.data, n_bit, group) / scales.view(1, -1)
        out = block(x, **kwargs)
        if isinstance(out, tuple):
            out = out[0]
        loss = (org_out - out).float().pow(2).mean().item()
        if loss < best_error:
            best_error, best_ratio, best_scales, best_idx = loss, ratio, scales, r
        block.load_state_dict(org_sd)
    assert best_ratio != -1
    history_out.append(best_idx)
    return best_scales.view(-1).detach()


@torch.no_grad()
def auto_scale_block_opt(module, kwargs, input_feat, n_bit, group, chosen):
    at = module.self_attn
    out = []
    out.append(("self_attn_layer_norm", ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
                search_module_scale(at, [at.q_proj, at.k_proj, at.v_proj], input_feat["self_attn.q_proj"], kwargs,
                                    n_bit, group, chosen)))
    out.append(("self_attn.v_proj", ["self_attn.out_proj"],
                search_module_scale(at.out_proj, [at.out_proj], input_feat["self_attn.out_proj"], {}, n_bit, group,
                                    chosen)))
    out.append(("final_layer_norm", ["fc1"],
                search_module_scale(module.fc1, [module.fc1], input_feat["fc1"], {}, n_bit, group, chosen)))
    out.append(("fc1", ["fc2"], search_module_scale(module.fc2, [module.fc2], input_feat["fc2"], {}, n_bit, group,
                                                    chosen)))
    return out


@torch.no_grad()
def apply_scale(module, scales_list, input_feat):
    for prev_name, names, scales in scales_list:
        prev = module.get_submodule(prev_name)
        fcs = [module.get_submodule(n) for n in names]
        if isinstance(prev, nn.LayerNorm):  # scale_ln_fcs
            prev.weight.div_(scales)
            if prev.bias is not None:
                prev.bias.div_(scales)
            for fc in fcs:
                fc.weight.mul_(scales.view(1, -1))
        else:  # scale_fc_fc
            prev.weight[-scales.size(0):].div_(scales.view(-1, 1))
            if prev.bias is not None:
                prev.bias.div_(scales.view(-1))
            fcs[0].weight.mul_(scales.view(1, -1))
        for n in names:
            input_feat[n].div_(scales.view(1, -1))


def group_dot(x, w):
    """llm-awq's `(input_feat * w).sum(dim=-1)`: x [1, t, g, k], w [c, 1, g, k] -> [c, t, g].
    As a batched matmul (einsum): the same sums, without llm-awq's [c, t, g, k] temporary, which
    on a CPU makes one fc2 clip search take minutes (memory bound). --clip-broadcast restores it."""
    if BROADCAST_CLIP:
        return (x * w).sum(dim=-1)
    return torch.einsum("xtgk,cxgk->ctg", x, w)


@torch.no_grad()
def auto_clip_layer(w, input_feat, n_bit, group, max_shrink=0.5, n_sample_token=512):
    group = group if group > 0 else w.shape[1]
    input_feat = input_feat.view(-1, input_feat.shape[-1])
    input_feat = input_feat.reshape(1, input_feat.shape[0], -1, group)
    input_feat = input_feat[:, 0::input_feat.shape[1] // n_sample_token]
    w = w.reshape(w.shape[0], 1, -1, group)
    oc_batch_size = 256 if w.shape[0] % 256 == 0 else 64
    assert w.shape[0] % oc_batch_size == 0
    w_all, best_all = w, []
    for i_b in range(w.shape[0] // oc_batch_size):
        w = w_all[i_b * oc_batch_size:(i_b + 1) * oc_batch_size]
        org_max_val = w.abs().amax(dim=-1, keepdim=True)
        best_max_val = org_max_val.clone()
        min_errs = torch.ones_like(org_max_val) * 1e9
        org_out = group_dot(input_feat, w)
        for i_s in range(int(max_shrink * N_GRID)):
            max_val = org_max_val * (1 - i_s / N_GRID)
            cur_w = torch.clamp(w, -max_val, max_val)
            q_w = pseudo_quantize_tensor(cur_w, n_bit, group)
            cur_out = group_dot(input_feat, q_w)
            err = (cur_out - org_out).pow(2).mean(dim=1).view(min_errs.shape)
            del cur_w, cur_out
            cur_best = err < min_errs
            min_errs[cur_best] = err[cur_best]
            best_max_val[cur_best] = max_val[cur_best]
        best_all.append(best_max_val)
    return torch.cat(best_all, dim=0).squeeze(1)


@torch.no_grad()
def auto_clip_block(module, input_feat, n_bit, group):
    clips = []
    for name, m in module.named_modules():
        if not isinstance(m, nn.Linear) or any(t in name for t in ["q_", "k_", "query", "key", "Wqkv"]):
            continue
        clips.append((name, auto_clip_layer(m.weight, input_feat[name], n_bit, group)))
    return clips


@torch.no_grad()
def apply_clip(module, clips):
    for name, max_val in clips:
        layer = module.get_submodule(name)
        org_shape = layer.weight.shape
        w = layer.weight.data.reshape(*max_val.shape[:2], -1)
        w = torch.clamp(w, -max_val, max_val)
        layer.weight.data = w.reshape(org_shape)


@torch.no_grad()
def run_awq(model, samples, n_bit, group, clip):
    layers = model.model.decoder.layers
    inps, layer_kwargs = first_layer_inputs(model, layers, samples)
    attn_kwargs = {"attention_mask": layer_kwargs.get("attention_mask")}
    chosen, n_clipped = [], 0
    for layer in layers:
        named = {n: m for n, m in layer.named_modules() if isinstance(m, nn.Linear)}
        feat = {n: [] for n in named}
        hooks = [m.register_forward_hook(lambda m, x, y, n=n: feat[n].append(x[0].detach()))
                 for n, m in named.items()]
        inps = layer(inps, **layer_kwargs)[0]
        for h in hooks:
            h.remove()
        input_feat = {k: torch.cat(v, dim=0) for k, v in feat.items()}
        scales_list = auto_scale_block_opt(layer, attn_kwargs, input_feat, n_bit, group, chosen)
        apply_scale(layer, scales_list, input_feat)
        if clip:
            clips = auto_clip_block(layer, input_feat, n_bit, group)
            apply_clip(layer, clips)
            n_clipped += len(clips)
        del input_feat
    return chosen, n_clipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--calib", default="resources/data/calibration/tinyshakespeare.txt.zst")
    ap.add_argument("--samples", type=int, default=128)
    ap.add_argument("--seqlen", type=int, default=512)
    ap.add_argument("--w-bits", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=128)
    ap.add_argument("--clip", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--clip-broadcast", action="store_true", help="llm-awq's literal (x * w).sum(-1) in the clip search")
    a = ap.parse_args()
    global BROADCAST_CLIP
    BROADCAST_CLIP = a.clip_broadcast
    if a.threads:
        torch.set_num_threads(a.threads)
    text = zstandard.ZstdDecompressor().stream_reader(open(a.calib, "rb")).read().decode("utf-8")
    tok = AutoTokenizer.from_pretrained(a.tokenizer)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    n = min(a.samples, len(ids) // a.seqlen)
    samples = torch.tensor(ids[:n * a.seqlen], dtype=torch.int64).view(n, a.seqlen)
    model = OPTForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation="eager").eval()
    t0 = time.perf_counter()
    chosen, n_clipped = run_awq(model, samples, a.w_bits, a.group_size, a.clip)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "clip_broadcast": BROADCAST_CLIP, "samples": n, "seqlen": a.seqlen, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "chosen_ratio_index": chosen, "clipped_linears": n_clipped,
                      "calib_ids_sum": int(samples.sum())}))


if __name__ == "__main__":
    main()
