#!/usr/bin/env python3
"""Regenerate every golden fixture: random models, then logits/greedy goldens, then perplexities.

    python tools/goldens/make_all.py            # everything (~10 min on 2 CPU cores)
    python tools/goldens/make_all.py --quick    # skip the all-windows perplexity runs; compares ppl with the committed ppl.json, writes nothing for it
"""
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(*args):
    print("$", " ".join(args), flush=True)
    subprocess.run([sys.executable, *args], check=True)


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    run(str(HERE / "make_random_models.py"))
    run(str(HERE / "make_model_goldens.py"))
    run(str(HERE / "make_ppl_goldens.py"), *(["--skip-all"] if quick else []))
