#!/usr/bin/env python3
"""Token-id goldens for QuantScope's C++ tokenizers, produced by the real Hugging Face
`transformers` / `tokenizers` / `sentencepiece` libraries.

    /work/pyenv/venv/bin/python tools/goldens/make_tokenizer_goldens.py            # goldens
    /work/pyenv/venv/bin/python tools/goldens/make_tokenizer_goldens.py --synthetic  # also rebuild
                                                       the small synthetic tokenizer.json fixtures

Reference tokenizer per fixture (the one the field uses, llm-awq: slow where it loads slow):
  tokenizer.json folders        -> AutoTokenizer (PreTrainedTokenizerFast over `tokenizers`)
  tokenizer.model (SentencePiece) -> LlamaTokenizer (slow, legacy=True default), as llm-awq
  vocab.json + merges.txt       -> GPT2Tokenizer (slow), as llm-awq (use_fast=False)
The script also runs the alternative implementation (fast vs slow, raw `tokenizers`) and
prints any disagreement, so a golden never silently depends on which one was picked.

Output: tests/data/goldens/tokenizers/<name>.json with
  cases:   [{name, text, ids (add_special_tokens=False), ids_special (True),
             decode (ids_special, skip_special_tokens=True), decode_keep (skip=False)}]
  decode_only: [{ids, decode, decode_keep}]  random id sequences
  wikitext: the wikitext-2 test protocol text (rows = lines, blank lines "", "\n\n".join)
            encoded with special tokens: count, fnv1a64, first 2000 ids.
FNV-1a 64: h = 0xcbf29ce484222325; for each id, for each of the 4 little-endian bytes of
uint32(id): h ^= byte; h = (h * 0x100000001b3) mod 2^64. Stored as a 16-digit hex string.
"""
import argparse
import json
import os
import random
import re
import sys
import time

import zstandard

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEXT_DIR = os.path.join(ROOT, "tests/data/tokenizer_texts")
OUT_DIR = os.environ.get("QS_GOLDEN_OUT") or os.path.join(ROOT, "tests/data/goldens/tokenizers")
WIKI_ZST = os.path.join(ROOT, "resources/data/wikitext-2-raw-v1/wiki.test.raw.zst")
SYN_DIR = os.path.join(ROOT, "tests/data/tokenizers")

# name -> (folder relative to the repo root, reference loader)
TOKENIZERS = {
    "TinyStories-656K": ("resources/models/TinyStories-656K", "auto"),
    "stories260K": ("tests/data/models/stories260K", "auto"),
    "llama2-sentencepiece": ("tests/data/tokenizers/llama2-sentencepiece", "llama-slow"),
    "gpt2-bpe": ("tests/data/tokenizers/gpt2-bpe", "gpt2-slow"),
    "opt-bpe": ("tests/data/tokenizers/opt-bpe", "gpt2-slow"),
    "llama3-style-synthetic": ("tests/data/tokenizers/llama3-style-synthetic", "auto"),
    "qwen2-style-synthetic": ("tests/data/tokenizers/qwen2-style-synthetic", "auto"),
    "metaspace-synthetic": ("tests/data/tokenizers/metaspace-synthetic", "auto"),
}

EXTRA_CASES = ["", " ", "  ", "\n", "\n\n", " \n ", "a", " a", "a ", "  a", "\u2581", "\u2581a",
               "Hello world", "Hello  world", "hello\nworld", "\t", "\r\n", "é", "😀", "日本",
               "'s", "it's", "IT'S", "x'ſ", "1234567", "a1b2c3", " \u00a0 x", "\u3000\u3000z"]


# Random texts from pieces that stress the pre-tokenizer regexes, normalization, added-token
# matching (lstrip/rstrip/single_word) and byte fallback.
RANDOM_POOL = [" ", "  ", "   ", "\n", "\n\n", "\t", "\r\n", "\u00a0", "\u3000", "\u2009", "a", "b", "e", "s",
               "t", "x", "'", "'s", "'T", "'ll", "\u017f", "I'm", "0", "1", "7", "42", "12345", "\u00bd", "\u0663",
               ".", ",", "!", "?", "-", "@-@", "...", "(", ")", "$", "\u00e9", "e\u0301", "\u00f1", "\u03a9", "\u01c5",
               "\u65e5", "\u672c", "\u8a9e", "\U0001F600", "\U0001F44D\U0001F3FD", "\u200d", "\u200b",
               "\u2581", "<s>", "</s>", "<unk>", "<|endoftext|>", "<|start_story|>", "<|end_story|>",
               "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>", " dog is",
               "[[TAG]]", "<0x41>", "<pad>", "<mask>", "Hello", " world", "don't", "\x1f", "\x85", "\uff21\uff22",
               "\U0001D7D8", "\ufb01", "\u1100\u1161", "A\u030a", "\u212b", "q\u0307\u0323", "\u0958",
               "\U00020000", "\ufeff", "_", "story", "Lily", " the", "ing"]


