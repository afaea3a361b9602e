#!/usr/bin/env bash
# QuantScope setup for a fresh Debian 12 machine: installs every package the build, the run
# and the tests need, then configures and builds in Release (build/ by default).
# Idempotent: re-running only rebuilds what changed.
#
#   packaging/setup-debian.sh          # install + build
#   packaging/setup-debian.sh --run    # install + build + open the workbench on the bundled model
#
# Environment: BUILD_DIR (default <repo>/build), JOBS (default: nproc).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
jobs="${JOBS:-$(nproc)}"
run=0
for a in "$@"; do
  case "$a" in
    --run) run=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "setup-debian.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache file dpkg-dev
  # engine: libtorch + a real BLAS (NOTES §2: the reference BLAS is 13x slower), JSON, zstd, sentencepiece
  libtorch-dev libopenblas0-pthread nlohmann-json3-dev libzstd-dev zstd libsentencepiece-dev
  # GUI: Qt 6 Widgets/Concurrent/PrintSupport/Svg/Test, QCustomPlot for Qt 6, platform plugins
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev qt6-qpa-plugins libqcustomplot-dev libqcustomplot2.1-qt6
  # tests: GoogleTest, offscreen/virtual display for GUI tests
  libgtest-dev xvfb xauth
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *"install ok installed"* ]] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages already installed"
fi

# libtorch must resolve libblas.so.3 to OpenBLAS, not the reference implementation.
blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/{print $2}')
case "$blas" in
  *openblas*) ;;
  *) echo "setup: pointing libblas.so.3 at OpenBLAS (was: ${blas:-unset})"
     "${sudo_cmd[@]}" update-alternatives --set libblas.so.3-x86_64-linux-gnu \
       /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ;;
esac

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"
echo "setup: built into $build"

if [ "$run" -eq 1 ]; then
  if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
    exec "$build/bin/quantscope"
  fi
  echo "setup: no display found; rendering the workbench offscreen instead"
  QT_QPA_PLATFORM=offscreen "$build/bin/quantscope" --screenshot "$build/quantscope-default.png"
  echo "setup: screenshot of the workbench on the bundled model: $build/quantscope-default.png"
  "$build/bin/quantscope-cli" info
fi
