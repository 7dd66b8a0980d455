"""NumPy / PyTorch counterpart of crates/selfsup-pretext/benches/pretext_generators.rs (same ids).

Each case builds the (views, target) pairs of 64 samples, one by one, in the main process with one
thread, exactly as the Rust generator does with its defaults:
- pretext/rotation_96px: k ~ U{0..3}, torch.rot90 of a 3x96x96 float tensor (a contiguous copy);
- pretext/jigsaw_3x3_96px: 32-px cells, 27-px tiles (gap 0.15) at random offsets in their cells, a
  permutation drawn from a 100-permutation set, each tile standardised per channel (numpy);
- pretext/relative_position_96px: 32-px cells, 22-px patches (gap 0.3), jitter, one of 8 neighbours,
  colour dropping (keep one random channel, the other two Gaussian noise of std 0.01) on both patches;
- pretext/colorization_96px: skimage.color.rgb2lab, L/100 and (a/110, b/110, ones);
- pretext/colorization_classes_32px: the same on the images' top-left 32x32 corner, plus the soft encoding of every pixel over the 313 ab
  bins (5 nearest by brute-force distance, exp(-d^2/50) normalised): indices, weights, ones;
- pretext/masked_spectrogram_40x51: 8x4 patches (5x13 units), half of them (randomised rounding of
  0.5 * 65) chosen without replacement, masked values 0, target = spectrogram + mask plane;
- pretext/temporal_order_40x51: 3 segments of 17 frames from a random start, shuffled by one of the 6
  orders.
Inputs are the same synthetic images and spectrograms as the Rust bench. Prints one JSON line per case
(see _bench.py).
"""

import itertools

import numpy as np
import torch
from skimage.color import rgb2lab

from _bench import run

torch.set_num_threads(1)
N = 64
RNG = np.random.default_rng(0)

ROWS = [(-90, 50, 90), (-80, 20, 90), (-70, 0, 90), (-60, -20, 90), (-50, -30, 100),
        (-40, -40, 100), (-30, -50, 100), (-20, -50, 100), (-10, -60, 100), (0, -70, 100),
        (10, -80, 90), (20, -80, 90), (30, -90, 90), (40, -100, 90), (50, -100, 80),
        (60, -110, 80), (70, -110, 80), (80, -110, 70), (90, -110, 70), (100, -90, 0)]
BINS = np.array([(a, b) for a, lo, hi in ROWS for b in range(lo, hi + 1, 10)], dtype=np.float64)


