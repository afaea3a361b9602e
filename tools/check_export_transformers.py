#!/usr/bin/env python3
"""Independent check of QuantScope's checkpoint export (not needed by CI).

Run with a Python that has torch, transformers and safetensors, e.g.
    /work/pyenv/venv/bin/python tools/check_export_transformers.py --cli build/bin/quantscope-cli

For each model (the bundled TinyStories-656K, the opt-preln-random fixture and a random OPT
that transformers itself creates here) it runs `quantscope-cli quantize` and checks:

A. AWQ GEMM, bit for bit. The awq-gemm files are unpacked with AutoAWQ's published
   dequantization (awq/utils/packing_utils.py: dequantize_gemm; imported from the installed
   autoawq package when present, otherwise the same formulas re-implemented below), which
   computes W^T = (q - z) * s in fp16. "Bit for bit" means, for every quantized Linear:
     A1. AutoAWQ's fp16 W^T  ==  fp16(W_ref^T), compared as raw 16-bit patterns, and
     A2. (q - z) * s evaluated in float32 (exact: |q - z| <= 15 times an 11-bit fp16 scale)
         ==  W_ref^T, compared as raw 32-bit patterns,
   where W_ref is QuantScope's fake-quant weight with the fp16-rounded scales, i.e. the
   `--format fake --awq-reference` export (float32) of the same session. The unpacked integer
   codes and zero points are also compared with AutoAWQ's own pack_exllama/unpack round trip,
   and the plain fake export (float32 scales) is reported for scale: it differs from W_ref only
   by the fp16 rounding of the scales.
B. transformers loads the fake export (1) and the transformed export (3) with no extra code,
   no missing or unexpected keys, and its fp32 logits equal QuantScope's (`--dump-logits`, the
   logits QuantScope computes for the exported state) within 1e-4 (max abs).
"""
import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

AWQ_REVERSE_ORDER = [0, 4, 1, 5, 2, 6, 3, 7]


def load_autoawq_packing():
    """AutoAWQ's packing_utils module, loaded by file so that the package's __init__ (which
    needs CUDA-only dependencies) is not run. None when autoawq is not installed."""
    spec = importlib.util.find_spec("awq")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "utils", "packing_utils.py")
    if not os.path.exists(path):
        return None
    s = importlib.util.spec_from_file_location("autoawq_packing_utils", path)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


# The same formulas as AutoAWQ's packing_utils (used when autoawq is not installed).
def unpack_awq(qweight, qzeros, bits):
    shifts = torch.arange(0, 32, bits, device=qzeros.device)
    iweights = torch.bitwise_right_shift(qweight[:, :, None], shifts[None, None, :]).to(torch.int8)
    iweights = iweights.view(iweights.shape[0], -1)
    izeros = torch.bitwise_right_shift(qzeros[:, :, None], shifts[None, None, :]).to(torch.int8)
    izeros = izeros.view(izeros.shape[0], -1)
    return iweights, izeros


