#!/usr/bin/env python3
"""Build seeded random-weight Hugging Face checkpoints under tests/data/models/.

Each model is built with transformers' own classes and saved with
save_pretrained(..., safe_serialization=True).  Weights are re-initialised
after construction from a dedicated torch.Generator, parameter by parameter in
sorted-name order, so they depend only on (seed, names, shapes) and not on the
initialisation order inside transformers.

    python tools/goldens/make_random_models.py [--only NAME ...]
"""
from __future__ import annotations

import argparse
import shutil
import sys

import torch
from torch import nn

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from _common import MODELS_DIR, OPT_TOKENIZER_DIR, sha256_file  # noqa: E402

from transformers import (  # noqa: E402
    LlamaConfig,
    LlamaForCausalLM,
    OPTConfig,
    OPTForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
)
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS  # noqa: E402

# Init scales (chosen so that norms, biases and every linear visibly matter).
STD_LINEAR = 0.08
STD_LINEAR_BIAS = 0.05
STD_EMBED = 0.1
NORM_W_JITTER = 0.1
NORM_B_STD = 0.1


@torch.no_grad()
def seeded_init(model: nn.Module, seed: int) -> None:
    kind = {}
    for mname, mod in model.named_modules():
        cls = type(mod).__name__
        if isinstance(mod, nn.Linear):
            k = "linear"
        elif isinstance(mod, nn.Embedding):
            k = "embed"
        elif isinstance(mod, nn.LayerNorm) or cls.endswith("RMSNorm"):
            k = "norm"
        else:
            continue
        for pname, _ in mod.named_parameters(recurse=False):
            kind[f"{mname}.{pname}" if mname else pname] = (k, pname)
    gen = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())  # tied parameters appear once
    for name in sorted(params):
        p = params[name]
        k, pname = kind[name]
        r = torch.randn(p.shape, generator=gen, dtype=torch.float32)
        if k == "linear":
            v = r * (STD_LINEAR if pname == "weight" else STD_LINEAR_BIAS)
        elif k == "embed":
            v = r * STD_EMBED
        else:  # norm
            v = 1.0 + NORM_W_JITTER * r if pname == "weight" else NORM_B_STD * r
        p.copy_(v.to(p.dtype))


def save(model, name: str, dtype=torch.float32):
    out = MODELS_DIR / name
    if out.exists():
        shutil.rmtree(out)
    model = model.to(dtype)
    model.config.torch_dtype = dtype
    model.save_pretrained(out, safe_serialization=True)
    size = (out / "model.safetensors").stat().st_size
    print(f"  wrote {out.relative_to(MODELS_DIR.parents[2])}: model.safetensors {size} bytes "
          f"sha256 {sha256_file(out / 'model.safetensors')[:16]}...")
    return out


def common_cfg():
    return dict(use_cache=True, torch_dtype="float32")


def make_opt_preln():
    cfg = OPTConfig(
        vocab_size=272, hidden_size=32, word_embed_proj_dim=32, num_hidden_layers=2,
        ffn_dim=64, num_attention_heads=4, max_position_embeddings=64,
        do_layer_norm_before=True, enable_bias=True, layer_norm_elementwise_affine=True,
        activation_function="relu", dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        layerdrop=0.0, init_std=0.02, pad_token_id=1, bos_token_id=2, eos_token_id=2,
        tie_word_embeddings=True, **common_cfg())
    torch.manual_seed(1001)
    m = OPTForCausalLM(cfg).eval()
    seeded_init(m, 1001)
    return m


def make_opt_postln_projio():
    cfg = OPTConfig(
        vocab_size=272, hidden_size=48, word_embed_proj_dim=24, num_hidden_layers=2,
        ffn_dim=64, num_attention_heads=4, max_position_embeddings=64,
        do_layer_norm_before=False, enable_bias=True, layer_norm_elementwise_affine=True,
        activation_function="relu", dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        layerdrop=0.0, init_std=0.02, pad_token_id=1, bos_token_id=2, eos_token_id=2,
        tie_word_embeddings=True, **common_cfg())
    torch.manual_seed(1002)
    m = OPTForCausalLM(cfg).eval()
    assert m.model.decoder.project_in is not None and m.model.decoder.project_out is not None
    assert m.model.decoder.final_layer_norm is None
    seeded_init(m, 1002)
    return m


LLAMA3_ROPE = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    # head_dim = 64/8 = 8, theta 5e5 -> wavelengths 6.28, 167, 4.4e3, 1.2e5.
    # With 16 the first one (6.28) falls in the smoothing band [16/4, 16/1] and the
    # other three are divided by `factor`, so all 4 entries differ from the default
    # (and both non-trivial branches of the llama3 rule are exercised).
    "original_max_position_embeddings": 16,
}


