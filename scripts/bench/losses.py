"""lightly loss forward+backward on float32 N x 128 embeddings: the counterpart of
crates/selfsup-contrastive/benches/losses.rs (same ids). Prints one JSON object per line.
Every case runs at 1 and at 2 threads, as on the Rust side (ids `<case>/1thread`, `<case>/2threads`);
median [min–max] over N repeats: see _bench.py.
"""

import torch
from _bench import run, selected, versions
from lightly.loss import BarlowTwinsLoss, DCLLoss, NegativeCosineSimilarity, NTXentLoss, VICRegLoss

torch.manual_seed(0)
VERSIONS = versions("torch", "lightly")


def case(fn, n):
    a = torch.randn(n, 128, requires_grad=True)
    b = torch.randn(n, 128, requires_grad=True)

    def once():
        a.grad = None
        b.grad = None
        fn(a, b).backward()

    for _ in range(4):  # warm-up beyond _bench's single call
        once()
    return once


CASES = [
    ("ntxent/fwd_bwd_256x128", 256, NTXentLoss(temperature=0.5), "lightly NTXentLoss"),
    ("ntxent/fwd_bwd_1024x128", 1024, NTXentLoss(temperature=0.5), "lightly NTXentLoss"),
    ("dcl/fwd_bwd_256x128", 256, DCLLoss(temperature=0.1), "lightly DCLLoss"),
    ("negative_cosine/fwd_bwd_256x128", 256, NegativeCosineSimilarity(), "lightly NegativeCosineSimilarity"),
    ("barlow_twins/fwd_bwd_256x128", 256, BarlowTwinsLoss(), "lightly BarlowTwinsLoss"),
    ("vicreg/fwd_bwd_256x128", 256, VICRegLoss(), "lightly VICRegLoss"),
]

for threads in [1, 2]:
    torch.set_num_threads(threads)
    for case_id, n, loss, what in CASES:
        bench_id = f"{case_id}/{threads}thread" + ("s" if threads > 1 else "")
        if selected(bench_id):
            run(bench_id, case(loss, n), n, "pairs/s", f"{what} forward+backward, {n}x128 float32",
                f"torch {threads} thread(s)", versions=VERSIONS)
