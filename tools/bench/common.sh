# Shared by the tools/bench/*.sh scripts (sourced): the repository root, the Python used to
# make the random model and run the PyTorch side, the random-weight OPT-125m-shaped model
# (made on first use, not committed) and its tokenizer, and a one-line machine description.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
py="${PYTHON:-/work/pyenv/venv/bin/python}"
model="$root/tools/bench/out/opt125m-random"
tok="$root/tests/data/tokenizers/opt-bpe"
[ -f "$model/model.safetensors" ] || "$py" "$root/tools/bench/make_random_opt125m.py" "$model"

# machine_line CLI: CPU, cores, libtorch of the CLI, PyTorch of $py, date.
machine_line() {
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; libtorch: $("$1" --version | sed -n 2p); python torch: $("$py" -c 'import torch;print(torch.__version__)'); $(date -u)"
}
