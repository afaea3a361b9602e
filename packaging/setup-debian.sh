#!/usr/bin/env bash
# QuantScope setup for a fresh Debian 12 machine: installs every package the build, the run
# and the tests need, then configures and builds in Release (build/ by default).
# Idempotent: re-running only rebuilds what changed.
#
#   packaging/setup-debian.sh          # install + build
#   packaging/setup-debian.sh --run    # install + build + open the workbench on the bundled model
#   packaging/setup-debian.sh --libtorch pip [--no-gui]
#       the GPU-capable variant: builds into build-pip/ against the libtorch inside the PyPI
#       wheel torch==2.11.0 (CUDA 13), installed into a virtual environment build-pip/venv;
#       the wheels are kept in $QS_WHEEL_CACHE and installed from there once present.
#       --no-gui builds the engine, the CLI and the tests only.
#
# Environment: BUILD_DIR (default <repo>/build, or <repo>/build-pip with --libtorch pip),
# JOBS (default: nproc), QS_WHEEL_CACHE (default ~/.cache/quantscope/wheels), QS_CMAKE_ARGS
# (extra configure arguments, e.g. "-DQS_USE_PCH=OFF"), QS_BUILD_TARGETS (default: all).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="${JOBS:-$(nproc)}"
run=0
libtorch=debian
gui=ON
while [ $# -gt 0 ]; do
  case "$1" in
    --run) run=1 ;;
    --libtorch) libtorch="${2:-}"; shift ;;
    --libtorch=*) libtorch="${1#--libtorch=}" ;;
    --no-gui) gui=OFF ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "setup-debian.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$libtorch" in
  debian) build="${BUILD_DIR:-$here/build}" ;;
  pip) build="${BUILD_DIR:-$here/build-pip}" ;;
  *) echo "setup-debian.sh: --libtorch takes debian or pip, not '$libtorch'" >&2; exit 2 ;;
esac
if [ "$run" -eq 1 ] && [ "$gui" = OFF ]; then echo "setup-debian.sh: --run needs the GUI (drop --no-gui)" >&2; exit 2; fi

# The pinned wheel. torch 2.11.0 (CUDA 13.0 build) is also the PyTorch of the GPU machine this
# variant is checked on (tools/gpu_check.sh): binaries built here run there against that
# machine's own torch/lib through LD_LIBRARY_PATH, so keep the two versions equal.
torch_pip_version=2.11.0

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache file dpkg-dev
  # style: tools/format.sh and its CTest lint_format (clang-format 14)
  clang-format
  # engine: libtorch + a real BLAS (docs/notes.md §2: the reference BLAS is 13x slower), JSON, zstd, sentencepiece,
  # Oniguruma (tokenizer regexes, as HF tokenizers) and utf8proc (Unicode categories, normalization)
  libtorch-dev libopenblas0-openmp nlohmann-json3-dev libzstd-dev zstd libsentencepiece-dev
  libonig-dev libutf8proc-dev
  # llm-compressor recipes (YAML)
  libyaml-cpp-dev
  # CLI: CLI11 (header-only) declares quantscope-cli's options
  libcli11-dev
  # GUI: Qt 6 Widgets/Concurrent/PrintSupport/Svg/Test, QCustomPlot for Qt 6, platform plugins
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev qt6-qpa-plugins libqcustomplot-dev libqcustomplot2.1-qt6
  # tests: GoogleTest, offscreen/virtual display for GUI tests
  libgtest-dev xvfb xauth
)
if [ "$libtorch" = pip ]; then
  # the wheel brings libtorch (no Debian libtorch / BLAS needed); Debian's python makes the venv
  packages=("${packages[@]/libtorch-dev}")
  packages=("${packages[@]/libopenblas0-openmp}")
  packages+=(python3-venv)
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for p in "${packages[@]}"; do
  [ -n "$p" ] || continue
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == *"install ok installed"* ]] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages already installed"
fi

cmake_args=()
if [ "$libtorch" = debian ]; then
  # libtorch must resolve libblas.so.3 to OpenBLAS's OpenMP build: not the reference BLAS (13x slower),
  # nor the pthread build, whose threads compete with libgomp's (docs/notes.md §2, §5;
  # engine/core/process_setup.h has the measurements). Debian's auto mode prefers the pthread build
  # when both are installed, so the alternative is set explicitly.
  # libtorch_cpu links libblas.so.3, liblapack.so.3 and libopenblas.so.0: all three from the OpenMP build.
  for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
    cur=$(update-alternatives --query "$lib-x86_64-linux-gnu" 2>/dev/null | awk '/^Value:/{print $2}')
    case "$cur" in
      *openblas-openmp*) ;;
      *) echo "setup: pointing $lib at OpenBLAS's OpenMP build (was: ${cur:-unset})"
         "${sudo_cmd[@]}" update-alternatives --set "$lib-x86_64-linux-gnu" \
           "/usr/lib/x86_64-linux-gnu/openblas-openmp/$lib" ;;
    esac
  done
else
  venv="$build/venv"
  wheels="${QS_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quantscope/wheels}"
  mkdir -p "$build" "$wheels"
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)
  if [ "$have" != "$torch_pip_version" ]; then
    # From the wheel cache alone when it is complete; otherwise fill it from PyPI first
    # (torch + the nvidia-* CUDA 13 wheels, about 2.6 GB), then install from it.
    pip_quiet=(--disable-pip-version-check --no-input)
    if ! "$venv/bin/pip" install "${pip_quiet[@]}" --no-index --find-links "$wheels" "torch==$torch_pip_version"; then
      echo "setup: downloading torch==$torch_pip_version and its CUDA wheels into $wheels"
      "$venv/bin/pip" download "${pip_quiet[@]}" --only-binary=:all: --find-links "$wheels" -d "$wheels" "torch==$torch_pip_version"
      "$venv/bin/pip" install "${pip_quiet[@]}" --no-index --find-links "$wheels" "torch==$torch_pip_version"
    fi
  fi
  torch_root=$("$venv/bin/python" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])')
  cmake_args+=("-DQS_TORCH_ROOT=$torch_root")
fi

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQS_BUILD_GUI="$gui" "${cmake_args[@]}" ${QS_CMAKE_ARGS:-}
targets=()
for t in ${QS_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build" -j "$jobs" "${targets[@]}"
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
