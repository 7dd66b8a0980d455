#!/usr/bin/env bash
# Trains three tiny runs with the `selfsup` binary (ConvNet on MNIST, ResNet-18 with the ImageNet stem
# on a generated colour image folder, the audio CNN on FSDD), exports each as TorchScript
# (`selfsup export --format torchscript`) and checks the exports with PyTorch
# (scripts/check_torchscript.py: torch.jit.load vs torchvision's ResNet / the README's ConvNet).
#
#   scripts/check_torchscript_runs.sh [SELFSUP_BINARY] [PYTHON]
#
# Defaults: target/debug/selfsup and .venv-fixtures/bin/python. Runs in a temporary folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "${1:-$root/target/debug/selfsup}")
py=${2:-$root/.venv-fixtures/bin/python}
[[ $py = /* ]] || py=$PWD/$py  # absolute, not resolved: a venv's python is a link
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export SELFSUP_DATA="$root/data" RUST_LOG=warn
"$py" - <<'PY'
import os
import imageio.v3 as iio
import numpy as np
rng = np.random.default_rng(0)
for c in "ab":
    os.makedirs(f"photos/{c}", exist_ok=True)
    for i in range(12):
        img = rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)
        img[:18 if c == "a" else 36, :, 0] = 220
        iio.imwrite(f"photos/{c}/{c}{i:02}.png", img)
PY
"$bin" pretrain --max-samples 256 --epochs 1 --out convnet >/dev/null
"$bin" pretrain --dataset image-folder --data photos --backbone resnet18 --image-size 32 \
    --batch-size 8 --epochs 1 --out resnet >/dev/null
"$bin" pretrain --dataset fsdd --max-samples 64 --batch-size 16 --epochs 1 --out audio >/dev/null
for r in convnet resnet audio; do
    (cd "$r" && "$bin" export --run . --format torchscript)
done
"$py" "$root/scripts/check_torchscript.py" convnet resnet audio
