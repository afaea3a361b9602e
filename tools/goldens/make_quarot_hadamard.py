#!/usr/bin/env python3
"""QuaRot's randomized Hadamard matrices, made by QuaRot's own code (the oracle of #16 item 7).

    python tools/goldens/make_quarot_hadamard.py --quarot PATH/TO/QuaRot

PATH/TO/QuaRot is a checkout of https://github.com/spcl/QuaRot (the fixture was made at
commit 5008669b08c1f11f9b64d52d16fddd47ca754c5a). Its fake_quant/hadamard_utils.py is imported
as is (only the CUDA extension `fast_hadamard_transform`, unused by the functions called here,
is replaced by an empty module), and `random_hadamard_matrix(n)` is called after
`torch.manual_seed(seed)`; the same seed then redraws the sign vector QuaRot drew
(`torch.randint(0, 2, (n,)) * 2 - 1`), so the fixture holds the signs and the matrix they gave.

Writes tests/data/goldens/quarot_hadamard.json: for each order n, the signs as a "+-" string
and sqrt(n) * R as one "+-" string per row (every entry of R is +-1/sqrt(n); checked here).
The C++ test rebuilds randomized_hadamard(n, signs) and compares it with these rows.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
import types
from pathlib import Path

from _common import GOLDENS_DIR, versions

ORDERS = [24, 64, 128, 192]  # 12x2, Sylvester 64 (stories260K), 128 (TinyStories-656K), 12x16
SEED = 1234


def load_quarot(root: Path):
    sys.modules.setdefault("fast_hadamard_transform", types.ModuleType("fast_hadamard_transform"))
    path = root / "fake_quant" / "hadamard_utils.py"
    spec = importlib.util.spec_from_file_location("quarot_hadamard_utils", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def signs_str(v) -> str:
    return "".join("+" if x > 0 else "-" for x in v.tolist())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quarot", type=Path, required=True, help="a checkout of spcl/QuaRot")
    args = ap.parse_args()
    import torch

    hu = load_quarot(args.quarot)
    try:
        commit = subprocess.run(["git", "-C", str(args.quarot), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        commit = "unknown"
    cases = []
    for i, n in enumerate(ORDERS):
        seed = SEED + i
        torch.manual_seed(seed)
        r = hu.random_hadamard_matrix(n, "cpu").to(torch.float64)
        torch.manual_seed(seed)
        s = torch.randint(low=0, high=2, size=(n,)).to(torch.float64) * 2 - 1
        scaled = r * math.sqrt(n)
        assert torch.allclose(scaled.abs(), torch.ones_like(scaled), atol=1e-12), n
        assert torch.allclose(r @ r.T, torch.eye(n, dtype=torch.float64), atol=1e-10), n
        _, k = hu.get_hadK(n)
        cases.append({"n": n, "base": k, "torch_seed": seed, "signs": signs_str(s),
                      "rows": [signs_str(row) for row in scaled]})
        print(f"n={n} base {k}: {s.eq(1).sum().item()} of {n} signs +1")
    out = {
        "what": "QuaRot random_hadamard_matrix(n) = matmul_hadU(diag(s)) with the signs s it drew; "
                "rows are the signs of sqrt(n) * R",
        "made_by": "tools/goldens/make_quarot_hadamard.py",
        "quarot_commit": commit,
        "versions": versions(),
        "cases": cases,
    }
    GOLDENS_DIR.mkdir(parents=True, exist_ok=True)
    dst = GOLDENS_DIR / "quarot_hadamard.json"
    dst.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", dst)


if __name__ == "__main__":
    main()
