"""Loads a run's TorchScript export (`selfsup export --format torchscript`) with `torch.jit.load`
and compares it with an independent PyTorch model built from the run's `encoder.safetensors`:
torchvision's ResNet (weights loaded by name, `fc` replaced by `Identity`, the CIFAR stem's 3×3 conv1
and no max-pool when the metadata says so) or the README's ConvNet (also the audio CNN over a
1-channel spectrogram). Both run in eval mode on the same random batch of the run's input shape.

    .venv-fixtures/bin/python scripts/check_torchscript.py RUN_DIR [RUN_DIR ...]

RUN_DIR must hold `encoder.pt` (the export) and `encoder.safetensors` (written by `pretrain`).
Prints the largest absolute difference per run and exits 1 if any exceeds 1e-4.
"""
import json
import sys

import torch
import torch.nn as nn
import torchvision
from safetensors import safe_open
from safetensors.torch import load_file


class ConvNet(nn.Module):
    """The README's ConvNet: conv 3x3 (no bias) -> BN -> ReLU -> 2x2 max-pool (skipped below 2x2),
    then a global average pool."""

    def __init__(self, widths, c_in):
        super().__init__()
        self.blocks = nn.ModuleList()
        for w in widths:
            self.blocks.append(nn.ModuleDict(
                {"conv": nn.Conv2d(c_in, w, 3, padding=1, bias=False), "bn": nn.BatchNorm2d(w)}))
            c_in = w

    def forward(self, x):
        if x.dim() == 3:  # N x mels x frames (the audio CNN)
            x = x.unsqueeze(1)
        for b in self.blocks:
            x = torch.relu(b["bn"](b["conv"](x)))
            if x.shape[2] >= 2 and x.shape[3] >= 2:
                x = nn.functional.max_pool2d(x, 2)
        return x.mean((2, 3))


def reference(path):
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    cfg = json.loads(meta["backbone"])
    shape = json.loads(meta["input_shape"])
    c_in = int(meta["in_channels"])
    weights = load_file(path)
    kind = cfg["kind"]
    if kind in ("conv_net", "audio_cnn"):
        model = ConvNet(cfg["widths"], c_in)
        model.load_state_dict(weights)
    elif kind in ("resnet18", "resnet34", "resnet50"):
        model = getattr(torchvision.models, kind)()
        if c_in != 3 or cfg.get("stem") == "cifar":
            k, s, p = (3, 1, 1) if cfg.get("stem") == "cifar" else (7, 2, 3)
            model.conv1 = nn.Conv2d(c_in, 64, k, s, p, bias=False)
        if cfg.get("stem") == "cifar":
            model.maxpool = nn.Identity()
        missing, unexpected = model.load_state_dict(weights, strict=False)
        assert not unexpected, unexpected
        assert all(m.startswith("fc.") for m in missing), missing
        model.fc = nn.Identity()
    else:
        raise SystemExit(f"{path}: no reference model for backbone kind {kind}")
    return model.eval(), shape, kind


def main(runs):
    worst = 0.0
    for run in runs:
        model, shape, kind = reference(f"{run}/encoder.safetensors")
        traced = torch.jit.load(f"{run}/encoder.pt").eval()
        g = torch.Generator().manual_seed(0)
        x = torch.rand([7] + shape, generator=g)
        if kind == "audio_cnn":
            x = torch.randn([7] + shape, generator=g)  # standardised log-mels
        with torch.no_grad():
            want = model(x)
            got = traced(x)
        diff = (got - want).abs().max().item()
        worst = max(worst, diff)
        print(f"{run}: {kind}, input {[7] + shape}, features {list(got.shape)}, "
              f"max |torch.jit.load - PyTorch model| = {diff:.3e} (feature std {want.std().item():.3e})")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    main(sys.argv[1:])
