#!/usr/bin/env python3
"""Goldens for the real-model tests on SmolLM2-135M-Instruct (GGUF Q4_1), made with transformers.

    python tools/goldens/make_smollm2_goldens.py [PATH.gguf]

PATH defaults to $QS_SMOLLM2_GGUF, else ../shared/models/SmolLM2-135M-Instruct-Q4_1/ next to the
repository (tools/fetch_smollm2.sh fetches the same file). The file itself is not committed
(98 MB); these goldens are (small), with its sha256.

Reference model: transformers' own GGUF loader (gguf-py dequantizes, transformers undoes the q/k
permutation), LlamaForCausalLM in float32, eager attention. transformers 4.46.3 leaves lm_head
untied and randomly initialised for this file (the GGUF has no output.weight: tied embeddings);
the script ties it (tie_word_embeddings=True), as the original model's config.json says.

Reference tokenizer: the Hugging Face tokenizer.json of SmolLM2 rebuilt from the GGUF metadata
(vocab, merges, CONTROL tokens as special added tokens; the pre-tokenizer of llama.cpp's `smollm`
type, i.e. SmolLM's Digits(individual) + ByteLevel; no BOS: tokenizer.ggml.add_bos_token is
false), run by PreTrainedTokenizerFast. transformers' GGUF tokenizer converter is also run and its
disagreements are recorded (it drops the digit pre-tokenizer and adds <|im_start|> as BOS).

Writes tests/data/goldens/tokenizers/SmolLM2-135M-Instruct-gguf.json (the same layout as
make_tokenizer_goldens.py) and tests/data/goldens/smollm2/:
  smollm2.safetensors  input_ids [2, 64] (row 0: the first 64 wikitext ids, row 1: seeded random),
                       logits_at [2, 64, 512] (logits at the columns col_ids [512]: the 5 ids
                       0..4, then seeded random ids), logsumexp [2, 64], top5 [2, 64, 5],
                       greedy_prompt [1, 5] ("The capital of France is"), greedy_tokens [1, 24]
  smollm2.json         versions, sha256, wikitext-2 perplexity (seqlen 2048, first 4 windows,
                       per-window mean CE), greedy text, transformers-GGUF tokenizer comparison
"""
import hashlib
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_tokenizer_goldens as mtg  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT = os.path.join(ROOT, "..", "shared", "models", "SmolLM2-135M-Instruct-Q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "tests", "data", "goldens", "smollm2")
SEQLEN, NWINDOWS = 2048, 4


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def faithful_tokenizer_dir(gguf_path, out_dir):
    """tokenizer.json + tokenizer_config.json of SmolLM2, rebuilt from the GGUF metadata."""
    import gguf
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    r = gguf.GGUFReader(gguf_path)
    f = r.fields
    assert f["tokenizer.ggml.model"].contents() == "gpt2" and f["tokenizer.ggml.pre"].contents() == "smollm"
    tokens = f["tokenizer.ggml.tokens"].contents()
    types = f["tokenizer.ggml.token_type"].contents()
    merges = [tuple(m.split(" ", 1)) for m in f["tokenizer.ggml.merges"].contents()]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))
    bos = tokens[int(f["tokenizer.ggml.bos_token_id"].contents())]
    eos = tokens[int(f["tokenizer.ggml.eos_token_id"].contents())]
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as fh:
        json.dump({"tokenizer_class": "GPT2Tokenizer", "bos_token": bos, "eos_token": eos,
                   "unk_token": tokens[0], "clean_up_tokenization_spaces": False,
                   "add_prefix_space": False}, fh)
    return bool(f["tokenizer.ggml.add_bos_token"].contents())