def random_cases(n=int(os.environ.get("QS_RANDOM_CASES", "160")), seed=int(os.environ.get("QS_RANDOM_SEED", "20240601"))):
    rng = random.Random(seed)
    pool = list(RANDOM_POOL)
    if os.environ.get("QS_RANDOM_UNICODE"):  # stress runs: code points from all over Unicode
        while len(pool) < len(RANDOM_POOL) + 400:
            cp = rng.choice([rng.randrange(0x80, 0x3000), rng.randrange(0x3000, 0x10000), rng.randrange(0x10000, 0x30000)])
            if not 0xD800 <= cp < 0xE000:
                pool.append(chr(cp))
    out = []
    for i in range(n):
        k = rng.randint(0, 14)
        out.append(("random:%d" % i, "".join(rng.choice(pool) for _ in range(k))))
    return out


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for i in ids:
        v = i & 0xFFFFFFFF
        for k in range(4):
            h ^= (v >> (8 * k)) & 0xFF
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def wikitext_protocol_text():
    raw = zstandard.ZstdDecompressor().stream_reader(open(WIKI_ZST, "rb")).read().decode("utf-8")
    lines = raw.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = [("" if l.strip() == "" else l + "\n") for l in lines]
    assert len(rows) == 4358, len(rows)
    return "\n\n".join(rows)


def load_cases():
    cases = []
    for fn in sorted(os.listdir(TEXT_DIR)):
        if not fn.endswith(".txt"):
            continue
        with open(os.path.join(TEXT_DIR, fn), encoding="utf-8", newline="") as f:
            text = f.read()
        cases.append((fn, text))
        for i, line in enumerate(text.split("\n")):
            if line:
                cases.append(("%s:%d" % (fn, i + 1), line))
    for i, t in enumerate(EXTRA_CASES):
        cases.append(("extra:%d" % i, t))
    return cases + random_cases()


class Ref:
    """encode(text, special) -> ids; decode(ids, skip) -> str; plus alternatives for checks."""

    def __init__(self, name, folder, kind):
        import transformers
        self.name, self.kind = name, kind
        path = os.path.join(ROOT, folder)
        self.alts = {}
        if kind == "auto":
            self.tok = transformers.AutoTokenizer.from_pretrained(path)
            import tokenizers
            raw = tokenizers.Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
            self.alts["tokenizers.Tokenizer"] = lambda t, s: raw.encode(t, add_special_tokens=s).ids
        elif kind == "llama-slow":
            self.tok = transformers.LlamaTokenizer.from_pretrained(path)
            import sentencepiece
            sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(path, "tokenizer.model"))
            self.alts["sentencepiece"] = lambda t, s: ([sp.bos_id()] if s else []) + sp.encode(t)
        elif kind == "gpt2-slow":
            self.tok = transformers.GPT2Tokenizer.from_pretrained(path)
            fast = transformers.GPT2TokenizerFast.from_pretrained(path)
            self.alts["GPT2TokenizerFast"] = lambda t, s: fast(t, add_special_tokens=s)["input_ids"]
        else:
            raise ValueError(kind)
        print("%s: %s" % (name, type(self.tok).__name__), file=sys.stderr)

    def encode(self, text, special):
        return self.tok(text, add_special_tokens=special)["input_ids"]

    def decode(self, ids, skip):
        return self.tok.decode(ids, skip_special_tokens=skip)


def make_golden(name, folder, kind, cases, wiki):
    ref = Ref(name, folder, kind)
    out = {"tokenizer": name, "folder": folder, "reference": type(ref.tok).__module__ + "." +
           type(ref.tok).__name__, "transformers": __import__("transformers").__version__,
           "tokenizers": __import__("tokenizers").__version__,
           "sentencepiece": __import__("sentencepiece").__version__,
           "bos_id": ref.tok.bos_token_id, "eos_id": ref.tok.eos_token_id, "vocab_size": len(ref.tok),
           "cases": [], "decode_only": []}
    disagreements = 0
    for cname, text in cases:
        ids = ref.encode(text, False)
        ids_s = ref.encode(text, True)
        for an, alt in ref.alts.items():
            for s, want in ((False, ids), (True, ids_s)):
                got = alt(text, s)
                if got != want:
                    disagreements += 1
                    print("  [%s] %s special=%s: %s differs from reference" % (name, cname, s, an),
                          file=sys.stderr)
        out["cases"].append({"name": cname, "text": text, "ids": ids, "ids_special": ids_s,
                             "decode": ref.decode(ids_s, True), "decode_keep": ref.decode(ids_s, False)})
    rng = random.Random(1234)
    n = len(ref.tok)
    specials = sorted(set(ref.tok.all_special_ids))
    for k in range(12):
        L = rng.randint(1, 40)
        ids = [rng.randrange(n) for _ in range(L)]
        if k % 3 == 0 and specials:
            ids.insert(rng.randrange(len(ids) + 1), rng.choice(specials))
            ids.insert(0, rng.choice(specials))
        out["decode_only"].append({"ids": ids, "decode": ref.decode(ids, True),
                                   "decode_keep": ref.decode(ids, False)})
    if wiki is not None:
        t0 = time.time()
        ids = ref.encode(wiki, True)
        dt = time.time() - t0
        out["wikitext"] = {"protocol": "wikitext-2-raw-v1 test: rows = lines (blank -> \"\", others keep "
                           "\\n), text = \"\\n\\n\".join(rows), add_special_tokens=True",
                           "chars": len(wiki), "count": len(ids), "fnv1a64": fnv1a64(ids),
                           "first_ids": ids[:2000]}
        print("  %s: wikitext %d ids in %.1fs" % (name, len(ids), dt), file=sys.stderr)
        for an, alt in ref.alts.items():
            if alt(wiki, True) != ids:
                disagreements += 1
                print("  [%s] wikitext: %s differs from reference" % (name, an), file=sys.stderr)
    out["alternatives_disagreements"] = disagreements
    return out


