"""PyTorch side of crates/selfsup-train/benches/train_ops.rs: weighted kNN (k=200, T=0.1, the
InstDisc/lightly formula) and one torch.optim AdamW / SGD-Nesterov step of 1,048,576 parameters.
Prints one JSON object per line with the per-call times of N repeats (see _bench.py and xtask/src/bench.rs)."""
import torch
from _bench import run

torch.set_num_threads(1)
torch.manual_seed(0)

bank = torch.nn.functional.normalize(torch.randn(5000, 128), dim=1)
labels = torch.randint(0, 10, (5000,))
q = torch.randn(1000, 128)


def knn():
    with torch.no_grad():
        b = torch.nn.functional.normalize(bank, dim=1)
        qq = torch.nn.functional.normalize(q, dim=1)
        sim = qq @ b.T
        w, idx = sim.topk(200, dim=1)
        nl = labels[idx]
        scores = torch.zeros(1000, 10).scatter_add_(1, nl, (w / 0.1).exp())
        return scores.argmax(1)


run("train/knn_predict_bank5000_d128", knn, 1000, "queries/s",
    "torch: normalize, matmul, topk(200), exp(sim/0.1) scatter_add vote", "torch 1 thread")

for id_, make in [
    ("train/adamw_step_1m_params", lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01)),
    ("train/sgd_nesterov_step_1m_params",
     lambda ps: torch.optim.SGD(ps, lr=1e-3, momentum=0.9, nesterov=True, weight_decay=0.01)),
]:
    ps = [torch.randn(512, 512, requires_grad=True) for _ in range(4)]
    sum((p * p).sum() for p in ps).backward()
    opt = make(ps)
    run(id_, opt.step, 1 << 20, "params/s", "torch.optim default (foreach) implementation", "torch 1 thread")
