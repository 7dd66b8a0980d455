"""PyTorch counterpart of crates/selfsup-data/benches/loader.rs (same ids).

- loader/imagefolder_jpeg_simclr32: torchvision ImageFolder over 1,024 generated 32x32 JPEGs (10 class
  folders, quality 90, the same synthetic content as the Rust bench) with the SimCLR two-view pipeline
  (lightly's order: crop, flip, jitter p0.8, greyscale p0.2, no blur at 32 px, to float, ImageNet
  normalise), DataLoader(batch 256, shuffle, 2 workers, persistent). Counted in pairs (samples) per second.
- loader/imagefolder_jpeg_simclr32_1thread: the same with 0 workers (all in this process, one thread): the
  like-for-like pair of the Rust loader on a 1-thread pool, with the per-CPU-second figure.
Both sides cycle through the same 1,024 files.
- loader/loader_simclr32_inmemory (2 workers) and loader/loader_simclr32_inmemory_1thread (0 workers): the
  same two views over the same 1,024 images held in memory as uint8 CHW tensors (no files, no decode; the
  Rust side's InMemory dataset of u8 images), DataLoader(batch 256, shuffle).
Prints one JSON object per line: one epoch per repeat, N repeats (see _bench.py).
Threads: torch.set_num_threads(1) in the main process and in workers.
"""

import os
import tempfile

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets
from torchvision.transforms import v2

from _bench import run, selected, versions

torch.set_num_threads(1)
N, SIZE, BATCH = 1024, 32, 256
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def image_hwc(i):
    """Image `i` of the shared synthetic formula (selfsup_bench::synthetic_rgb), HWC uint8."""
    y, x = np.meshgrid(np.arange(SIZE), np.arange(SIZE), indexing="ij")
    planes = [(x * 255 // SIZE + y * (c + 1) * 7 + i * 13 + ((x * y) % 17) * 3) % 256 for c in range(3)]
    return np.stack(planes, axis=-1).astype(np.uint8)


def write_jpegs(root):
    for i in range(N):
        arr = image_hwc(i)
        d = os.path.join(root, f"class{i % 10}")
        os.makedirs(d, exist_ok=True)
        Image.fromarray(arr).save(os.path.join(d, f"{i:05}.jpg"), format="JPEG", quality=90)


class TwoViews:
    def __init__(self):
        self.t = v2.Compose([
            v2.RandomResizedCrop(SIZE, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(MEAN, STD),
        ])

    def __call__(self, img):
        return self.t(img), self.t(img)


def worker_init(_):
    torch.set_num_threads(1)


class InMemory(Dataset):
    """The N images as uint8 CHW tensors with the two-view transform."""

    def __init__(self):
        self.imgs = [torch.from_numpy(image_hwc(i)).permute(2, 0, 1).contiguous() for i in range(N)]
        self.t = TwoViews()

    def __len__(self):
        return N

    def __getitem__(self, i):
        return self.t(self.imgs[i]), i % 10


def epoch_fn(root, workers):
    """One epoch over the loader (workers started by a warm-up epoch here; _bench adds one more call);
    `root=None`: the in-memory dataset."""
    ds = InMemory() if root is None else datasets.ImageFolder(root, transform=TwoViews())
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=workers,
                        worker_init_fn=worker_init, persistent_workers=workers > 0)

    def epoch():
        n = 0
        for (v1, _v2), _labels in loader:
            n += v1.shape[0]
        assert n == N
    epoch()
    return epoch


def main():
    libs = versions("torch", "torchvision", "Pillow")
    for workers, suffix in [(2, ""), (0, "_1thread")]:
        id_ = f"loader/loader_simclr32_inmemory{suffix}"
        if selected(id_):
            run(id_, epoch_fn(None, workers), N, "pairs/s",
                f"in-memory uint8 tensors + v2 SimCLR two views + DataLoader({workers} workers, batch 256)",
                f"torch 1 thread per process, {workers} worker process(es)", min_time=0.0, cpu=workers == 0,
                versions=libs)
    cases = [(2, ""), (0, "_1thread")]
    cases = [(w, s) for w, s in cases if selected(f"loader/imagefolder_jpeg_simclr32{s}")]
    if not cases:
        return
    with tempfile.TemporaryDirectory() as root:
        write_jpegs(root)
        for workers, suffix in cases:
            run(f"loader/imagefolder_jpeg_simclr32{suffix}", epoch_fn(root, workers), N, "pairs/s",
                f"torchvision ImageFolder (JPEG 32x32) + v2 SimCLR two views + DataLoader({workers} workers, batch 256)",
                f"torch 1 thread per process, {workers} worker process(es)", min_time=0.0, cpu=workers == 0,
                versions=libs)


if __name__ == "__main__":
    main()
