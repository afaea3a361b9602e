#!/usr/bin/env python3
"""GGUF fixtures and goldens for QuantScope's GGUF reader (engine/io/gguf*), made with gguf-py,
llama.cpp's own Python package (the writer and reader of the format, and a NumPy port of ggml's
dequantization).

    python tools/goldens/make_gguf_goldens.py

Writes (all small, committed):
  tests/data/gguf/dequant_types.gguf        one tensor per ggml type and a few shapes:
      "<TYPE>.random"    3 x 512, blocks of random bytes whose fp16 scale fields are finite
                         random values (every bit pattern of the quants occurs)
      "<TYPE>.quantized" 3 x 512, gguf-py's quantize() of N(0, 1) data (legacy types and
                         F16 / BF16; gguf-py has no K-quant quantizer)
      "Q8_0.3d" [2, 3, 64], "F32.1d" [7], "Q4_K.1d" [512]
  tests/data/goldens/gguf/dequant_types.safetensors
      the same names, float32, gguf.quants.dequantize() of each tensor's bytes, in the
      row-major (torch) shape
  tests/data/gguf/kv_types.gguf             every metadata value type (scalars and arrays),
      general.alignment = 64, two small tensors
  tests/data/goldens/gguf/kv_types.json     what gguf-py's GGUFReader reads from it: each key with
      its type name and value, each tensor's name, type, ne and data offset
"""
import json
import os
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "data", "gguf")
GOLDENS = os.path.join(ROOT, "tests", "data", "goldens", "gguf")

# Byte offsets of the fp16 fields (scales, mins) inside one block, per type (ggml-common.h).
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
QUANT_TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
FLOAT_TYPES = [T.F32, T.F16, T.BF16]


def finite_halves(rng, n):
    """fp16 values over the whole finite range: normals of varied exponents, a few subnormals,
    zeros and negatives."""
    mag = np.exp(rng.uniform(np.log(1e-7), np.log(6e4), n))
    v = (mag * rng.choice([-1.0, 1.0], n)).astype(np.float16)
    v[rng.random(n) < 0.05] = 0
    assert np.all(np.isfinite(v))
    return v