# ----------------------------------------------------------------------------------------
# Synthetic tokenizer.json fixtures: small BPE models trained here with `tokenizers` on the
# text set, configured like real Llama 3 / Qwen2 / Metaspace (Mistral-style) tokenizers, so
# the C++ pipeline for those layouts is checked against the real library.
LLAMA3_PAT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PAT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def training_corpus():
    # Only the committed text files (not the random cases, whose settings can change), so that
    # rerunning --synthetic reproduces the committed fixtures.
    texts = [t for name, t in load_cases() if not name.startswith("random:")]
    return texts * 3


def make_synthetic():
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers,
                            processors, trainers)

    def save(tok, sub, config):
        d = os.path.join(SYN_DIR, sub)
        os.makedirs(d, exist_ok=True)
        tok.save(os.path.join(d, "tokenizer.json"))
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")

    corpus = training_corpus()
    # Llama 3 layout: Split(regex) + ByteLevel(use_regex=False), ignore_merges, <|begin_of_text|>.
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PAT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=700, min_frequency=2, show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             special_tokens=["<|begin_of_text|>", "<|end_of_text|>"])
    tok.train_from_iterator(corpus, tr)
    tok.add_special_tokens([AddedToken("<|eot_id|>", special=True, normalized=False),
                            AddedToken("<|start_header_id|>", special=True, normalized=False, lstrip=True),
                            AddedToken("<|end_header_id|>", special=True, normalized=False, rstrip=True)])
    tok.add_tokens([AddedToken(" dog is", normalized=False), AddedToken("[[TAG]]", single_word=True)])
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", tok.token_to_id("<|begin_of_text|>"))])])
    save(tok, "llama3-style-synthetic", {"tokenizer_class": "PreTrainedTokenizerFast",
                                         "bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
                                         "clean_up_tokenization_spaces": True})
    # Qwen2 layout: NFC normalizer, Split(regex, single digits) + ByteLevel, no BOS.
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PAT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tr = trainers.BpeTrainer(vocab_size=600, min_frequency=2, show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.train_from_iterator(corpus, tr)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    save(tok, "qwen2-style-synthetic", {"tokenizer_class": "PreTrainedTokenizerFast",
                                        "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
                                        "clean_up_tokenization_spaces": False})
    # Metaspace pre-tokenizer (prepend_scheme "first"), byte_fallback, GPT-2 style ByteLevel
    # pre-tokenizer with add_prefix_space as a second step is not combined; keep it Mistral-like.
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="\u2581", prepend_scheme="first",
                                                        split=False), decoders.ByteFallback(), decoders.Fuse()])
    bytes_tokens = ["<0x%02X>" % b for b in range(256)]
    tr = trainers.BpeTrainer(vocab_size=900, min_frequency=2, show_progress=False,
                             special_tokens=["<unk>", "<s>", "</s>"] + bytes_tokens)
    tok.train_from_iterator(corpus, tr)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    # Real SentencePiece conversions keep <0xNN> in the model vocab, not as added tokens.
    j = json.loads(tok.to_str())
    j["added_tokens"] = [t for t in j["added_tokens"] if not re.fullmatch(r"<0x[0-9A-F]{2}>", t["content"])]
    tok = Tokenizer.from_str(json.dumps(j))
    save(tok, "metaspace-synthetic", {"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>",
                                      "eos_token": "</s>", "unk_token": "<unk>",
                                      "clean_up_tokenization_spaces": False})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--synthetic", action="store_true", help="rebuild the synthetic tokenizer.json fixtures")
    ap.add_argument("--only", nargs="*", help="names to regenerate")
    a = ap.parse_args()
    if a.synthetic:
        make_synthetic()
    cases = load_cases()
    wiki = wikitext_protocol_text()
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, (folder, kind) in TOKENIZERS.items():
        if a.only and name not in a.only:
            continue
        if not os.path.isdir(os.path.join(ROOT, folder)):
            print("skip %s (no %s)" % (name, folder), file=sys.stderr)
            continue
        g = make_golden(name, folder, kind, cases, wiki)
        with open(os.path.join(OUT_DIR, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(g, f, ensure_ascii=False, separators=(",", ":"))
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