def main():
    import torch
    import transformers

    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("QS_SMOLLM2_GGUF", DEFAULT)
    path = os.path.abspath(path)
    digest = sha256(path)
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)

    # --- tokenizer goldens --------------------------------------------------------------
    tmp = tempfile.mkdtemp(prefix="smollm2_tok_")
    add_bos = faithful_tokenizer_dir(path, tmp)
    assert not add_bos
    cases = mtg.load_cases()
    wiki = mtg.wikitext_protocol_text()
    g = mtg.make_golden("SmolLM2-135M-Instruct-gguf", os.path.relpath(tmp, ROOT), "auto", cases, wiki)
    g["folder"] = "tokenizer.json rebuilt from the GGUF metadata by tools/goldens/make_smollm2_goldens.py"
    g["gguf_sha256"] = digest
    ref = transformers.AutoTokenizer.from_pretrained(tmp)
    gguf_tok = transformers.AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    differ = [c["name"] for c in g["cases"] if gguf_tok(c["text"], add_special_tokens=False)["input_ids"] != c["ids"]]
    wiki_gguf = gguf_tok(wiki, add_special_tokens=False)["input_ids"]
    wiki_ref = ref(wiki, add_special_tokens=True)["input_ids"]
    g["transformers_gguf_tokenizer"] = {
        "class": type(gguf_tok).__name__, "bos_token": gguf_tok.bos_token,
        "adds_bos": gguf_tok("a")["input_ids"][:1] == [gguf_tok.bos_token_id],
        "cases_differing_without_special_tokens": differ,
        "wikitext_ids_equal_without_special_tokens": wiki_gguf == wiki_ref,
        "wikitext_count_without_special_tokens": len(wiki_gguf)}
    with open(os.path.join(ROOT, "tests/data/goldens/tokenizers/SmolLM2-135M-Instruct-gguf.json"), "w",
              encoding="utf-8") as fh:
        json.dump(g, fh, ensure_ascii=False, separators=(",", ":"))
        fh.write("\n")
    print("tokenizer: %d cases, wikitext %d ids; transformers' GGUF tokenizer differs on %d cases"
          % (len(g["cases"]), g["wikitext"]["count"], len(differ)), file=sys.stderr)

    # --- model goldens ------------------------------------------------------------------
    model = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.dirname(path), gguf_file=os.path.basename(path), torch_dtype=torch.float32,
        tie_word_embeddings=True, attn_implementation="eager")
    model.eval()
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    V = model.config.vocab_size
    gen = torch.Generator().manual_seed(1234)
    row0 = torch.tensor(wiki_ref[:64])
    row1 = torch.randint(0, V, (64,), generator=gen)
    input_ids = torch.stack([row0, row1])
    col_ids = torch.cat([torch.arange(5), torch.randint(5, V, (507,), generator=gen)])
    with torch.no_grad():
        logits = model(input_ids).logits.float()
        logits64 = model.double()(input_ids).logits
        model.float()
    spread = (logits.double() - logits64).abs().max().item()
    tensors = {"input_ids": input_ids.contiguous(), "col_ids": col_ids.contiguous(),
               "logits_at": logits[:, :, col_ids].contiguous(),
               "logsumexp": torch.logsumexp(logits, dim=-1).contiguous(),
               "top5": torch.topk(logits, 5, dim=-1).indices.contiguous()}

    prompt = ref("The capital of France is", add_special_tokens=True, return_tensors="pt").input_ids
    ids = prompt.clone()
    past = None
    out = []
    gaps = []
    with torch.no_grad():
        step = ids
        for _ in range(24):
            o = model(step, past_key_values=past, use_cache=True)
            past = o.past_key_values
            last = o.logits[0, -1]
            top2 = torch.topk(last, 2).values
            gaps.append((top2[0] - top2[1]).item())
            nxt = int(torch.argmax(last))
            out.append(nxt)
            step = torch.tensor([[nxt]])
    tensors["greedy_prompt"] = prompt.contiguous()
    tensors["greedy_tokens"] = torch.tensor([out]).contiguous()

    import safetensors.torch
    safetensors.torch.save_file(tensors, os.path.join(OUT, "smollm2.safetensors"),
                                metadata={"made_by": "tools/goldens/make_smollm2_goldens.py", "gguf_sha256": digest})

    # --- perplexity -----------------------------------------------------------------------
    all_ids = torch.tensor(wiki_ref)
    nlls = []
    t0 = time.time()
    with torch.no_grad():
        for w in range(NWINDOWS):
            x = all_ids[w * SEQLEN:(w + 1) * SEQLEN].unsqueeze(0)
            lg = model(x).logits.float()
            ce = torch.nn.functional.cross_entropy(lg[0, :-1], x[0, 1:])
            nlls.append(ce.item())
    ppl = float(np.exp(np.mean(nlls)))
    meta = {"made_by": "tools/goldens/make_smollm2_goldens.py", "gguf": os.path.basename(path),
            "gguf_sha256": digest, "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                                                "gguf": __import__("gguf").__version__ if hasattr(__import__("gguf"), "__version__") else "0.19.0"},
            "reference": "transformers GGUF loader, LlamaForCausalLM fp32 eager, lm_head tied to embed_tokens",
            "observed": {"max_abs_logits_fp32_vs_fp64": spread, "min_greedy_top2_gap": min(gaps)},
            "greedy_text": ref.decode(out), "wikitext_tokens": len(wiki_ref),
            "ppl": {"protocol": "wikitext-2 test, \"\\n\\n\".join(rows), no BOS (the tokenizer adds none), "
                                "non-overlapping windows of 2048, first 4, fp32",
                    "seqlen": SEQLEN, "nsamples": NWINDOWS, "nlls": nlls, "ppl": ppl,
                    "seconds": time.time() - t0}}
    with open(os.path.join(OUT, "smollm2.json"), "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print("ppl %.6f, greedy %r, fp32-vs-fp64 %.2e" % (ppl, meta["greedy_text"], spread), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