def random_blocks(rng, qtype, rows, cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nblocks = rows * cols // block
    raw = rng.integers(0, 256, size=(nblocks, size), dtype=np.uint8)
    for off in HALF_FIELDS[qtype]:
        # Most scales small (realistic products), some large: both must match exactly.
        h = finite_halves(rng, nblocks)
        small = rng.random(nblocks) < 0.8
        h[small] = (rng.standard_normal(small.sum()) * 0.05).astype(np.float16)
        raw[:, off:off + 2] = h.view(np.uint8).reshape(nblocks, 2)
    return raw.reshape(rows, cols // block * size)


def random_floats(rng, qtype, rows, cols):
    if qtype == T.F32:
        return (rng.standard_normal((rows, cols)) * np.exp(rng.uniform(-20, 20, (rows, cols)))).astype(np.float32)
    if qtype == T.F16:
        return finite_halves(rng, rows * cols).reshape(rows, cols)
    # BF16: random bit patterns except NaN / Inf (exponent all ones).
    bits = rng.integers(0, 1 << 16, size=(rows, cols), dtype=np.uint32).astype(np.uint16)
    bits[(bits & 0x7F80) == 0x7F80] &= 0xBFFF
    return bits.view(np.uint8).reshape(rows, cols * 2)


def dequant(raw, qtype, shape):
    if qtype == T.F32:
        out = raw.astype(np.float32)
    elif qtype == T.F16:
        out = raw.astype(np.float32)
    else:
        out = gguf.quants.dequantize(raw, qtype)
    return np.ascontiguousarray(out.reshape(shape).astype(np.float32))


def make_dequant(rng):
    w = gguf.GGUFWriter(os.path.join(FIXTURES, "dequant_types.gguf"), "none")
    w.add_string("general.description", "QuantScope test fixture: one tensor per ggml type "
                 "(tools/goldens/make_gguf_goldens.py)")
    goldens = {}
    rows, cols = 3, 512

    def add(name, raw, qtype, shape):
        if qtype in (T.F32, T.F16):
            w.add_tensor(name, raw.reshape(shape))
        else:
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            w.add_tensor(name, raw.reshape(*shape[:-1], shape[-1] // block * size), raw_dtype=qtype)
        goldens[name] = dequant(raw, qtype, shape)

    for qt in FLOAT_TYPES:
        add(qt.name + ".random", random_floats(rng, qt, rows, cols), qt, (rows, cols))
    for qt in QUANT_TYPES:
        add(qt.name + ".random", random_blocks(rng, qt, rows, cols), qt, (rows, cols))
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    for qt in [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]:
        add(qt.name + ".quantized", gguf.quants.quantize(x, qt), qt, (rows, cols))
    add("Q8_0.3d", gguf.quants.quantize(rng.standard_normal((6, 64)).astype(np.float32), T.Q8_0), T.Q8_0, (2, 3, 64))
    add("F32.1d", rng.standard_normal(7).astype(np.float32), T.F32, (7,))
    add("Q4_K.1d", random_blocks(rng, T.Q4_K, 1, 512), T.Q4_K, (512,))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    import safetensors.numpy
    safetensors.numpy.save_file(goldens, os.path.join(GOLDENS, "dequant_types.safetensors"),
                                metadata={"made_by": "tools/goldens/make_gguf_goldens.py",
                                          "gguf": gguf.__version__ if hasattr(gguf, "__version__") else "",
                                          "what": "gguf.quants.dequantize of each tensor of tests/data/gguf/dequant_types.gguf"})


def make_kv(rng):
    path = os.path.join(FIXTURES, "kv_types.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_custom_alignment(64)
    w.add_key_value("test.u8", 200, V.UINT8)
    w.add_key_value("test.i8", -100, V.INT8)
    w.add_key_value("test.u16", 60000, V.UINT16)
    w.add_key_value("test.i16", -30000, V.INT16)
    w.add_key_value("test.u32", 4000000000, V.UINT32)
    w.add_key_value("test.i32", -2000000000, V.INT32)
    w.add_key_value("test.f32", 0.1, V.FLOAT32)
    w.add_key_value("test.u64", 2 ** 62 + 3, V.UINT64)
    w.add_key_value("test.i64", -(2 ** 62) - 5, V.INT64)
    w.add_key_value("test.f64", 0.1, V.FLOAT64)
    w.add_key_value("test.bool_true", True, V.BOOL)
    w.add_key_value("test.bool_false", False, V.BOOL)
    w.add_key_value("test.string", "héllo wörld ✓ 日本", V.STRING)
    w.add_key_value("test.empty_string", "", V.STRING)
    w.add_key_value("test.arr_i32", [1, -2, 3], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("test.arr_u8", [0, 255], V.ARRAY, sub_type=V.UINT8)
    w.add_key_value("test.arr_f32", [0.5, -1.25, 3e-5], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("test.arr_f64", [0.1, 1e300], V.ARRAY, sub_type=V.FLOAT64)
    w.add_key_value("test.arr_bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("test.arr_str", ["a", "", "Ġb c", "日本"], V.ARRAY, sub_type=V.STRING)
    w.add_tensor("a", rng.standard_normal((2, 3)).astype(np.float32))
    w.add_tensor("b.weight", rng.standard_normal((5,)).astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    r = gguf.GGUFReader(path)
    out = {"made_by": "tools/goldens/make_gguf_goldens.py (gguf-py GGUFReader view of kv_types.gguf)",
           "version": int(r.fields["GGUF.version"].contents()), "alignment": int(r.alignment),
           "data_offset": int(r.data_offset), "metadata": [], "tensors": []}
    for key, f in r.fields.items():
        if key.startswith("GGUF."):
            continue
        types = [t.name for t in f.types]
        tname = types[0] if len(types) == 1 else "%s[%s]" % (types[0], types[1] if len(types) > 1 else "")
        val = f.contents()
        if isinstance(val, float):
            val = float(np.float32(val)) if types[0] == "FLOAT32" else val
        out["metadata"].append({"key": key, "type": tname, "value": val})
    for t in r.tensors:
        out["tensors"].append({"name": t.name, "type": t.tensor_type.name, "ne": [int(x) for x in t.shape],
                               "offset": int(t.data_offset - r.data_offset), "nbytes": int(t.n_bytes)})
    with open(os.path.join(GOLDENS, "kv_types.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    os.makedirs(GOLDENS, exist_ok=True)
    rng = np.random.default_rng(20261204)
    make_dequant(rng)
    make_kv(rng)
    return 0


if __name__ == "__main__":
    sys.exit(main())
