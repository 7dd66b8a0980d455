"""lightly loss forward+backward on float32 N x 128 embeddings: the counterpart of
crates/selfsup-contrastive/benches/losses.rs (same ids). Prints one JSON object per line.
Threads: BENCH_THREADS (default 2), as on the Rust side.
"""

import json
import os
import time

import torch
from lightly.loss import BarlowTwinsLoss, DCLLoss, NegativeCosineSimilarity, NTXentLoss, VICRegLoss

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
torch.manual_seed(0)


def measure(fn, n, min_time=2.0):
    a = torch.randn(n, 128, requires_grad=True)
    b = torch.randn(n, 128, requires_grad=True)

    def once():
        a.grad = None
        b.grad = None
        fn(a, b).backward()

    for _ in range(5):
        once()
    iters, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_time:
        once()
        iters += 1
    per_iter = (time.perf_counter() - start) / iters
    return n / per_iter, per_iter


CASES = [
    ("ntxent/fwd_bwd_256x128", 256, NTXentLoss(temperature=0.5), "lightly NTXentLoss"),
    ("ntxent/fwd_bwd_1024x128", 1024, NTXentLoss(temperature=0.5), "lightly NTXentLoss"),
    ("dcl/fwd_bwd_256x128", 256, DCLLoss(temperature=0.1), "lightly DCLLoss"),
    ("negative_cosine/fwd_bwd_256x128", 256, NegativeCosineSimilarity(), "lightly NegativeCosineSimilarity"),
    ("barlow_twins/fwd_bwd_256x128", 256, BarlowTwinsLoss(), "lightly BarlowTwinsLoss"),
    ("vicreg/fwd_bwd_256x128", 256, VICRegLoss(), "lightly VICRegLoss"),
]

for bench_id, n, loss, what in CASES:
    per_sec, per_iter = measure(loss, n)
    print(json.dumps({"id": bench_id, "per_sec": per_sec, "unit": "pairs/s",
                      "what": f"{what} forward+backward, {n}x128 float32 ({per_iter * 1e3:.2f} ms/iter)"}))