def reverse_awq_order(iweights, izeros, bits):
    rev = torch.arange(iweights.shape[-1], dtype=torch.int32, device=izeros.device)
    rev = rev.view(-1, 32 // bits)[:, AWQ_REVERSE_ORDER].view(-1)
    return iweights[:, rev], izeros[:, rev]


def dequantize_gemm(qweight, qzeros, scales, bits, group_size):
    iweight, izeros = unpack_awq(qweight, qzeros, bits)
    iweight, izeros = reverse_awq_order(iweight, izeros, bits)
    iweight = torch.bitwise_and(iweight, (2**bits) - 1)
    izeros = torch.bitwise_and(izeros, (2**bits) - 1)
    scales = scales.repeat_interleave(group_size, dim=0)
    izeros = izeros.repeat_interleave(group_size, dim=0)
    return (iweight - izeros) * scales


def run(cmd):
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        raise SystemExit("command failed with exit code %d" % r.returncode)
    return r.stdout


def load_dir(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        out = {}
        for f in sorted(set(json.load(open(idx))["weight_map"].values())):
            out.update(load_file(os.path.join(d, f)))
        return out
    return load_file(os.path.join(d, "model.safetensors"))


def check_awq(awq_dir, ref_dir, fake_dir, packing):
    cfg = json.load(open(os.path.join(awq_dir, "config.json")))
    qc = cfg["quantization_config"]
    assert qc["quant_method"] == "awq" and qc["version"] == "gemm" and qc["bits"] == 4 and qc["zero_point"], qc
    g = qc["group_size"]
    awq, ref, fake = load_dir(awq_dir), load_dir(ref_dir), load_dir(fake_dir)
    deq = packing.dequantize_gemm if packing else dequantize_gemm
    n, worst_fake = 0, 0.0
    for name in sorted(k for k in awq if k.endswith(".qweight")):
        lin = name[: -len(".qweight")]
        qw, qz, sc = awq[lin + ".qweight"], awq[lin + ".qzeros"], awq[lin + ".scales"]
        assert qw.dtype == torch.int32 and qz.dtype == torch.int32 and sc.dtype == torch.float16, lin
        w_ref = ref[lin + ".weight"]
        assert w_ref.dtype == torch.float32, (lin, w_ref.dtype)
        wt16 = deq(qw, qz, sc, 4, g)  # AutoAWQ: fp16 [in, out]
        assert wt16.dtype == torch.float16 and wt16.shape == w_ref.t().shape, (lin, wt16.dtype, wt16.shape)
        # A1: fp16 bit patterns
        a = wt16.contiguous().view(torch.int16)
        b = w_ref.t().contiguous().half().view(torch.int16)
        if not torch.equal(a, b):
            bad = (a != b).nonzero()[0].tolist()
            raise SystemExit("A1 FAILED for %s at %s: AutoAWQ %r vs QuantScope %r" % (lin, bad, wt16[tuple(bad)].item(), w_ref.t()[tuple(bad)].item()))
        # A2: exact float32 product, 32-bit patterns
        iw, iz = unpack_awq(qw, qz, 4)
        iw, iz = reverse_awq_order(iw, iz, 4)
        iw, iz = torch.bitwise_and(iw, 15), torch.bitwise_and(iz, 15)
        if packing:  # AutoAWQ's own unpack gives the same integers
            pw, pz = packing.unpack_awq(qw, qz, 4)
            pw, pz = packing.reverse_awq_order(pw, pz, 4)
            assert torch.equal(torch.bitwise_and(pw, 15), iw) and torch.equal(torch.bitwise_and(pz, 15), iz), lin
        wt32 = (iw.float() - iz.repeat_interleave(g, dim=0).float()) * sc.float().repeat_interleave(g, dim=0)
        if not torch.equal(wt32.contiguous().view(torch.int32), w_ref.t().contiguous().view(torch.int32)):
            raise SystemExit("A2 FAILED for %s: max |diff| %g" % (lin, (wt32 - w_ref.t()).abs().max().item()))
        w_fake = fake[lin + ".weight"].float()
        rel = ((w_fake - w_ref).abs().max() / w_fake.abs().max()).item()
        worst_fake = max(worst_fake, rel)
        n += 1
    assert n > 0, "no quantized Linear in " + awq_dir
    print("  A  AWQ GEMM %s: %d Linears, AutoAWQ dequantization == QuantScope AWQ reference bit for bit "
          "(fp16 and exact fp32); plain fake export (fp32 scales) differs by <= %.2e of max|W|"
          % (os.path.basename(awq_dir), n, worst_fake))
    return n


def check_transformers(model_dir, logits_file, what, tol=1e-4):
    from transformers import AutoModelForCausalLM

    ref = load_file(logits_file)
    ids, want = ref["input_ids"], ref["logits"]
    model, info = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32, output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise SystemExit("B FAILED: transformers reported %s for %s" % (bad, model_dir))
    model.eval()
    with torch.no_grad():
        got = model(ids).logits.float()
    d = (got - want).abs().max().item()
    status = "ok" if d <= tol else "FAILED"
    print("  B  transformers %s (%s): max |logit diff| vs QuantScope = %.3g (tolerance %g) %s"
          % (what, type(model).__name__, d, tol, status))
    if d > tol:
        raise SystemExit("B FAILED")
    return d


def make_random_opt(d):
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(0)
    cfg = OPTConfig(hidden_size=128, ffn_dim=256, num_hidden_layers=2, num_attention_heads=4, vocab_size=50272,
                    max_position_embeddings=128, word_embed_proj_dim=128, do_layer_norm_before=True)
    m = OPTForCausalLM(cfg)
    with torch.no_grad():  # larger weights than the 0.02 init, and an outlier channel
        for name, p in m.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.08)
            if "fc1.weight" in name:
                p[:, 3] *= 8
    m.save_pretrained(d, safe_serialization=True)
    for f in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(os.path.join(ROOT, "tests/data/models/opt-ppl-random", f), d)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build/bin/quantscope-cli"))
    ap.add_argument("--keep", help="keep the exports in this folder")
    a = ap.parse_args()
    packing = load_autoawq_packing()
    print("AutoAWQ packing_utils: " + ("from the installed autoawq package (%s)" % packing.__file__ if packing
                                      else "not installed; using the published formulas re-implemented here"))
    import transformers
    print("torch %s, transformers %s" % (torch.__version__, transformers.__version__))
    work = a.keep or tempfile.mkdtemp(prefix="qs_export_check_")
    os.makedirs(work, exist_ok=True)
    calib = ["--calib-samples", "4", "--calib-seqlen", "32"]
    cases = [
        # name, model dir, group, methods for the transformed export
        ("TinyStories-656K", os.path.join(ROOT, "resources/models/TinyStories-656K"), 128,
         ["--method", "rotate,rtn", "--rotation", "hadamard"]),
        ("TinyStories-656K-awq", os.path.join(ROOT, "resources/models/TinyStories-656K"), 64,
         ["--method", "awq"] + calib),
        ("opt-preln-random", os.path.join(ROOT, "tests/data/models/opt-preln-random"), 32, None),
        ("random-opt-transformers", None, 64, ["--method", "smoothquant", "--w-bits", "8", "--group-size", "-1"] + calib),
    ]
    total = 0
    try:
        for name, model, g, transform in cases:
            print("== " + name)
            d = os.path.join(work, name)
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            if model is None:
                model = os.path.join(d, "source")
                make_random_opt(model)
            base = [a.cli, "quantize", "--model", model, "--a-bits", "0"]
            quant = ["--method", "rtn", "--w-bits", "4", "--group-size", str(g)]
            if name.endswith("-awq"):
                quant = ["--method", "awq", "--w-bits", "4", "--group-size", str(g)] + calib
            run(base + quant + ["--format", "fake", "--out", d + "/fake", "--dump-logits", d + "/fake.logits"])
            run(base + quant + ["--format", "fake", "--awq-reference", "--out", d + "/ref"])
            run(base + quant + ["--format", "awq-gemm", "--out", d + "/awq"])
            total += check_awq(d + "/awq", d + "/ref", d + "/fake", packing)
            check_transformers(d + "/fake", d + "/fake.logits", "fake export")
            if transform:
                run(base + transform + ["--format", "transformed", "--out", d + "/transformed", "--dump-logits",
                                        d + "/transformed.logits"])
                check_transformers(d + "/transformed", d + "/transformed.logits",
                                   "transformed export (" + " ".join(transform[:2]) + ")")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("ALL CHECKS PASSED (%d AWQ GEMM Linears bit for bit; transformers logits within 1e-4)" % total)


if __name__ == "__main__":
    main()
