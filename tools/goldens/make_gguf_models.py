#!/usr/bin/env python3
"""Tiny GGUF models for QuantScope's CI (tests/data/gguf/), each with its tokenizer in the
metadata, and goldens made by transformers' own GGUF loader and the `tokenizers` library.

    python tools/goldens/make_gguf_models.py

Models (random weights, deterministic; llama.cpp tensor names and metadata keys):
  tiny-llama-smollm.gguf  llama, hidden 256, 2 layers, 4 heads / 1 KV head (head_dim 64), FFN 256,
                          Linears of 12 ggml types (Q2_K..Q6_K, Q4_0..Q8_0, F16, BF16),
                          token_embd Q4_0, untied output Q6_K; tokenizer gpt2 / pre `smollm`, no BOS
  tiny-qwen2.gguf         qwen2, hidden 64, 1 layer, q/k/v biases, tied embeddings (no output.weight),
                          Q8_0 / Q5_1 / Q4_1 / Q5_0; tokenizer gpt2 / pre `qwen2` (NFC), no BOS
  tiny-llama3-bpe.gguf    llama, hidden 64, 1 layer, F16; tokenizer gpt2 / pre `llama-bpe`
                          (ignore_merges, add_bos_token true with <|begin_of_text|>)
  tiny-gpt2-pre.gguf      llama, hidden 64, 1 layer, BF16; tokenizer gpt2 / pre `gpt-2`
Tokenizers: small byte-level BPE vocabularies trained here with `tokenizers` on the committed test
texts, configured like the Hugging Face tokenizer.json of the model family each llama.cpp pre type
stands for (SmolLM: Digits + ByteLevel; Llama 3: Split(regex) + ByteLevel, ignore_merges; Qwen2:
NFC + Split(regex) + ByteLevel; GPT-2: ByteLevel).

Goldens:
  tests/data/goldens/gguf/<name>.safetensors   input_ids [2, 16], logits [2, 16, V] (transformers,
      fp32, eager; weights from transformers' GGUF loader, lm_head tied by hand when the file has no
      output.weight), greedy_prompt [1, 5], greedy_tokens [1, 16] (KV cache, no EOS stop)
  tests/data/goldens/gguf/<name>.json          versions, sha256, spreads
  tests/data/goldens/tokenizers/<name>.json    ids / decode goldens as make_tokenizer_goldens.py
      (reference: PreTrainedTokenizerFast over the tokenizer.json the GGUF metadata was made from)
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_tokenizer_goldens as mtg  # noqa: E402

import gguf  # noqa: E402
from gguf import GGMLQuantizationType as T  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "data", "gguf")
GOLDENS = os.path.join(ROOT, "tests", "data", "goldens", "gguf")
TOK_GOLDENS = os.path.join(ROOT, "tests", "data", "goldens", "tokenizers")

LLAMA3_PAT = mtg.LLAMA3_PAT
QWEN2_PAT = mtg.QWEN2_PAT

# Byte offsets of the fp16 scale fields in one block (ggml-common.h), and a super-block scale
# giving weights of magnitude ~0.1 (max |w| ~ d x max sub-scale x max quant).
HALF_FIELDS = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
KQUANT_D = {T.Q2_K: 3e-3, T.Q3_K: 1e-3, T.Q4_K: 1.5e-4, T.Q5_K: 7e-5, T.Q6_K: 3e-5}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def train_tokenizer(kind, vocab_size):
    """A byte-level BPE tokenizer.json like the model family's, trained on the test texts."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    bl = pre_tokenizers.ByteLevel
    if kind == "smollm":
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                     bl(add_prefix_space=False, use_regex=True)])
    elif kind == "gpt-2":
        specials = ["<|endoftext|>"]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = bl(add_prefix_space=False, use_regex=True)
    elif kind == "llama-bpe":
        specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
        tok = Tokenizer(models.BPE(ignore_merges=True))
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PAT), behavior="isolated", invert=False),
            bl(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    elif kind == "qwen2":
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PAT), behavior="isolated", invert=False),
            bl(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    else:
        raise ValueError(kind)
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                             initial_alphabet=bl.alphabet(), special_tokens=specials)
    tok.train_from_iterator(mtg.training_corpus(), tr)
    if kind == "llama-bpe":
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                           special_tokens=[("<|begin_of_text|>", bos)])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, specials


def tokenizer_metadata(w, tok, specials, pre, bos, eos, add_bos):
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    tokens = [None] * len(vocab)
    for t, i in vocab.items():
        tokens[i] = t
    assert all(t is not None for t in tokens)
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    types = [3 if t in specials else 1 for t in tokens]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab[bos])
    w.add_eos_token_id(vocab[eos])
    w.add_add_bos_token(add_bos)
    return len(tokens), vocab[bos], vocab[eos]


