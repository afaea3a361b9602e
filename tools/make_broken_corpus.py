#!/usr/bin/env python3
"""Build the corpus of broken model folders under tests/data/broken/.

Every case starts from the same tiny, valid 1-layer LLaMA checkpoint that this script
writes itself (hidden 8, 2 heads, 1 KV head, FFN 24, vocab 16, tied embeddings; about
3.7 KB of fp32 weights) and breaks exactly one thing. Only the Python standard library
is used (struct + json + random); the bytes are deterministic, so re-running the script
reproduces the committed files exactly.

Each case folder holds the model files plus one of:
  expected_error.txt    the substring the qs::Error message (and the CLI's stderr) must
                        contain. "{dir}" stands for the model folder as passed to the
                        loader, so "{dir}/model.safetensors: ..." also checks that the
                        error names the file, and "{dir}: ..." that it names the folder.
  expected_warning.txt  (valid cases) a warning the loader must report.
  use_empty_temp_dir    marker: git cannot store an empty folder, so the tests load a
                        freshly created empty temporary folder instead of this one.

Consumers: tests/engine/test_broken_corpus.cpp and tests/cli/broken_corpus.sh.
The .safetensors files also seed the header-parser fuzzer (tools/fuzz/run_fuzz.sh).

    python3 tools/make_broken_corpus.py [--out tests/data/broken]
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import struct
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HIDDEN, FFN, VOCAB, HEADS, KV_HEADS = 8, 24, 16, 2, 1
HEAD_DIM = HIDDEN // HEADS

BASE_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "intermediate_size": FFN,
    "num_hidden_layers": 1,
    "num_attention_heads": HEADS,
    "num_key_value_heads": KV_HEADS,
    "vocab_size": VOCAB,
    "max_position_embeddings": 64,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}

DTYPE_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


# ---------------------------------------------------------------- tensors and files


class T:
    """One stored tensor: name, dtype, shape and its raw little-endian bytes."""

    def __init__(self, name: str, shape: list[int], data: bytes, dtype: str = "F32"):
        self.name, self.shape, self.data, self.dtype = name, list(shape), data, dtype


def f32(values) -> bytes:
    return struct.pack("<%df" % len(values), *values)


def base_tensors(seed: int = 1234) -> list[T]:
    rng = random.Random(seed)

    def rand(name, shape, std=0.1):
        n = math.prod(shape)
        return T(name, shape, f32([rng.gauss(0.0, std) for _ in range(n)]))

    def norm(name):
        return T(name, [HIDDEN], f32([1.0 + rng.gauss(0.0, 0.05) for _ in range(HIDDEN)]))

    l = "model.layers.0."
    ts = [
        rand("model.embed_tokens.weight", [VOCAB, HIDDEN]),
        norm(l + "input_layernorm.weight"),
        rand(l + "mlp.down_proj.weight", [HIDDEN, FFN]),
        rand(l + "mlp.gate_proj.weight", [FFN, HIDDEN]),
        rand(l + "mlp.up_proj.weight", [FFN, HIDDEN]),
        norm(l + "post_attention_layernorm.weight"),
        rand(l + "self_attn.k_proj.weight", [KV_HEADS * HEAD_DIM, HIDDEN]),
        rand(l + "self_attn.o_proj.weight", [HIDDEN, HEADS * HEAD_DIM]),
        rand(l + "self_attn.q_proj.weight", [HEADS * HEAD_DIM, HIDDEN]),
        rand(l + "self_attn.v_proj.weight", [KV_HEADS * HEAD_DIM, HIDDEN]),
        norm("model.norm.weight"),
    ]
    return sorted(ts, key=lambda t: t.name)


def layout(tensors: list[T]) -> tuple[dict, bytearray]:
    """Header dict (with data_offsets in list order) and the data section."""
    header: dict = {"__metadata__": {"format": "pt"}}
    data = bytearray()
    for t in tensors:
        header[t.name] = {"dtype": t.dtype, "shape": t.shape, "data_offsets": [len(data), len(data) + len(t.data)]}
        data += t.data
    return header, data


def encode(header, data: bytes, header_len: int | None = None, raw_header: bytes | None = None) -> bytes:
    """safetensors bytes: u64 little-endian header length, JSON header padded to 8, data."""
    h = raw_header if raw_header is not None else json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    n = len(h) if header_len is None else header_len
    return struct.pack("<Q", n) + h + bytes(data)


def safetensors(tensors: list[T]) -> bytes:
    return encode(*layout(tensors))


def replace(tensors: list[T], name: str, new: T | None) -> list[T]:
    out = [t for t in tensors if t.name != name]
    if new is not None:
        out.append(new)
    return sorted(out, key=lambda t: t.name)


def with_value(t: T, flat_index: int, value: float) -> T:
    vals = list(struct.unpack("<%df" % (len(t.data) // 4), t.data))
    vals[flat_index] = value
    return T(t.name, t.shape, f32(vals), t.dtype)


# ---------------------------------------------------------------- GGUF (llama.cpp) files

# Value types of GGUF metadata (gguf.h enum gguf_type) and the ggml tensor types used here.
GV = {"U8": 0, "I8": 1, "U16": 2, "I16": 3, "U32": 4, "I32": 5, "F32": 6, "BOOL": 7, "STRING": 8, "ARRAY": 9,
      "U64": 10, "I64": 11, "F64": 12}
GGML_F32, GGML_I32 = 0, 26
GV_FMT = {"U8": "<B", "I8": "<b", "U16": "<H", "I16": "<h", "U32": "<I", "I32": "<i", "F32": "<f", "BOOL": "<B",
          "U64": "<Q", "I64": "<q", "F64": "<d"}

# llama.cpp's names for the tensors of base_tensors() (q/k rows are not permuted: the corpus
# checks validation, not numbers).
GGUF_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "model.layers.0.input_layernorm.weight": "blk.0.attn_norm.weight",
    "model.layers.0.post_attention_layernorm.weight": "blk.0.ffn_norm.weight",
    "model.layers.0.self_attn.q_proj.weight": "blk.0.attn_q.weight",
    "model.layers.0.self_attn.k_proj.weight": "blk.0.attn_k.weight",
    "model.layers.0.self_attn.v_proj.weight": "blk.0.attn_v.weight",
    "model.layers.0.self_attn.o_proj.weight": "blk.0.attn_output.weight",
    "model.layers.0.mlp.gate_proj.weight": "blk.0.ffn_gate.weight",
    "model.layers.0.mlp.up_proj.weight": "blk.0.ffn_up.weight",
    "model.layers.0.mlp.down_proj.weight": "blk.0.ffn_down.weight",
}


class GT:
    """One GGUF tensor: name, torch shape (stored reversed as ggml's ne), ggml type, bytes."""

    def __init__(self, name: str, shape: list[int], data: bytes, ggml_type: int = GGML_F32, ne=None, offset=None):
        self.name, self.shape, self.data, self.type = name, list(shape), data, ggml_type
        self.ne = list(reversed(shape)) if ne is None else list(ne)
        self.offset = offset  # None: laid out in order, aligned


def gguf_base_kv() -> list[tuple[str, str, object]]:
    return [
        ("general.architecture", "STRING", "llama"),
        ("general.name", "STRING", "broken-corpus tiny llama"),
        ("llama.block_count", "U32", 1),
        ("llama.context_length", "U32", 64),
        ("llama.embedding_length", "U32", HIDDEN),
        ("llama.feed_forward_length", "U32", FFN),
        ("llama.attention.head_count", "U32", HEADS),
        ("llama.attention.head_count_kv", "U32", KV_HEADS),
        ("llama.attention.layer_norm_rms_epsilon", "F32", 1e-5),
        ("llama.rope.freq_base", "F32", 10000.0),
        ("tokenizer.ggml.bos_token_id", "U32", 1),
        ("tokenizer.ggml.eos_token_id", "U32", 2),
    ]


def gguf_base_tensors() -> list[GT]:
    return [GT(GGUF_NAMES[t.name], t.shape, t.data) for t in base_tensors()]


def gguf_str(s, version: int = 3) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<I" if version == 1 else "<Q", len(b)) + b


def gguf_value(vtype: str, v, version: int = 3) -> bytes:
    """The bytes after a key: u32 type, then the value. Arrays: ("ARRAY", (elem_type, [values]))."""
    out = struct.pack("<I", GV[vtype])
    if vtype == "STRING":
        return out + gguf_str(v, version)
    if vtype == "ARRAY":
        elem, items = v
        out += struct.pack("<I", GV[elem]) + struct.pack("<I" if version == 1 else "<Q", len(items))
        for item in items:
            out += gguf_str(item, version) if elem == "STRING" else struct.pack(GV_FMT[elem], item)
        return out
    return out + struct.pack(GV_FMT[vtype], v)


def gguf(kvs=None, tensors=None, version: int = 3, alignment: int = 32, magic: bytes = b"GGUF",
         n_kv=None, n_tensors=None, raw_kv: bytes | None = None) -> bytes:
    """A GGUF file: magic, version, counts, key/values, tensor infos, padding, data (aligned)."""
    kvs = gguf_base_kv() if kvs is None else kvs
    tensors = gguf_base_tensors() if tensors is None else tensors
    cnt = "<I" if version == 1 else "<Q"
    out = bytearray(magic + struct.pack("<I", version))
    out += struct.pack(cnt, len(tensors) if n_tensors is None else n_tensors)
    out += struct.pack(cnt, len(kvs) if n_kv is None else n_kv)
    if raw_kv is not None:
        out += raw_kv
    for key, vtype, v in kvs:
        out += gguf_str(key, version) + gguf_value(vtype, v, version)
    data = bytearray()
    for t in tensors:
        while len(data) % alignment:
            data.append(0)
        offset = len(data) if t.offset is None else t.offset
        data += t.data
        out += gguf_str(t.name, version) + struct.pack("<I", len(t.ne))
        for d in t.ne:
            out += struct.pack("<I" if version == 1 else "<Q", d)
        out += struct.pack("<IQ", t.type, offset)
    while len(out) % alignment:
        out.append(0)
    return bytes(out + data)


def gguf_offsets(tensors: list[GT], alignment: int = 32) -> dict[str, int]:
    """Where gguf() lays each tensor's data out (offsets in the data section)."""
    out, pos = {}, 0
    for t in tensors:
        pos = (pos + alignment - 1) // alignment * alignment
        out[t.name] = pos
        pos += len(t.data)
    return out


def gguf_kv(**changes) -> list[tuple[str, str, object]]:
    """The base key/values with some replaced (key with '.' as '__'), removed (None) or added."""
    kv = gguf_base_kv()
    for k, v in changes.items():
        key = k.replace("__", ".")
        kv = [e for e in kv if e[0] != key]
        if v is not None:
            kv.append((key,) + tuple(v))
    return kv


def gguf_replace(tensors: list[GT], name: str, new: GT | None) -> list[GT]:
    out = [t if t.name != name else new for t in tensors]
    return [t for t in out if t is not None]


# ---------------------------------------------------------------- the corpus

CASES: list[tuple[str, str, dict, str]] = []  # (name, what, files, expected)


def case(name: str, what: str, files: dict, expected: str, kind: str = "error") -> None:
    CASES.append((name, what, files, expected, kind))


def config_json(**changes) -> bytes:
    c = dict(BASE_CONFIG)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return (json.dumps(c, indent=2) + "\n").encode()


def build_cases() -> None:
    ts = base_tensors()
    cfg = config_json()
    good = safetensors(ts)
    header, data = layout(ts)
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hpad = len(hjson) + (8 - len(hjson) % 8) % 8
    data_size = len(data)
    L = "model.layers.0."

    def st(h=None, d=None, **kw):
        return encode(header if h is None else h, data if d is None else d, **kw)

    def hcopy():
        return json.loads(json.dumps(header))

    # --- the safetensors container ------------------------------------------------
    case("truncated_tiny", "model.safetensors cut to its first 5 bytes",
         {"config.json": cfg, "model.safetensors": good[:5]},
         "{dir}/model.safetensors: file is 5 bytes, too short for a safetensors header (truncated?)")
    case("empty_weights_file", "model.safetensors is 0 bytes",
         {"config.json": cfg, "model.safetensors": b""},
         "{dir}/model.safetensors: file is 0 bytes, too short for a safetensors header")
    cut = 8 + hpad // 2
    case("truncated_in_header", "file cut in the middle of the JSON header",
         {"config.json": cfg, "model.safetensors": good[:cut]},
         "{dir}/model.safetensors: header length %d goes beyond the end of the file (%d bytes;" % (hpad, cut))
    case("header_length_beyond_file", "header length field says 1,000,000 bytes; the file is a few KB",
         {"config.json": cfg, "model.safetensors": st(header_len=1_000_000)},
         "{dir}/model.safetensors: header length 1000000 goes beyond the end of the file (%d bytes;" % len(good))
    case("header_length_huge", "header length field is 2^64-1 (overflow bait)",
         {"config.json": cfg, "model.safetensors": st(header_len=2**64 - 1)},
         "{dir}/model.safetensors: header length 18446744073709551615 goes beyond the end of the file")
    garbage = (b"this is not JSON at all " * (hpad // 24 + 1))[:hpad]
    case("header_not_json", "the header bytes are plain text",
         {"config.json": cfg, "model.safetensors": st(raw_header=garbage)},
         "{dir}/model.safetensors: header is not valid JSON")
    case("header_not_object", "the header is a JSON array",
         {"config.json": cfg, "model.safetensors": encode(None, b"", raw_header=b"[1,2,3]")},
         "{dir}/model.safetensors: header is not a JSON object")
    trunc = good[: len(good) - 100]
    # nlohmann::json iterates keys in sorted order: v_proj (ends 32 bytes before the end)
    # is the first tensor found outside the shortened data section.
    v_end = header[L + "self_attn.v_proj.weight"]["data_offsets"][1]
    case("truncated_data", "the last 100 bytes of the data section are cut off",
         {"config.json": cfg, "model.safetensors": trunc},
         "{dir}/model.safetensors: tensor '%sself_attn.v_proj.weight': data_offsets end %d lies outside the data "
         "section (%d bytes; file truncated?)" % (L, v_end, data_size - 100))

    h = hcopy()
    h["model.norm.weight"]["dtype"] = "Q3"
    case("unknown_dtype", "model.norm.weight has dtype 'Q3'",
         {"config.json": cfg, "model.safetensors": st(h)},
         "{dir}/model.safetensors: tensor 'model.norm.weight': unknown dtype 'Q3'")
    h = hcopy()
    h[L + "mlp.up_proj.weight"]["dtype"] = "F16"
    case("dtype_size_mismatch", "up_proj says F16 but its byte range holds F32 data",
         {"config.json": cfg, "model.safetensors": st(h)},
         "{dir}/model.safetensors: tensor '%smlp.up_proj.weight': shape [24, 8] x F16 needs 384 bytes but "
         "data_offsets span 768" % L)
    h = hcopy()
    h[L + "mlp.up_proj.weight"]["shape"] = [24, 9]
    case("shape_size_mismatch", "up_proj's shape [24, 9] does not match its 768-byte range",
         {"config.json": cfg, "model.safetensors": st(h)},
         "{dir}/model.safetensors: tensor '%smlp.up_proj.weight': shape [24, 9] x F32 needs 864 bytes but "
         "data_offsets span 768" % L)
    h = hcopy()
    b, e = h["model.norm.weight"]["data_offsets"]
    h["model.norm.weight"]["data_offsets"] = [data_size + 4096, data_size + 4096 + (e - b)]
    case("offsets_out_of_file", "model.norm.weight's data_offsets point 4 KB past the end of the file",
         {"config.json": cfg, "model.safetensors": st(h)},
         "{dir}/model.safetensors: tensor 'model.norm.weight': data_offsets end %d lies outside the data section"
         % (data_size + 4096 + (e - b)))
    h = hcopy()
    h["model.norm.weight"]["data_offsets"] = [e, b]
    case("offsets_reversed", "model.norm.weight's data_offsets end before they begin",
         {"config.json": cfg, "model.safetensors": st(h)},
         "{dir}/model.safetensors: tensor 'model.norm.weight': data_offsets [%d, %d] end before begin" % (e, b))
    h = hcopy()
    kb, ke = h[L + "self_attn.k_proj.weight"]["data_offsets"]
    h[L + "self_attn.v_proj.weight"]["data_offsets"] = [kb + 16, ke + 16]
    case("overlapping_offsets", "v_proj's byte range starts 16 bytes into k_proj's",
         {"config.json": cfg, "model.safetensors": st(h)},
         "{dir}/model.safetensors: tensor '%sself_attn.v_proj.weight' bytes [%d, %d) overlap the previous tensor "
         "(which ends at %d)" % (L, kb + 16, ke + 16, ke))
    # A 16-byte hole in front of o_proj: every later tensor shifts by 16.
    h = hcopy()
    ob = h[L + "self_attn.o_proj.weight"]["data_offsets"][0]
    for name, ent in h.items():
        if name != "__metadata__" and ent["data_offsets"][0] >= ob:
            ent["data_offsets"] = [x + 16 for x in ent["data_offsets"]]
    case("gap_in_data", "16 unindexed bytes between k_proj and o_proj",
         {"config.json": cfg, "model.safetensors": st(h, data[:ob] + bytes(16) + data[ob:])},
         "{dir}/model.safetensors: unindexed gap of 16 bytes before tensor '%sself_attn.o_proj.weight'" % L)
    case("trailing_bytes", "32 bytes after the last tensor that no header entry describes",
         {"config.json": cfg, "model.safetensors": st(d=data + bytes(32))},
         "{dir}/model.safetensors: 32 trailing bytes after the last tensor are not described by the header")
    case("weights_is_directory", "model.safetensors is a folder",
         {"config.json": cfg, "model.safetensors/placeholder.txt": b"model.safetensors is a folder in this case\n"},
         "{dir}/model.safetensors: is a folder, expected a regular file")

    # --- tensors against the config ------------------------------------------------
    case("missing_tensor", "up_proj is absent",
         {"config.json": cfg, "model.safetensors": safetensors(replace(ts, L + "mlp.up_proj.weight", None))},
         "{dir}: required tensor '%smlp.up_proj.weight' (shape [24, 8]) is missing from the checkpoint" % L)
    rng = random.Random(7)
    small_up = T(L + "mlp.up_proj.weight", [16, 8], f32([rng.gauss(0, 0.1) for _ in range(128)]))
    case("wrong_shape", "up_proj stored as [16, 8] instead of [24, 8]",
         {"config.json": cfg, "model.safetensors": safetensors(replace(ts, L + "mlp.up_proj.weight", small_up))},
         "{dir}/model.safetensors: tensor '%smlp.up_proj.weight' has shape [16, 8], expected [24, 8]" % L)
    o = next(t for t in ts if t.name == L + "self_attn.o_proj.weight")
    case("nan_weights", "o_proj[2, 3] is NaN",
         {"config.json": cfg,
          "model.safetensors": safetensors(replace(ts, o.name, with_value(o, 2 * 8 + 3, float("nan"))))},
         "{dir}/model.safetensors: tensor '%sself_attn.o_proj.weight' contains NaN or Inf values (1 NaN, 0 Inf; "
         "first at [2, 3])" % L)
    g = next(t for t in ts if t.name == L + "mlp.gate_proj.weight")
    gi = with_value(with_value(g, 5 * 8 + 1, float("-inf")), 20 * 8 + 7, float("inf"))
    case("inf_weights", "gate_proj[5, 1] is -Inf and gate_proj[20, 7] is +Inf",
         {"config.json": cfg, "model.safetensors": safetensors(replace(ts, g.name, gi))},
         "{dir}/model.safetensors: tensor '%smlp.gate_proj.weight' contains NaN or Inf values (0 NaN, 2 Inf; "
         "first at [5, 1])" % L)
    n = next(t for t in ts if t.name == "model.norm.weight")
    ni = T(n.name, n.shape, struct.pack("<8i", *range(8)), "I32")
    case("integer_dtype", "model.norm.weight is stored as I32",
         {"config.json": cfg, "model.safetensors": safetensors(replace(ts, n.name, ni))},
         "{dir}/model.safetensors: tensor 'model.norm.weight' has dtype I32, expected a floating type")
    case("tied_embedding_missing", "tie_word_embeddings is true but neither the embedding nor lm_head is stored",
         {"config.json": cfg, "model.safetensors": safetensors(replace(ts, "model.embed_tokens.weight", None))},
         "{dir}: neither 'model.embed_tokens.weight' nor 'lm_head.weight' is in the checkpoint")
    case("untied_lm_head_missing", "tie_word_embeddings is false and lm_head.weight is absent",
         {"config.json": config_json(tie_word_embeddings=False), "model.safetensors": good},
         "{dir}: required tensor 'lm_head.weight' (shape [16, 8]) is missing from the checkpoint")

    # --- config.json -----------------------------------------------------------------
    case("config_missing_hidden_size", "config.json has no hidden_size",
         {"config.json": config_json(hidden_size=None), "model.safetensors": good},
         "{dir}/config.json: missing required key 'hidden_size' for LlamaForCausalLM")
    case("config_missing_model_type", "config.json has no model_type",
         {"config.json": config_json(model_type=None), "model.safetensors": good},
         "{dir}/config.json: missing required key 'model_type'")
    case("config_invalid_json", "config.json is cut off in the middle",
         {"config.json": cfg[: len(cfg) // 2], "model.safetensors": good},
         "{dir}/config.json: invalid JSON")
    case("config_not_object", "config.json is a JSON array",
         {"config.json": b"[\"llama\"]\n", "model.safetensors": good},
         "{dir}/config.json: expected a JSON object")
    case("config_wrong_type", "hidden_size is a string",
         {"config.json": config_json(hidden_size="8"), "model.safetensors": good},
         "{dir}/config.json: key 'hidden_size' must be a positive integer, found \"8\"")
    case("unknown_model_type", "model_type is gpt2",
         {"config.json": config_json(model_type="gpt2", architectures=["GPT2LMHeadModel"]), "model.safetensors": good},
         "{dir}/config.json: unknown model_type 'gpt2'")
    case("non_causal_architecture", "architectures names a sequence classifier",
         {"config.json": config_json(architectures=["LlamaForSequenceClassification"]), "model.safetensors": good},
         "{dir}/config.json: architecture 'LlamaForSequenceClassification' is not a causal LM")
    case("heads_not_multiple_of_kv_heads", "2 attention heads, 3 KV heads",
         {"config.json": config_json(num_key_value_heads=3), "model.safetensors": good},
         "{dir}/config.json: num_attention_heads 2 is not a multiple of num_key_value_heads 3")
    case("zero_kv_heads", "num_key_value_heads is 0 (was a division by zero)",
         {"config.json": config_json(num_key_value_heads=0), "model.safetensors": good},
         "{dir}/config.json: key 'num_key_value_heads' must be a positive integer, found 0")
    case("negative_head_dim", "head_dim is -4",
         {"config.json": config_json(head_dim=-4), "model.safetensors": good},
         "{dir}/config.json: key 'head_dim' must be a positive integer, found -4")
    case("bad_eos_token_id", "eos_token_id is a list of strings (was an internal error)",
         {"config.json": config_json(eos_token_id=["</s>"]), "model.safetensors": good},
         "{dir}/config.json: key 'eos_token_id' must be a token id or a list of token ids, found [\"</s>\"]")
    # values a model cannot run with (issue #15: NaN perplexities, bad_alloc, rope on odd dims)
    case("config_layers_1e9", "num_hidden_layers is 1,000,000,000 (was std::bad_alloc after allocating GBs)",
         {"config.json": config_json(num_hidden_layers=1_000_000_000), "model.safetensors": good},
         "{dir}/config.json: key 'num_hidden_layers' is 1000000000, more than the 4096")
    case("config_layers_float", "num_hidden_layers is the float 1e9",
         {"config.json": config_json(num_hidden_layers=1e9), "model.safetensors": good},
         "{dir}/config.json: key 'num_hidden_layers' must be a positive integer, found 1000000000.0")
    case("config_layers_beyond_tensors", "num_hidden_layers is 3; the weights hold 1 layer",
         {"config.json": config_json(num_hidden_layers=3), "model.safetensors": good},
         "{dir}/config.json: num_hidden_layers is 3, but the checkpoint's tensors cover 1 layer (layers.0 to layers.0)")
    case("config_vocab_huge", "vocab_size is 2^40",
         {"config.json": config_json(vocab_size=2**40), "model.safetensors": good},
         "{dir}/config.json: key 'vocab_size' is 1099511627776, more than the 16777216")
    odd = 3  # head_dim 3 with tensors that match it: only rope can object
    rng = random.Random(11)
    def rnd(name, shape):
        return T(name, shape, f32([rng.gauss(0, 0.1) for _ in range(math.prod(shape))]))
    odd_ts = ts
    for nm, shape in ((L + "self_attn.q_proj.weight", [HEADS * odd, HIDDEN]),
                      (L + "self_attn.k_proj.weight", [KV_HEADS * odd, HIDDEN]),
                      (L + "self_attn.v_proj.weight", [KV_HEADS * odd, HIDDEN]),
                      (L + "self_attn.o_proj.weight", [HIDDEN, HEADS * odd])):
        odd_ts = replace(odd_ts, nm, rnd(nm, shape))
    case("config_odd_head_dim", "head_dim is 3 (tensors match it); rotary embeddings need pairs (was a torch error)",
         {"config.json": config_json(head_dim=odd), "model.safetensors": safetensors(odd_ts)},
         "{dir}/config.json: head_dim 3 is odd; rotary position embeddings rotate pairs of channels")
    case("config_negative_rms_norm_eps", "rms_norm_eps is -1e-5 (was a NaN perplexity with exit 0)",
         {"config.json": config_json(rms_norm_eps=-1e-5), "model.safetensors": good},
         "{dir}/config.json: key 'rms_norm_eps' must be a positive number, found -1e-05")
    case("config_zero_rms_norm_eps", "rms_norm_eps is 0",
         {"config.json": config_json(rms_norm_eps=0), "model.safetensors": good},
         "{dir}/config.json: key 'rms_norm_eps' must be a positive number, found 0")
    case("config_zero_rope_theta", "rope_theta is 0",
         {"config.json": config_json(rope_theta=0.0), "model.safetensors": good},
         "{dir}/config.json: key 'rope_theta' must be a positive number, found 0")
    case("config_negative_rope_theta", "rope_theta is -10000",
         {"config.json": config_json(rope_theta=-10000.0), "model.safetensors": good},
         "{dir}/config.json: key 'rope_theta' must be a positive number, found -10000")
    case("config_rope_factor_zero", "rope_scaling linear with factor 0",
         {"config.json": config_json(rope_scaling={"type": "linear", "factor": 0.0}), "model.safetensors": good},
         "{dir}/config.json: rope_scaling 'factor' must be a positive number, found 0")
    case("config_llama3_equal_freq_factors", "llama3 rope_scaling with low_freq_factor == high_freq_factor (0/0)",
         {"config.json": config_json(rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 2.0,
                                                   "high_freq_factor": 2.0, "original_max_position_embeddings": 64}),
          "model.safetensors": good},
         "{dir}/config.json: rope_scaling needs 0 < low_freq_factor < high_freq_factor, found 2 and 2")
    case("config_negative_sliding_window", "a mistral config with sliding_window -4",
         {"config.json": config_json(model_type="mistral", architectures=["MistralForCausalLM"], sliding_window=-4),
          "model.safetensors": good},
         "{dir}/config.json: key 'sliding_window' must be a positive integer or null, found -4")
    deep = b'{"model_type": "llama", "x": ' + b"[" * 100000 + b"]" * 100000 + b"}\n"
    case("config_deeply_nested", "a config.json nested 100,000 levels deep (recursion bait)",
         {"config.json": deep, "model.safetensors": good},
         "{dir}/config.json: JSON nested more than 128 levels deep")
    opt_cfg = {"architectures": ["OPTForCausalLM"], "model_type": "opt", "hidden_size": 8, "num_hidden_layers": 1,
               "num_attention_heads": 2, "vocab_size": 16, "max_position_embeddings": 64,
               "do_layer_norm_before": True, "word_embed_proj_dim": 8, "torch_dtype": "float32"}
    case("opt_config_missing_ffn_dim", "an OPT config.json without ffn_dim",
         {"config.json": (json.dumps(opt_cfg, indent=2) + "\n").encode(), "model.safetensors": good},
         "{dir}/config.json: missing required key 'ffn_dim' for OPTForCausalLM")

    # --- the folder ------------------------------------------------------------------
    case("empty_folder", "an empty folder (created at test time: git cannot store one)",
         {"use_empty_temp_dir": b"The tests load a freshly created empty temporary folder for this case.\n"},
         "{dir}/config.json: missing (the folder is empty)")
    case("no_config", "weights without config.json",
         {"model.safetensors": good},
         "{dir}/config.json: missing; expected a Hugging Face model folder")
    case("no_weights_file", "config.json only",
         {"config.json": cfg},
         "{dir}: no weights found (expected model.safetensors or model.safetensors.index.json)")
    case("only_pytorch_bin", "a pickle checkpoint (pytorch_model.bin) and no safetensors",
         {"config.json": cfg, "pytorch_model.bin": b"PK\x03\x04 not a real pickle; never opened\n"},
         "{dir}: only pytorch_model.bin found. QuantScope reads safetensors only")

    # --- sharded checkpoints -----------------------------------------------------------
    s1 = [t for t in ts if t.name < L + "self_attn"]
    s2 = [t for t in ts if t.name >= L + "self_attn"]
    n1, n2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"

    def index(wm):
        return (json.dumps({"metadata": {"total_size": data_size}, "weight_map": wm}, indent=2) + "\n").encode()

    wm = {t.name: n1 for t in s1} | {t.name: n2 for t in s2}
    case("sharded_missing_shard", "the index names a second shard that is not there",
         {"config.json": cfg, "model.safetensors.index.json": index(wm), n1: safetensors(s1)},
         "{dir}/model.safetensors.index.json: shard '%s' (holding '%s') is missing" % (n2, sorted(t.name for t in s2)[0]))
    case("sharded_index_lists_absent_tensor", "the index lists lm_head.weight in shard 1, which does not store it",
         {"config.json": cfg, "model.safetensors.index.json": index(wm | {"lm_head.weight": n1}),
          n1: safetensors(s1), n2: safetensors(s2)},
         "{dir}/%s: tensor 'lm_head.weight' is listed in model.safetensors.index.json but not stored in this shard" % n1)
    wm_short = dict(wm)
    del wm_short["model.norm.weight"]
    case("sharded_tensor_not_in_index", "shard 2 stores model.norm.weight, which the index does not list",
         {"config.json": cfg, "model.safetensors.index.json": index(wm_short), n1: safetensors(s1), n2: safetensors(s2)},
         "{dir}/%s: tensor 'model.norm.weight' is not listed in model.safetensors.index.json" % n2)
    case("sharded_index_no_weight_map", "the index has no weight_map",
         {"config.json": cfg, "model.safetensors.index.json": b"{\"metadata\": {}}\n",
          n1: safetensors(s1), n2: safetensors(s2)},
         "{dir}/model.safetensors.index.json: missing object 'weight_map'")
    case("sharded_index_escapes_folder", "the index points a tensor at ../model.safetensors",
         {"config.json": cfg, "model.safetensors.index.json": index(wm | {"model.norm.weight": "../model.safetensors"}),
          n1: safetensors(s1), n2: safetensors(s2)},
         "{dir}/model.safetensors.index.json: weight_map['model.norm.weight'] names '../model.safetensors', "
         "which is not a file in this folder")

    # --- valid: an unknown extra tensor is a warning, not an error ---------------------
    extra = T(L + "extra_scale", [HIDDEN], f32([0.5] * HIDDEN))
    case("valid_extra_tensor", "a valid model with one unknown extra tensor (loads, with a warning)",
         {"config.json": cfg, "model.safetensors": safetensors(sorted(ts + [extra], key=lambda t: t.name))},
         "{dir}/model.safetensors: unknown extra tensor '%sextra_scale' (shape [8]) ignored" % L, kind="warning")


def build_gguf_cases() -> None:
    """Broken GGUF files: each folder holds one model.gguf (and no config.json)."""
    ts = gguf_base_tensors()
    good = gguf()
    M = "{dir}/model.gguf: "

    def g(name, what, data, expected, kind="error", extra=None):
        files = {"model.gguf": data}
        files.update(extra or {})
        case("gguf_" + name, what, files, expected, kind)

    # --- the container ---------------------------------------------------------------
    g("empty", "model.gguf is 0 bytes", b"", M + "is empty (0 bytes), not a GGUF file")
    g("bad_magic", "model.gguf starts with 'GGML' (an old ggml file)", b"GGML" + good[4:],
      M + "not a GGUF file (it does not start with the bytes 'GGUF')")
    g("safetensors_named_gguf", "model.gguf holds a safetensors file", safetensors(base_tensors()),
      M + "not a GGUF file (it does not start with the bytes 'GGUF')")
    g("version_4", "GGUF version 4", good[:4] + struct.pack("<I", 4) + good[8:],
      M + "GGUF version 4 is not supported (versions 1, 2 and 3 are)")
    g("big_endian", "the version bytes of a big-endian file", good[:4] + struct.pack(">I", 3) + good[8:],
      M + "is a big-endian GGUF file")
    g("truncated_in_magic", "model.gguf cut to 3 bytes", good[:3],
      M + "not a GGUF file (it does not start with the bytes 'GGUF')")
    cut = good.index(b"tokenizer.ggml.eos_token_id") + len("tokenizer.ggml.eos_token_id") + 4 + 2
    g("truncated_in_metadata", "model.gguf cut inside the value of its last key, tokenizer.ggml.eos_token_id",
      good[:cut], M + "file ends inside metadata 'tokenizer.ggml.eos_token_id'")
    g("truncated_data", "the last 100 bytes of the data section are cut off", good[:-100],
      M + "tensor 'blk.0.attn_v.weight' (F32, [8, 4]) needs bytes")
    g("kv_count_huge", "the metadata count is 2^60", gguf(n_kv=2**60),
      M + "claims 1152921504606846976 metadata entries, more than the file can hold")
    g("tensor_count_huge", "the tensor count is 2^40", gguf(n_tensors=2**40),
      M + "claims 1099511627776 tensors, more than the file can hold")
    g("kv_count_beyond_entries", "the metadata count is 13 for 12 entries (the tensor infos read as metadata)",
      gguf(n_kv=13), M + "file ends inside the name of tensor 0")
    g("string_length_huge", "general.name's length is 2^63 (overflow bait)",
      gguf(raw_kv=gguf_str("general.name") + struct.pack("<IQ", GV["STRING"], 2**63), n_kv=len(gguf_base_kv()) + 1),
      M + "file ends inside metadata 'general.name'")
    g("array_length_huge", "an array of 2^62 UINT32 values",
      gguf(gguf_kv(tokenizer__ggml__token_type=("ARRAY", ("U32", [])))[:-1] +
           [("tokenizer.ggml.token_type", "ARRAY", ("U32", [1, 1]))]).replace(
          struct.pack("<IIQ", GV["ARRAY"], GV["U32"], 2), struct.pack("<IIQ", GV["ARRAY"], GV["U32"], 2**62)),
      M + "metadata 'tokenizer.ggml.token_type' claims 4611686018427387904 elements")
    g("unknown_value_type", "general.name has value type 13",
      gguf(raw_kv=gguf_str("general.name") + struct.pack("<IQ", 13, 0), n_kv=len(gguf_base_kv()) + 1),
      M + "metadata 'general.name' has unknown value type 13")
    g("nested_array", "an array of arrays",
      gguf(raw_kv=gguf_str("general.tags") + struct.pack("<IIQ", GV["ARRAY"], GV["ARRAY"], 1),
           n_kv=len(gguf_base_kv()) + 1),
      M + "metadata 'general.tags' is an array of arrays")
    g("bool_byte_2", "a BOOL whose byte is 2", gguf(gguf_kv(tokenizer__ggml__add_bos_token=("U8", 2))).replace(
        gguf_str("tokenizer.ggml.add_bos_token") + struct.pack("<I", GV["U8"]),
        gguf_str("tokenizer.ggml.add_bos_token") + struct.pack("<I", GV["BOOL"])),
      M + "metadata 'tokenizer.ggml.add_bos_token' is a BOOL with byte value 2 (expected 0 or 1)")
    g("duplicate_key", "llama.block_count appears twice", gguf(gguf_base_kv() + [("llama.block_count", "U32", 1)]),
      M + "metadata key 'llama.block_count' appears twice")
    g("alignment_not_power_of_two", "general.alignment is 48", gguf(gguf_kv(general__alignment=("U32", 48))),
      M + "general.alignment is 48, expected a power of two")
    g("alignment_zero", "general.alignment is 0", gguf(gguf_kv(general__alignment=("U32", 0))),
      M + "general.alignment is 0, expected a power of two")

    # --- tensor infos ----------------------------------------------------------------
    up = next(t for t in ts if t.name == "blk.0.ffn_up.weight")
    g("unknown_ggml_type", "ffn_up has ggml type 77",
      gguf(tensors=gguf_replace(ts, up.name, GT(up.name, up.shape, up.data, 77))),
      M + "tensor 'blk.0.ffn_up.weight' has unknown ggml type 77")
    g("five_dims", "ffn_up has 5 dimensions",
      gguf(tensors=gguf_replace(ts, up.name, GT(up.name, up.shape, up.data, ne=[8, 24, 1, 1, 1]))),
      M + "tensor 'blk.0.ffn_up.weight' has 5 dimensions (expected 1 to 4)")
    g("dims_overflow", "ffn_up is [2^40, 2^40] (element count overflow)",
      gguf(tensors=gguf_replace(ts, up.name, GT(up.name, up.shape, up.data, ne=[2**40, 2**40]))),
      M + "tensor 'blk.0.ffn_up.weight' has too many elements")
    g("dims_beyond_file", "ffn_up claims [2^20, 2^20] elements (4 TiB of F32)",
      gguf(tensors=gguf_replace(ts, up.name, GT(up.name, up.shape, up.data, ne=[2**20, 2**20]))),
      M + "tensor 'blk.0.ffn_up.weight' (F32, [1048576, 1048576]) needs bytes")
    g("offset_misaligned", "ffn_up's data offset is not a multiple of 32",
      gguf(tensors=gguf_replace(ts, up.name, GT(up.name, up.shape, up.data, offset=4))),
      M + "tensor 'blk.0.ffn_up.weight' (F32, [8, 24]) starts at data offset 4, not a multiple of the alignment 32")
    g("offset_huge", "ffn_up's data offset is 2^63",
      gguf(tensors=gguf_replace(ts, up.name, GT(up.name, up.shape, up.data, offset=2**63))),
      M + "tensor 'blk.0.ffn_up.weight' (F32, [8, 24]) needs bytes 9223372036854775808 to")
    g("overlapping_tensors", "ffn_up's data starts where ffn_gate's does",
      gguf(tensors=gguf_replace(ts, up.name, GT(up.name, up.shape, up.data, offset=gguf_offsets(ts)["blk.0.ffn_gate.weight"]))),
      M + "tensor 'blk.0.ffn_up.weight' (data offset %d) overlaps tensor 'blk.0.ffn_gate.weight'"
      % gguf_offsets(ts)["blk.0.ffn_gate.weight"])
    g("duplicate_tensor", "ffn_up appears twice", gguf(tensors=ts + [GT(up.name, up.shape, up.data)]),
      M + "tensor 'blk.0.ffn_up.weight' appears twice")
    g("layer_index_huge", "a tensor of block 99999999999999999999 (beyond int64)",
      gguf(tensors=ts + [GT("blk.99999999999999999999.attn_q.weight", [8, 8], bytes(256))]),
      M + "tensor 'blk.99999999999999999999.attn_q.weight' belongs to block 99999999999999999999, but "
          "llama.block_count is 1")

    # --- tensors against the model ---------------------------------------------------
    n = next(t for t in ts if t.name == "output_norm.weight")
    g("integer_tensor", "output_norm is stored as I32",
      gguf(tensors=gguf_replace(ts, n.name, GT(n.name, n.shape, struct.pack("<8i", *range(8)), GGML_I32))),
      M + "tensor 'output_norm.weight' has ggml type I32, expected a float or quantized type")
    o = next(t for t in ts if t.name == "blk.0.attn_output.weight")
    vals = list(struct.unpack("<64f", o.data))
    vals[2 * 8 + 3] = float("nan")
    g("nan_weights", "attn_output[2, 3] is NaN",
      gguf(tensors=gguf_replace(ts, o.name, GT(o.name, o.shape, f32(vals)))),
      M + "tensor 'blk.0.attn_output.weight' contains NaN or Inf values (1 NaN, 0 Inf; first at [2, 3])")
    g("missing_tensor", "ffn_up is absent", gguf(tensors=gguf_replace(ts, up.name, None)),
      M + "required tensor for 'model.layers.0.mlp.up_proj.weight' (shape [24, 8]) is missing")
    g("wrong_shape", "ffn_up stored as [16, 8] instead of [24, 8]",
      gguf(tensors=gguf_replace(ts, up.name, GT(up.name, [16, 8], bytes(512)))),
      M + "tensor 'blk.0.ffn_up.weight' ('model.layers.0.mlp.up_proj.weight') has shape [16, 8], expected [24, 8]")
    g("embedding_not_matrix", "token_embd is a vector",
      gguf(tensors=gguf_replace(ts, "token_embd.weight", GT("token_embd.weight", [128], bytes(512)))),
      M + "tensor 'token_embd.weight' is not a matrix")
    g("rope_freqs_wrong_size", "rope_freqs.weight holds 3 values for head_dim 4",
      gguf(tensors=ts + [GT("rope_freqs.weight", [3], f32([1.0, 1.0, 1.0]))]),
      M + "rope_freqs.weight has 3 values, expected head_dim/2 = 2")
    g("two_gguf_files", "a folder with two .gguf files", good, "{dir}: holds several GGUF files (model.gguf, second.gguf)",
      extra={"second.gguf": good})

    # --- metadata against the model --------------------------------------------------
    g("arch_unsupported", "general.architecture is 'gpt2'", gguf(gguf_kv(general__architecture=("STRING", "gpt2"))),
      M + "general.architecture is 'gpt2'")
    g("arch_missing", "no general.architecture", gguf(gguf_kv(general__architecture=None)),
      M + "metadata 'general.architecture' is missing")
    g("arch_wrong_type", "general.architecture is a UINT32", gguf(gguf_kv(general__architecture=("U32", 7))),
      M + "metadata 'general.architecture' has type UINT32, expected a string")
    g("block_count_string", "llama.block_count is the string '1'", gguf(gguf_kv(llama__block_count=("STRING", "1"))),
      M + "metadata 'llama.block_count' has type STRING, expected an integer")
    g("block_count_1e9", "llama.block_count is 1,000,000,000 (1 block stored)",
      gguf(gguf_kv(llama__block_count=("U32", 10**9))),
      M + "llama.block_count is 1000000000, but the file holds tensors for 1 block")
    g("block_count_beyond_tensors", "llama.block_count is 3 (1 block stored)",
      gguf(gguf_kv(llama__block_count=("U32", 3))),
      M + "llama.block_count is 3, but the file holds tensors for 1 block")
    g("block_count_zero", "llama.block_count is 0", gguf(gguf_kv(llama__block_count=("U32", 0))),
      M + "metadata 'llama.block_count' is 0, expected > 0")
    g("head_count_zero", "llama.attention.head_count is 0", gguf(gguf_kv(llama__attention__head_count=("U32", 0))),
      M + "metadata 'llama.attention.head_count' is 0, expected > 0")
    g("head_count_kv_zero", "llama.attention.head_count_kv is 0 (division by zero bait)",
      gguf(gguf_kv(llama__attention__head_count_kv=("U32", 0))),
      M + "attention.head_count 2 is not a multiple of head_count_kv 0")
    g("embedding_length_negative", "llama.embedding_length is the INT32 -8",
      gguf(gguf_kv(llama__embedding_length=("I32", -8))),
      M + "metadata 'llama.embedding_length' is -8, expected > 0")
    g("odd_head_dim", "llama.attention.key_length is 3 (rope needs pairs)",
      gguf(gguf_kv(llama__attention__key_length=("U32", 3))), M + "head_dim 3 is odd")
    g("context_length_huge", "llama.context_length is 2^40", gguf(gguf_kv(llama__context_length=("U64", 2**40))),
      M + "key 'max_position_embeddings' is 1099511627776, more than the")
    g("negative_rms_eps", "llama.attention.layer_norm_rms_epsilon is -1e-5",
      gguf(gguf_kv(llama__attention__layer_norm_rms_epsilon=("F32", -1e-5))),
      M + "metadata 'llama.attention.layer_norm_rms_epsilon' must be a positive number")
    g("nan_rms_eps", "llama.attention.layer_norm_rms_epsilon is NaN",
      gguf(gguf_kv(llama__attention__layer_norm_rms_epsilon=("F32", float("nan")))),
      M + "metadata 'llama.attention.layer_norm_rms_epsilon' must be a positive number, found nan")
    g("zero_freq_base", "llama.rope.freq_base is 0", gguf(gguf_kv(llama__rope__freq_base=("F32", 0.0))),
      M + "metadata 'llama.rope.freq_base' must be a positive number, found 0")
    g("rope_scaling_factor_zero", "linear rope scaling with factor 0",
      gguf(gguf_kv(llama__rope__scaling__type=("STRING", "linear"), llama__rope__scaling__factor=("F32", 0.0))),
      M + "metadata 'llama.rope.scaling.factor' must be a positive number, found 0")
    g("rope_scaling_unknown", "rope scaling type 'yarn'", gguf(gguf_kv(llama__rope__scaling__type=("STRING", "yarn"))),
      M + "llama.rope.scaling.type 'yarn' is not supported")
    g("split_part", "split.count is 2 (one part of a split GGUF)", gguf(gguf_kv(split__count=("U16", 2))),
      M + "is one part of a split GGUF (2 files)")
    g("mixture_of_experts", "llama.expert_count is 8", gguf(gguf_kv(llama__expert_count=("U32", 8))),
      M + "is a mixture-of-experts model")
    g("bos_beyond_vocab", "tokenizer.ggml.bos_token_id is 1000 (vocabulary of 16)",
      gguf(gguf_kv(tokenizer__ggml__bos_token_id=("U32", 1000))),
      M + "metadata 'tokenizer.ggml.bos_token_id' is 1000, outside the vocabulary of 16 tokens (token_embd.weight)")

    # --- valid: an unused tensor is a warning --------------------------------------------
    g("valid_extra_tensor", "a valid GGUF model with one tensor QuantScope does not use (loads, with a warning)",
      gguf(tensors=ts + [GT("blk.0.extra_scale.weight", [HIDDEN], f32([0.5] * HIDDEN))]),
      M + "tensor 'blk.0.extra_scale.weight' (F32, [8]) is not used by QuantScope's llama model and is ignored",
      kind="warning")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "tests" / "data" / "broken"))
    args = ap.parse_args()
    out = Path(args.out)
    build_cases()
    build_gguf_cases()
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    if out.exists():
        for p in out.iterdir():  # only what this script owns
            if p.is_dir() and any((p / f).exists() for f in ("expected_error.txt", "expected_warning.txt")):
                shutil.rmtree(p)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    rows = []
    for name, what, files, expected, kind in CASES:
        d = out / name
        d.mkdir()
        for rel, content in files.items():
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content)
            total += len(content)
        (d / ("expected_%s.txt" % kind)).write_text(expected + "\n")
        rows.append("| `%s` | %s | %s |" % (name, what, kind))
    readme = [
        "# Broken-input corpus",
        "",
        "Generated by `tools/make_broken_corpus.py` (do not edit by hand; re-run the script).",
        "Each folder is a tiny 1-layer LLaMA checkpoint (hidden 8, FFN 24, vocab 16) with exactly one",
        "thing broken. `expected_error.txt` holds the substring the engine's qs::Error (and",
        "`quantscope-cli check --model DIR`'s stderr) must contain; `{dir}` stands for the model folder.",
        "Checked by `tests/engine/test_broken_corpus.cpp` and `tests/cli/broken_corpus.sh`.",
        "",
        "| case | what is broken | expects |",
        "| --- | --- | --- |",
    ] + rows
    (out / "README.md").write_text("\n".join(readme) + "\n")
    print("wrote %d cases (%d bytes of model files) to %s" % (len(CASES), total, out))


if __name__ == "__main__":
    main()
