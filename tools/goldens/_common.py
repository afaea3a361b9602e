"""Shared helpers for the golden-fixture generators (developer-side only).

Nothing in the product reads this; the scripts write committed fixtures under
tests/data/models/ and tests/data/goldens/.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "tests" / "data" / "models"
GOLDENS_DIR = REPO / "tests" / "data" / "goldens"

# Inputs that live outside the repository (developer machine only; never read by the product).
SHARED = Path(os.environ.get("QUANTSCOPE_SHARED", REPO.parent / "shared"))
WIKITEXT_TEST = SHARED / "data" / "wikitext-2-raw-v1" / "wiki.test.raw"
OPT_TOKENIZER_DIR = SHARED / "tokenizers" / "opt-bpe"
LLAMA2_SPM = SHARED / "tokenizers" / "llama2-sentencepiece" / "tokenizer.model"

# The four tiny random-weight models (made by make_random_models.py) and the two real ones.
RANDOM_MODELS = [
    "opt-preln-random",
    "opt-postln-projio-random",
    "llama-gqa-llama3rope-random",
    "qwen2-bias-random",
]
REAL_MODELS = {
    "TinyStories-656K": REPO / "resources" / "models" / "TinyStories-656K",
    "stories260K": MODELS_DIR / "stories260K",
}
PPL_MODEL = "opt-ppl-random"


def model_dir(name: str) -> Path:
    if name in REAL_MODELS:
        return REAL_MODELS[name]
    return MODELS_DIR / name


def rel(p: Path) -> str:
    return Path(p).resolve().relative_to(REPO).as_posix()


def sha256_file(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict:
    import numpy
    import safetensors
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": numpy.__version__,
    }


def write_json(p: Path, obj) -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")


def wikitext_rows() -> list[str]:
    """Rows of the HF wikitext-2-raw-v1 test split, rebuilt from wiki.test.raw.

    Lines are split on "\\n" only (not str.splitlines, which would also split on
    U+2028 etc.); blank lines (" ") become "" and the other rows keep their "\\n".
    """
    text = WIKITEXT_TEST.read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text.split("\n")[:-1]
    rows = ["" if ln.strip() == "" else ln + "\n" for ln in lines]
    assert len(rows) == 4358, len(rows)
    assert sum(r == "" for r in rows) == 1467
    return rows


def wikitext_text() -> str:
    return "\n\n".join(wikitext_rows())