def random_kquant(rng, qtype, rows, cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nb = rows * cols // block
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        h = (rng.uniform(0.5, 1.0, nb) * KQUANT_D[qtype]).astype(np.float16)
        raw[:, off:off + 2] = h.view(np.uint8).reshape(nb, 2)
    return raw.reshape(rows, cols // block * size)


def add_weight(w, rng, name, shape, qtype, std=0.08):
    rows, cols = shape
    if qtype in HALF_FIELDS:
        w.add_tensor(name, random_kquant(rng, qtype, rows, cols), raw_dtype=qtype)
        return
    x = (rng.standard_normal(shape) * std).astype(np.float32)
    if qtype == T.F32:
        w.add_tensor(name, x)
    elif qtype == T.F16:
        w.add_tensor(name, x.astype(np.float16))
    else:
        w.add_tensor(name, gguf.quants.quantize(x, qtype), raw_dtype=qtype)



def write_model(name, arch, pre, vocab_size, hidden, layers, heads, kv_heads, ffn, types, tied, bias, add_bos,
                bos_eos, seed):
    rng = np.random.default_rng(seed)
    tok, specials = train_tokenizer(pre, vocab_size)
    path = os.path.join(FIXTURES, name + ".gguf")
    w = gguf.GGUFWriter(path, arch)
    w.add_name(name)
    w.add_description("QuantScope test fixture (tools/goldens/make_gguf_models.py): random weights")
    V, bos_id, eos_id = tokenizer_metadata(w, tok, specials, pre, bos_eos[0], bos_eos[1], add_bos)
    head_dim = hidden // heads
    w.add_context_length(256)
    w.add_embedding_length(hidden)
    w.add_block_count(layers)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0 if arch == "llama" else 1000000.0)
    w.add_layer_norm_rms_eps(1e-5 if arch == "llama" else 1e-6)
    w.add_file_type(1)

    add_weight(w, rng, "token_embd.weight", (V, hidden), types["embd"], std=0.5)
    for i in range(layers):
        t = types["layers"][i]
        p = "blk.%d." % i
        w.add_tensor(p + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
        add_weight(w, rng, p + "attn_q.weight", (heads * head_dim, hidden), t["q"])
        add_weight(w, rng, p + "attn_k.weight", (kv_heads * head_dim, hidden), t["k"])
        add_weight(w, rng, p + "attn_v.weight", (kv_heads * head_dim, hidden), t["v"])
        if bias:
            w.add_tensor(p + "attn_q.bias", (0.1 * rng.standard_normal(heads * head_dim)).astype(np.float32))
            w.add_tensor(p + "attn_k.bias", (0.1 * rng.standard_normal(kv_heads * head_dim)).astype(np.float32))
            w.add_tensor(p + "attn_v.bias", (0.1 * rng.standard_normal(kv_heads * head_dim)).astype(np.float32))
        add_weight(w, rng, p + "attn_output.weight", (hidden, heads * head_dim), t["o"])
        w.add_tensor(p + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
        add_weight(w, rng, p + "ffn_gate.weight", (ffn, hidden), t["gate"])
        add_weight(w, rng, p + "ffn_up.weight", (ffn, hidden), t["up"])
        add_weight(w, rng, p + "ffn_down.weight", (hidden, ffn), t["down"])
    w.add_tensor("output_norm.weight", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
    if not tied:
        add_weight(w, rng, "output.weight", (V, hidden), types["output"], std=0.3)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path, tok, tied


def model_goldens(name, path, tied, seed):
    import torch
    import transformers
    model = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.dirname(path), gguf_file=os.path.basename(path), torch_dtype=torch.float32,
        attn_implementation="eager", **({"tie_word_embeddings": True} if tied else {}))
    model.eval()
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    V = model.config.vocab_size
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, V, (2, 16), generator=gen)
    with torch.no_grad():
        logits = model(ids).logits.float()
        logits64 = model.double()(ids).logits
        model.float()
    # A prompt whose greedy continuation has a clear top-1 at every step.
    for attempt in range(50):
        prompt = torch.randint(0, V, (1, 5), generator=gen)
        out, gaps, past, step = [], [], None, prompt
        with torch.no_grad():
            for _ in range(16):
                o = model(step, past_key_values=past, use_cache=True)
                past = o.past_key_values
                top2 = torch.topk(o.logits[0, -1], 2).values
                gaps.append((top2[0] - top2[1]).item())
                nxt = int(torch.argmax(o.logits[0, -1]))
                out.append(nxt)
                step = torch.tensor([[nxt]])
        if min(gaps) >= 2e-3:
            break
    import safetensors.torch
    safetensors.torch.save_file({"input_ids": ids.contiguous(), "logits": logits.contiguous(),
                                 "greedy_prompt": prompt.contiguous(), "greedy_tokens": torch.tensor([out])},
                                os.path.join(GOLDENS, name + ".safetensors"),
                                metadata={"made_by": "tools/goldens/make_gguf_models.py"})
    meta = {"made_by": "tools/goldens/make_gguf_models.py", "gguf": os.path.relpath(path, ROOT), "gguf_sha256": sha256(path),
            "versions": {"transformers": transformers.__version__, "torch": torch.__version__, "gguf": "0.19.0"},
            "reference": "transformers GGUF loader (gguf-py dequantize, q/k permutation undone), fp32 eager" +
                         (", lm_head tied to embed_tokens" if tied else ""),
            "config": model.config.to_dict(),
            "observed": {"max_abs_logits_fp32_vs_fp64": (logits.double() - logits64).abs().max().item(),
                         "logit_scale": logits.abs().max().item(), "min_greedy_top2_gap": min(gaps)}}
    with open(os.path.join(GOLDENS, name + ".json"), "w") as fh:
        json.dump(meta, fh, indent=1, default=str)
        fh.write("\n")


def tokenizer_goldens(name, path, tok, bos, eos, clean_up, cases, wiki):
    tmp = tempfile.mkdtemp(prefix="qs_gguf_tok_")
    tok.save(os.path.join(tmp, "tokenizer.json"))
    with open(os.path.join(tmp, "tokenizer_config.json"), "w") as fh:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": bos, "eos_token": eos,
                   "clean_up_tokenization_spaces": clean_up}, fh)
    g = mtg.make_golden(name, os.path.relpath(tmp, ROOT), "auto", cases, wiki)
    g["folder"] = os.path.relpath(path, ROOT)
    g["reference_tokenizer_json"] = "the tokenizer.json its GGUF metadata was written from (not committed)"
    with open(os.path.join(TOK_GOLDENS, name + ".json"), "w", encoding="utf-8") as fh:
        json.dump(g, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    shutil.rmtree(tmp)


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    os.makedirs(GOLDENS, exist_ok=True)
    cases = mtg.load_cases()
    wiki = mtg.wikitext_protocol_text()
    legacy = {"q": T.Q8_0, "k": T.Q5_1, "v": T.Q4_1, "o": T.Q5_0, "gate": T.Q4_0, "up": T.Q8_0, "down": T.Q5_1}
    specs = [
        dict(name="tiny-llama-smollm", arch="llama", pre="smollm", vocab_size=512, hidden=256, layers=2, heads=4,
             kv_heads=1, ffn=256, tied=False, bias=False, add_bos=False, bos_eos=("<|im_start|>", "<|im_end|>"),
             types={"embd": T.Q4_0, "output": T.Q6_K, "layers": [
                 {"q": T.Q4_K, "k": T.Q5_K, "v": T.Q6_K, "o": T.Q3_K, "gate": T.Q2_K, "up": T.Q4_0, "down": T.Q8_0},
                 {"q": T.Q4_1, "k": T.F16, "v": T.BF16, "o": T.Q5_0, "gate": T.Q5_1, "up": T.Q4_K, "down": T.Q6_K}]}),
        dict(name="tiny-qwen2", arch="qwen2", pre="qwen2", vocab_size=400, hidden=64, layers=1, heads=4, kv_heads=2,
             ffn=128, tied=True, bias=True, add_bos=False, bos_eos=("<|endoftext|>", "<|im_end|>"),
             types={"embd": T.Q8_0, "layers": [legacy]}),
        dict(name="tiny-llama3-bpe", arch="llama", pre="llama-bpe", vocab_size=400, hidden=64, layers=1, heads=4,
             kv_heads=4, ffn=128, tied=False, bias=False, add_bos=True, bos_eos=("<|begin_of_text|>", "<|end_of_text|>"),
             types={"embd": T.F16, "output": T.F16, "layers": [{k: T.F16 for k in legacy}]}),
        dict(name="tiny-gpt2-pre", arch="llama", pre="gpt-2", vocab_size=400, hidden=64, layers=1, heads=2,
             kv_heads=1, ffn=128, tied=True, bias=False, add_bos=False, bos_eos=("<|endoftext|>", "<|endoftext|>"),
             types={"embd": T.BF16, "layers": [{k: T.BF16 for k in legacy}]}),
    ]
    for i, s in enumerate(specs):
        path, tok, tied = write_model(seed=100 + i, **s)
        print("%s: %d bytes" % (s["name"], os.path.getsize(path)), file=sys.stderr)
        model_goldens(s["name"], path, tied, seed=200 + i)
        # clean_up_tokenization_spaces as the family's tokenizer_config.json (and llama.cpp's
        # clean_spaces): Llama 3 and GPT-2 true, SmolLM and Qwen2 false.
        tokenizer_goldens(s["name"], path, tok, s["bos_eos"][0], s["bos_eos"][1], s["pre"] in ("llama-bpe", "gpt-2"),
                          cases, wiki)
    return 0


if __name__ == "__main__":
    sys.exit(main())