def make_llama():
    cfg = LlamaConfig(
        vocab_size=256, hidden_size=64, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=64,
        rms_norm_eps=1e-5, rope_theta=500000.0, rope_scaling=dict(LLAMA3_ROPE),
        attention_bias=False, mlp_bias=False, hidden_act="silu", tie_word_embeddings=False,
        bos_token_id=1, eos_token_id=2, pad_token_id=None, **common_cfg())
    torch.manual_seed(1003)
    m = LlamaForCausalLM(cfg).eval()
    seeded_init(m, 1003)
    d, _ = ROPE_INIT_FUNCTIONS["default"](cfg, "cpu")
    l3, _ = ROPE_INIT_FUNCTIONS["llama3"](cfg, "cpu")
    ndiff = int((d != l3).sum())
    print(f"  llama3 rope: head_dim {cfg.hidden_size // cfg.num_attention_heads}, "
          f"default inv_freq {d.tolist()}\n               llama3  inv_freq {l3.tolist()}\n"
          f"               {ndiff}/{d.numel()} entries differ from the default")
    assert ndiff > 0
    return m


def make_qwen2():
    cfg = Qwen2Config(
        vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        rms_norm_eps=1e-6, rope_theta=1000000.0, hidden_act="silu",
        use_sliding_window=False, sliding_window=None, max_window_layers=2,
        tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, **common_cfg())
    torch.manual_seed(1004)
    m = Qwen2ForCausalLM(cfg).eval()
    assert m.model.layers[0].self_attn.q_proj.bias is not None
    assert m.model.layers[0].self_attn.o_proj.bias is None
    seeded_init(m, 1004)
    return m


def make_opt_ppl():
    cfg = OPTConfig(
        vocab_size=50272, hidden_size=16, word_embed_proj_dim=16, num_hidden_layers=2,
        ffn_dim=64, num_attention_heads=2, max_position_embeddings=512,
        do_layer_norm_before=True, enable_bias=True, layer_norm_elementwise_affine=True,
        activation_function="relu", dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
        layerdrop=0.0, init_std=0.02, pad_token_id=1, bos_token_id=2, eos_token_id=2,
        tie_word_embeddings=True, use_cache=True)
    torch.manual_seed(1005)
    m = OPTForCausalLM(cfg).eval()
    seeded_init(m, 1005)
    return m


BUILDERS = {
    "opt-preln-random": (make_opt_preln, torch.float32),
    "opt-postln-projio-random": (make_opt_postln_projio, torch.float32),
    "llama-gqa-llama3rope-random": (make_llama, torch.float32),
    "qwen2-bias-random": (make_qwen2, torch.float32),
    "opt-ppl-random": (make_opt_ppl, torch.float16),
}

OPT_TOKENIZER_FILES = ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, choices=list(BUILDERS))
    args = ap.parse_args()
    for name, (fn, dtype) in BUILDERS.items():
        if args.only and name not in args.only:
            continue
        print(f"[{name}]")
        out = save(fn(), name, dtype)
        if name == "opt-ppl-random":
            for f in OPT_TOKENIZER_FILES:
                shutil.copyfile(OPT_TOKENIZER_DIR / f, out / f)
            (out / "PROVENANCE.md").write_text(
                "# opt-ppl-random\n\n"
                "Random-weight OPT (seeded; made by tools/goldens/make_random_models.py), stored float16,\n"
                "vocab 50272 so that real OPT token ids are valid. For perplexity-pipeline tests only.\n\n"
                "Tokenizer files (vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json)\n"
                "are copied unchanged from the project's shared `tokenizers/opt-bpe/` fixture (facebook/opt-*\n"
                "tokenizer, reconstructed): merges.txt = GPT-2's merges (MIT, OpenAI); vocab.json rebuilt in\n"
                "fairseq's GPT-2 dictionary order (<s>=0, <pad>=1, </s>=2, <unk>=3, then fairseq gpt2_bpe/dict.txt\n"
                "mapped through GPT-2 encoder.json, madeupword0000-0002 = 50261-50263, <mask> = 50264), i.e. the\n"
                "RoBERTa/OPT ids; checked: `Hello, my dog is cute` -> 2 31414 6 127 2335 16 11962.\n"
                "tokenizer_config.json / special_tokens_map.json were written by hand (BOS = EOS = UNK = </s> id 2,\n"
                "pad <pad> id 1, a BOS is prepended). Byte identity with facebook/opt-125m's files is not verified.\n")


if __name__ == "__main__":
    main()
