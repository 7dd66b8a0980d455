"""PyTorch side of crates/selfsup-contrastive/benches/simclr_step.rs: one SimCLR training step (both views
through backbone + projection head, NT-Xent, backward, SGD step) at batch 256 and 32 px.

- `contrastive/simclr_step_convnet4_b256_32px`: the 4-block ConvNet 32-64-128-256 (conv 3×3 no bias → BN →
  ReLU → 2×2 max-pool per block, global average pool), as selfsup's `conv_net` backbone;
- `contrastive/simclr_step_resnet18_b256_32px`: torchvision's ResNet-18 with the CIFAR stem (conv1 3×3
  stride 1, no max-pool) and no `fc`, as selfsup's `resnet18` with `stem = "cifar"`;
- `contrastive/simclr_step_convnet4_b256_32px_bf16`: the ConvNet-4 step with forward + loss under
  `torch.autocast("cpu", dtype=torch.bfloat16)` (backward and SGD outside), as selfsup's
  `train.precision = "bf16"`.

lightly's `SimCLRProjectionHead(feature_dim, 2048, 128)` and `NTXentLoss(temperature=0.5)`; each view
forwarded on its own, as lightly's SimCLR example does; `torch.optim.SGD(lr=0.06, momentum=0.9,
weight_decay=5e-4)` (default foreach implementation). Two batches of uniform [0, 1] images; 1 thread.

Prints one JSON object per line with the per-call times of N repeats (see _bench.py and xtask/src/bench.rs).
"""

import torch
import torch.nn as nn
import torchvision
from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead

from _bench import run, versions


class ConvNet(nn.Module):
    def __init__(self, widths=(32, 64, 128, 256), c_in=3):
        super().__init__()
        blocks = []
        for w in widths:
            blocks.append(nn.Sequential(nn.Conv2d(c_in, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU()))
            c_in = w
        self.blocks = nn.ModuleList(blocks)
        self.dim = c_in

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
            if x.shape[2] >= 2 and x.shape[3] >= 2:
                x = nn.functional.max_pool2d(x, 2, 2)
        return x.mean(dim=(2, 3))


def resnet18_cifar():
    m = torchvision.models.resnet18()
    m.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    m.maxpool = nn.Identity()
    m.fc = nn.Identity()
    m.dim = 512
    return m


class SimCLR(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.head = SimCLRProjectionHead(backbone.dim, 2048, 128)
        self.loss = NTXentLoss(temperature=0.5)

    def forward(self, x0, x1):
        z0 = self.head(self.backbone(x0))
        z1 = self.head(self.backbone(x1))
        return self.loss(z0, z1)


def step_fn(model, opt, x0, x1, bf16=False):
    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(x0, x1)
        loss.backward()
        opt.step()

    return step


if __name__ == "__main__":
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x0, x1 = torch.rand(256, 3, 32, 32), torch.rand(256, 3, 32, 32)
    vers = versions("torch", "torchvision", "lightly")
    for id_, backbone, bf16 in [
        ("contrastive/simclr_step_convnet4_b256_32px", ConvNet(), False),
        ("contrastive/simclr_step_resnet18_b256_32px", resnet18_cifar(), False),
        ("contrastive/simclr_step_convnet4_b256_32px_bf16", ConvNet(), True),
    ]:
        model = SimCLR(backbone)
        opt = torch.optim.SGD(model.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4)
        run(id_, step_fn(model, opt, x0, x1, bf16), 256, "images/s",
            "torch + lightly: SimCLR two views forward + NT-Xent + backward + SGD step", "torch 1 thread",
            versions=vers)