def images():
    s = 96
    y, x = np.meshgrid(np.arange(s), np.arange(s), indexing="ij")
    out = []
    for i in range(N):
        planes = [(x * 255 // s + y * (c + 1) * 7 + i * 13 + ((x * y) % 17) * 3) % 256 for c in range(3)]
        out.append((np.stack(planes).astype(np.float32) / 255.0))
    return out


def spectrograms():
    f, t = 40, 51
    j = np.arange(f * t)
    return [((((j * 7 + i * 13) % 41) - 20.0) / 12.0).astype(np.float32).reshape(1, f, t) for i in range(N)]


IMGS = images()
IMGS32 = [np.ascontiguousarray(a[:, :32, :32]) for a in IMGS]
IMGS_T = [torch.from_numpy(a) for a in IMGS]
SPECS = spectrograms()
JIGSAW_SET = [RNG.permutation(9) for _ in range(100)]
ORDERS = [list(p) for p in itertools.permutations(range(3))]


def rotation():
    for img in IMGS_T:
        k = int(RNG.integers(4))
        torch.rot90(img, k, (1, 2)).contiguous()


def standardize(t):
    m = t.mean(axis=(1, 2), keepdims=True)
    sd = t.std(axis=(1, 2), keepdims=True)
    return (t - m) / np.where(sd > 1e-8, sd, np.inf)


def jigsaw():
    cell, tile = 32, 27
    for img in IMGS:
        cls = int(RNG.integers(100))
        offs = RNG.integers(0, cell - tile + 1, size=(9, 2))
        tiles = [img[:, (p // 3) * cell + offs[p, 0]:(p // 3) * cell + offs[p, 0] + tile,
                     (p % 3) * cell + offs[p, 1]:(p % 3) * cell + offs[p, 1] + tile] for p in range(9)]
        [standardize(tiles[p]) for p in JIGSAW_SET[cls]]


def relative_position():
    cell, patch = 32, 22
    neighbours = [0, 1, 2, 3, 5, 6, 7, 8]
    for img in IMGS:
        cls = int(RNG.integers(8))
        out = []
        for pos in (4, neighbours[cls]):
            dy, dx = RNG.integers(0, cell - patch + 1, size=2)
            top, left = (pos // 3) * cell + dy, (pos % 3) * cell + dx
            p = img[:, top:top + patch, left:left + patch].copy()
            keep = int(RNG.integers(3))
            for ch in range(3):
                if ch != keep:
                    p[ch] = RNG.normal(0.0, 0.01, size=(patch, patch))
            out.append(p)


def colorization():
    for img in IMGS:
        lab = rgb2lab(img.transpose(1, 2, 0).astype(np.float64))
        l = (lab[..., 0] / 100.0).astype(np.float32)
        np.concatenate([(lab[..., 1:] / 110.0).transpose(2, 0, 1), np.ones((1, 96, 96))]).astype(np.float32)


def colorization_classes():
    for img in IMGS32:
        lab = rgb2lab(img.transpose(1, 2, 0).astype(np.float64))
        l = (lab[..., 0] / 100.0).astype(np.float32)
        ab = lab[..., 1:].reshape(-1, 2)
        d2 = ((ab[:, None, :] - BINS[None, :, :]) ** 2).sum(-1)
        idx = np.argpartition(d2, 5, axis=1)[:, :5]
        dk = np.take_along_axis(d2, idx, 1)
        order = np.argsort(dk, axis=1, kind="stable")
        idx, dk = np.take_along_axis(idx, order, 1), np.take_along_axis(dk, order, 1)
        w = np.exp(-(dk - dk[:, :1]) / 50.0)
        w /= w.sum(1, keepdims=True)
        np.concatenate([idx.T, w.T, np.ones((1, ab.shape[0]))]).reshape(11, 32, 32).astype(np.float32)


def masked_spectrogram():
    f, t, uf, ut = 40, 51, 8, 4
    gf, gt = -(-f // uf), -(-t // ut)
    n = gf * gt
    for s in SPECS:
        exact = 0.5 * n
        k = int(np.floor(exact)) + int(RNG.random() < exact - np.floor(exact))
        units = np.zeros(n, dtype=bool)
        units[RNG.permutation(n)[:k]] = True
        mask = np.repeat(np.repeat(units.reshape(gf, gt), uf, 0), ut, 1)[:f, :t]
        view = np.where(mask, 0.0, s).astype(np.float32)
        np.concatenate([s, mask[None].astype(np.float32)])


def temporal_order():
    t, seg = 51, 17
    for s in SPECS:
        cls = int(RNG.integers(6))
        start = int(RNG.integers(t - 3 * seg + 1))
        segs = [s[:, :, start + k * seg:start + (k + 1) * seg] for k in range(3)]
        [segs[k].copy() for k in ORDERS[cls]]


for id_, fn, what in [
    ("pretext/rotation_96px", rotation, "torch.rot90 per image (contiguous copy)"),
    ("pretext/jigsaw_3x3_96px", jigsaw, "numpy: 9 jittered 27-px tiles, per-tile standardisation"),
    ("pretext/relative_position_96px", relative_position, "numpy: 2 jittered 22-px patches, colour dropping"),
    ("pretext/colorization_96px", colorization, "skimage.color.rgb2lab + numpy planes"),
    ("pretext/colorization_classes_32px", colorization_classes, "rgb2lab + numpy 5-NN soft encoding over 313 bins"),
    ("pretext/masked_spectrogram_40x51", masked_spectrogram, "numpy: 8x4 patch mask, ratio 0.5"),
    ("pretext/temporal_order_40x51", temporal_order, "numpy: 3 shuffled 17-frame segments"),
]:
    run(id_, fn, N, "samples/s", what, "1")
