"""lightly side of the whole-epoch SimCLR bench (issue 16): decode + augment + train on a JPEG image folder,
timed by the epoch, with lightly's own pieces as its SimCLR example uses them.

- data: `lightly.data.LightlyDataset(<folder>, transform=SimCLRTransform(input_size=32, gaussian_blur=0.0))`
  (PIL decode, torchvision transforms; `--dataset imagefolder`: torchvision's `ImageFolder` instead);
- `torch.utils.data.DataLoader(batch_size=256, shuffle=True, drop_last=True, num_workers=W)`, the
  DataLoader's defaults otherwise (workers started anew each epoch, as in lightly's example);
- model: the ConvNet-4 (32-64-128-256) of `simclr_step.py` (the same as selfsup's `conv_net`) with
  lightly's `SimCLRProjectionHead(256, 2048, 128)` and `NTXentLoss(temperature=0.5)`, each view forwarded
  on its own; `torch.optim.SGD(lr=0.06, momentum=0.9, weight_decay=5e-4)`;
- torch threads: left at the machine's default (`torch.get_num_threads()`, reported).

Timing: `--warmup-epochs` whole epochs first (default 0, untimed), then `--epochs` timed epochs (default 1);
in each timed epoch the clock starts after its first `--warmup-steps` optimizer steps (default 3: the
workers' start and the first batches are left out) and stops at the end of its last optimizer step
(`--warmup-steps 0`: from asking the DataLoader for its iterator). views/s = 2 · images/s of the
timed steps. selfsup's side (`simclr_epoch.sh`) times the same steps, from its trainer's log rows.

Memory: a sampler thread reads `/proc` every 0.25 s and keeps the peak of the summed RSS and the summed
PSS (proportional set size: shared pages split among the processes sharing them) of this process and
all its descendants (the loader workers); the process's own peak is `ru_maxrss`. Run the script under
`/usr/bin/time -v` too for the kernel's figure of the largest single process.

Prints one JSON line per epoch (`"kind": "epoch"`) and a summary line (`"kind": "summary"`). Not a row script of
`cargo xtask bench`: run by it (no arguments) it does nothing; `scripts/bench/simclr_epoch.sh` runs it.
Usage: python scripts/bench/simclr_epoch.py --data runs/jpeg10k [--workers 1] [--epochs 1] [--warmup-steps 3]
"""

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time

import torch
import torchvision
from lightly.data import LightlyDataset
from lightly.transforms import SimCLRTransform

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import run_by_xtask, versions  # noqa: E402
from simclr_step import ConvNet, SimCLR  # noqa: E402


def _children(pid):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def _tree(pid):
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(_children(p))
    return seen


def _rss_pss_kib(pid):
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


class TreeMemory(threading.Thread):
    """Peak summed RSS and PSS (KiB) of this process tree, sampled every `period` seconds."""

    def __init__(self, period=0.25):
        super().__init__(daemon=True)
        self.period, self.peak_rss, self.peak_pss, self.max_procs = period, 0, 0, 0
        self.done = threading.Event()

    def sample(self):
        pids = _tree(os.getpid())
        rss = pss = 0
        for p in pids:
            r, s = _rss_pss_kib(p)
            rss, pss = rss + r, pss + s
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
        self.max_procs = max(self.max_procs, len(pids))

    def run(self):
        while not self.done.wait(self.period):
            self.sample()


def main():
    if run_by_xtask():
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="runs/jpeg10k")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--epochs", type=int, default=1, help="timed epochs")
    p.add_argument("--warmup-epochs", type=int, default=0)
    p.add_argument("--warmup-steps", type=int, default=3, help="untimed steps at the start of a timed epoch")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--dataset", choices=["lightly", "imagefolder"], default="lightly")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    torch.manual_seed(a.seed)
    transform = SimCLRTransform(input_size=32, gaussian_blur=0.0)
    if a.dataset == "lightly":
        dataset = LightlyDataset(a.data, transform=transform)
    else:
        dataset = torchvision.datasets.ImageFolder(a.data, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch_size, shuffle=True, drop_last=True,
                                         num_workers=a.workers)
    model = SimCLR(ConvNet())
    opt = torch.optim.SGD(model.parameters(), lr=0.06, momentum=0.9, weight_decay=5e-4)
    model.train()
    mem = TreeMemory()
    mem.start()

    vers = versions("torch", "torchvision", "lightly", "pillow", "numpy")
    rates = []
    for epoch in range(a.warmup_epochs + a.epochs):
        timed = epoch >= a.warmup_epochs
        skip = a.warmup_steps if timed else 0
        t0, c0 = time.perf_counter(), time.process_time()
        images, loss_sum, steps = 0, 0.0, 0
        for batch in loader:
            x0, x1 = batch[0]
            opt.zero_grad()
            loss = model(x0, x1)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            steps += 1
            if steps == skip:
                t0, c0 = time.perf_counter(), time.process_time()
            elif steps > skip:
                images += x0.shape[0]
        dt = time.perf_counter() - t0
        if timed:
            rates.append(2 * images / dt)
        mem.sample()
        print(json.dumps({"kind": "epoch", "epoch": epoch + 1, "timed": timed, "steps": steps,
                          "untimed_steps": skip, "timed_images": images,
                          "seconds": round(dt, 3), "views_per_s": round(2 * images / dt, 1),
                          "main_cpu_s": round(time.process_time() - c0, 2), "loss": round(loss_sum / steps, 4)}),
              flush=True)
    mem.done.set()
    mem.sample()
    print(json.dumps({
        "kind": "summary", "side": "lightly", "workers": a.workers, "torch_threads": torch.get_num_threads(),
        "dataset": a.dataset, "files": len(dataset), "batch_size": a.batch_size,
        "warmup_epochs": a.warmup_epochs, "timed_epochs": a.epochs, "warmup_steps": a.warmup_steps,
        "views_per_s_median": round(statistics.median(rates), 1),
        "views_per_s": [round(r, 1) for r in rates],
        "peak_rss_main_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_tree_mib": round(mem.peak_rss / 1024, 1), "peak_pss_tree_mib": round(mem.peak_pss / 1024, 1),
        "max_processes": mem.max_procs, "versions": vers}), flush=True)


if __name__ == "__main__":
    main()
