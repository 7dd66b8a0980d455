"""Writes a deterministic folder of colour JPEG images for the whole-epoch SimCLR bench (issue 16):
`<out>/class_<k>/img_<i>.jpg`, 10 class sub-folders, 32×32 RGB by default, 10,000 images in all.

Each image is a random linear colour gradient, two to four filled shapes (ellipses, rectangles, polygons)
in random colours, and Gaussian pixel noise, then saved as baseline JPEG at quality 90: varied content, so
that decoding is real work and the files are not trivially compressible (about 1.1 KB each at 32 px). The class
only shifts the palette (class k's hues centre on k/10), so a folder looks like a small labelled colour
dataset. Everything comes from NumPy's PCG64 with a fixed seed: the same arguments give byte-identical files.

Usage: python scripts/bench/make_jpeg_folder.py [--out runs/jpeg10k] [--n 10000] [--size 32] [--seed 0]
Needs numpy and Pillow. Skips the work when `<out>/.complete` records the same arguments. Run by `cargo xtask
bench` (no arguments, `BENCH_SAMPLES_JSON` set) it does nothing: it is a helper, not a row script.
"""

import argparse
import colorsys
import json
import os

import numpy as np
from PIL import Image, ImageDraw

from _bench import run_by_xtask


def colour(rng, hue_centre):
    h = (hue_centre + rng.normal(0.0, 0.08)) % 1.0
    s = rng.uniform(0.3, 1.0)
    v = rng.uniform(0.25, 1.0)
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h, s, v))


def image(rng, size, k):
    centre = k / 10.0
    a, b = np.array(colour(rng, centre), np.float32), np.array(colour(rng, centre + 0.5), np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    t = np.clip(0.5 + (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)), 0, 1)[..., None]
    img = Image.fromarray((a * (1 - t) + b * t).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(rng.integers(2, 5)):
        x0, y0 = rng.uniform(-0.2, 0.8, 2) * size
        w, h = rng.uniform(0.15, 0.7, 2) * size
        fill = colour(rng, centre + rng.choice([0.0, 0.25, 0.5]))
        kind = rng.integers(0, 3)
        if kind == 0:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=fill)
        elif kind == 1:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=fill)
        else:
            pts = [(float(x0 + rng.uniform(0, w)), float(y0 + rng.uniform(0, h))) for _ in range(rng.integers(3, 6))]
            draw.polygon(pts, fill=fill)
    arr = np.asarray(img, np.float32) + rng.normal(0.0, rng.uniform(4, 16), (size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def main():
    if run_by_xtask():
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/jpeg10k")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quality", type=int, default=90)
    a = p.parse_args()
    stamp = json.dumps({"n": a.n, "size": a.size, "classes": a.classes, "seed": a.seed, "quality": a.quality})
    done = os.path.join(a.out, ".complete")
    if os.path.exists(done) and open(done).read() == stamp:
        print(f"{a.out}: already complete ({stamp})")
        return
    rng = np.random.Generator(np.random.PCG64(a.seed))
    total = 0
    for i in range(a.n):
        k = i % a.classes
        d = os.path.join(a.out, f"class_{k}")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, f"img_{i // a.classes:05d}.jpg")
        image(rng, a.size, k).save(path, "JPEG", quality=a.quality)
        total += os.path.getsize(path)
    with open(done, "w") as f:
        f.write(stamp)
    print(f"{a.out}: {a.n} JPEGs, {a.size}x{a.size}, {a.classes} classes, {total / a.n:.0f} bytes each on average")


if __name__ == "__main__":
    main()
