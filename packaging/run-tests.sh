#!/usr/bin/env bash
# Runs every QuantScope test through CTest, after making sure the packages are installed
# and the build is up to date (packaging/setup-debian.sh). Extra arguments go to ctest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
"$here/packaging/setup-debian.sh"
export QT_QPA_PLATFORM=offscreen
ctest --test-dir "$build" --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
