#!/usr/bin/env python3
"""Write the committed seed corpora of the libFuzzer targets (tools/fuzz/run_fuzz.sh).

  seeds/config_json     every config.json of the test fixtures and of the broken-model corpus
                        (files under 16 KB), plus the bundled model's
  seeds/tokenizer_json  the fixtures' tokenizer.json files cut down to about 60 tokens (small
                        inputs mutate fast), each with its tokenizer_config.json appended after
                        the "#tokenizer_config.json#" line the target splits on, and a few
                        hand-made variants (byte fallback, added tokens, RobertaProcessing)
  seeds/workspace       .qscope workspaces in the format of docs/formats.md: empty, typical
                        (results, views, fingerprint), every method, per-channel and per-tensor

Standard library only; deterministic. Re-run after changing the fixtures:
    python3 tools/fuzz/make_seeds.py
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
OUT = Path(__file__).resolve().parent / "seeds"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def config_seeds() -> int:
    n = 0
    sources = sorted((REPO / "tests" / "data").rglob("config.json")) + [
        REPO / "resources" / "models" / "TinyStories-656K" / "config.json"]
    for p in sources:
        if p.stat().st_size > 16384:
            continue
        rel = p.parent.relative_to(REPO).as_posix().replace("/", "_")
        shutil.copyfile(p, OUT / "config_json" / (rel + ".json"))
        n += 1
    return n


def shrink(tok: dict, keep: int) -> dict:
    """The same tokenizer with its first `keep` ids (plus added tokens) and the merges among them."""
    t = json.loads(json.dumps(tok))
    vocab = t["model"]["vocab"]
    kept = {k: v for k, v in vocab.items() if v < keep}
    added_ids = {a["id"] for a in t.get("added_tokens", [])}
    for a in t.get("added_tokens", []):
        if a["content"] in vocab:
            kept[a["content"]] = vocab[a["content"]]
    t["model"]["vocab"] = kept
    merges = []
    for m in t["model"].get("merges", []):
        a, b = m.split(" ", 1) if isinstance(m, str) else m
        if a in kept and b in kept and (a + b) in kept:
            merges.append(m)
    t["model"]["merges"] = merges
    t["added_tokens"] = [a for a in t.get("added_tokens", []) if a["id"] in kept.values() or a["id"] in added_ids]
    return t


def tokenizer_seeds() -> int:
    n = 0
    fixtures = [REPO / "tests/data/tokenizers/metaspace-synthetic", REPO / "tests/data/tokenizers/llama3-style-synthetic",
                REPO / "tests/data/tokenizers/qwen2-style-synthetic", REPO / "tests/data/models/stories260K"]
    for d in fixtures:
        tok = json.loads((d / "tokenizer.json").read_text())
        small = json.dumps(shrink(tok, 60), ensure_ascii=False)
        write(OUT / "tokenizer_json" / (d.name + ".json"), small)
        n += 1
        cfg = d / "tokenizer_config.json"
        if cfg.exists():
            write(OUT / "tokenizer_json" / (d.name + "+config.json"),
                  small + "\n#tokenizer_config.json#\n" + cfg.read_text())
            n += 1
    base = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 0, "content": "<unk>", "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True},
                         {"id": 1, "content": "<s>", "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                           {"type": "Replace", "pattern": {"String": " "},
                                                            "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                     {"type": "ByteFallback"}, {"type": "Fuse"},
                                                     {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "vocab": {"<unk>": 0, "<s>": 1, "<0x41>": 2, "\u2581": 3, "a": 4, "b": 5, "ab": 6, "\u2581ab": 7},
                  "merges": ["a b", "\u2581 ab"]},
    }
    write(OUT / "tokenizer_json" / "byte_fallback.json", json.dumps(base, ensure_ascii=False))
    roberta = json.loads(json.dumps(base))
    roberta["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1],
                                 "trim_offsets": True, "add_prefix_space": False}
    roberta["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    roberta["normalizer"] = None
    roberta["model"]["vocab"]["</s>"] = 8
    write(OUT / "tokenizer_json" / "roberta_bytelevel.json", json.dumps(roberta, ensure_ascii=False))
    n += 2
    return n


def workspace_seeds() -> int:
    cfg = {"methods": ["rtn"], "w_bits": 4, "w_quant": "per-group", "group_size": 128, "symmetric": False,
           "fp16_scales": False, "include_lm_head": False, "awq_salient": 0.01, "awq_factor": 2.0, "awq_clip": False,
           "duo_scaling": False, "awq_direct_loss": False, "sq_alpha": 0.5, "a_bits": 0, "act_quant": "per-token",
           "quantize_bmm": False, "rotation": "random", "seed": 0, "calib": "default", "calib_samples": 128,
           "calib_seqlen": 512, "calib_seed": 42}
    model = {"path": "/models/tiny", "path_relative": "../models/tiny", "tokenizer": "", "device": "cpu", "dtype": "fp32",
             "fingerprint": {"model_type": "llama", "hidden_size": 128, "num_layers": 2, "vocab_size": 2048,
                             "intermediate_size": 384}}
    row = {"label": "rtn w4", "configuration": cfg, "dataset": "wikitext2", "protocol": "llm-awq", "device": "cpu",
           "dtype": "fp32", "seqlen": 512, "nsamples": 10, "seconds": 1.5, "ppl": 12.5,
           "size_mib_seed_formula": 0.3, "size_mib_packed": 0.31, "extra": {"note": "x"}}
    typical = {"quantscope_workspace": 1, "model": model, "configuration": cfg, "applied": True,
               "evaluation": {"dataset": "wikitext2", "seqlen": 0, "nsamples": 10, "batch": 1},
               "results": [row, dict(row, label="baseline", ppl=None, configuration={"methods": []})],
               "views": [{"kind": "heatmap", "linear": "model.layers.0.mlp.up_proj", "settings": {"log": True}},
                         {"kind": "ppl-sweep", "linear": "", "settings": {}}],
               "selected_view": 1, "selected_linear": "model.layers.0.mlp.up_proj", "ui": {"baseline": True}}
    seeds = {
        "minimal": {"quantscope_workspace": 1, "model": {"path": "/m"}},
        "typical": typical,
        "every_method": dict(typical, configuration=dict(cfg, methods=["rotate", "smoothquant", "awq", "rtn"],
                                                         rotation="hadamard", a_bits=8, quantize_bmm=True,
                                                         awq_clip=True, duo_scaling=True)),
        "per_channel": dict(typical, configuration=dict(cfg, w_quant="per-channel", group_size=-1, symmetric=True,
                                                        w_bits=8, methods=["awq-scale"], awq_factor=3.25)),
        "per_tensor": dict(typical, configuration=dict(cfg, w_quant="per-tensor", methods=["awq-keep"],
                                                       awq_salient=0.05), applied=False,
                           ui={"applied_configuration": cfg}),
    }
    for name, ws in seeds.items():
        write(OUT / "workspace" / (name + ".qscope"), json.dumps(ws, indent=1))
    return len(seeds)


def main() -> None:
    for sub in ("config_json", "tokenizer_json", "workspace"):
        shutil.rmtree(OUT / sub, ignore_errors=True)
        (OUT / sub).mkdir(parents=True)
    print("config_json: %d seeds" % config_seeds())
    print("tokenizer_json: %d seeds" % tokenizer_seeds())
    print("workspace: %d seeds" % workspace_seeds())


if __name__ == "__main__":
    main()
