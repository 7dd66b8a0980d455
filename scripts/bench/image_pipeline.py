"""torchvision v2 counterpart of crates/selfsup-augment/benches/image_pipeline.rs (same ids).

- image_simclr/two_view_2threads/{32,96}px: the SimCLR two-view pipeline (lightly's order: crop, flip,
  jitter p0.8, greyscale p0.2, blur p0.5 except at 32 px, to float, ImageNet normalise) on JPEG-decoded PIL
  images through a DataLoader with 2 workers, batch 256.
- image_simclr/two_view_1thread/{32,96}px: the same with 0 workers (all in this process, one thread): the
  like-for-like pair of selfsup on one thread, with the per-CPU-second figure.
- image_transform_224/<op>: one transform on a 224x224 float tensor, one thread.
Both sides cycle through the same distinct inputs: IMAGE_BENCH_N images (default 512, two batches of 256;
the Rust bench uses 512) for the pipelines, one image for the single transforms.
Prints one JSON object per line with the per-call times of N repeats (see _bench.py); one pipeline
repeat is one epoch over the images. Threads: torch.set_num_threads(1) in the main process and in workers.
"""

import io
import os

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from _bench import run, selected, versions

torch.set_num_threads(1)
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
VERSIONS = versions("torch", "torchvision", "numpy", "Pillow")


def decoded_images(n, size):
    """Same synthetic content as the Rust bench, JPEG-encoded then decoded to PIL."""
    y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    out = []
    for i in range(n):
        planes = [(x * 255 // size + y * (c + 1) * 7 + i * 13 + ((x * y) % 17) * 3) % 256 for c in range(3)]
        arr = np.stack(planes, axis=-1).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=95)
        out.append(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


def simclr_view(size):
    ts = [
        v2.RandomResizedCrop(size, antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
        v2.RandomGrayscale(p=0.2),
    ]
    if size > 32:
        k = int(0.1 * size)
        k = k + 1 if k % 2 == 0 else k
        ts.append(v2.RandomApply([v2.GaussianBlur(k, sigma=(0.1, 2.0))], p=0.5))
    ts += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)]
    return v2.Compose(ts)


class TwoViews(Dataset):
    def __init__(self, imgs, size):
        self.imgs, self.t = imgs, simclr_view(size)

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, i):
        img = self.imgs[i]
        return self.t(img), self.t(img)


def worker_init(_):
    torch.set_num_threads(1)


N_IMAGES = int(os.environ.get("IMAGE_BENCH_N", "512"))


def pipeline_fn(size, workers, n=N_IMAGES, batch=256):
    """One epoch over the DataLoader (after a warm-up epoch that starts the workers)."""
    ds = TwoViews(decoded_images(n, size), size)
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers,
                        worker_init_fn=worker_init, persistent_workers=workers > 0)

    def epoch():
        for _ in loader:
            pass
    epoch()
    return epoch


def single_fn(t):
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 224, 224, generator=g)
    for _ in range(4):  # warm-up beyond _bench's single call
        t(img)
    return lambda: t(img)


for size in [32, 96]:
    for workers, suffix in [(2, "2threads"), (0, "1thread")]:
        id_ = f"image_simclr/two_view_{suffix}/{size}px"
        if not selected(id_):
            continue
        fn = pipeline_fn(size, workers)
        run(id_, fn, N_IMAGES, "pairs/s",
            f"torchvision v2 SimCLR two views, {N_IMAGES} {size}x{size} JPEG-decoded PIL images, DataLoader {workers} workers, batch 256",
            f"torch 1 thread per process, {workers} worker process(es)", min_time=0.0, cpu=workers == 0,
            versions=VERSIONS)

SINGLE = [
    ("random_resized_crop", v2.RandomResizedCrop(224, antialias=True)),
    ("horizontal_flip", v2.RandomHorizontalFlip(p=1.0)),
    ("color_jitter", v2.ColorJitter(0.4, 0.4, 0.4, 0.1)),
    ("gaussian_blur_k5", v2.GaussianBlur(5, sigma=(0.1, 2.0))),
    ("grayscale", v2.RandomGrayscale(p=1.0)),
    ("normalize", v2.Normalize(MEAN, STD)),
]
for name, t in SINGLE:
    id_ = f"image_transform_224/{name}"
    if not selected(id_):
        continue
    fn = single_fn(t)
    run(id_, fn, 1, "img/s", f"torchvision v2 {type(t).__name__} on a 3x224x224 float tensor",
        "torch 1 thread", cpu=True, versions=VERSIONS)
