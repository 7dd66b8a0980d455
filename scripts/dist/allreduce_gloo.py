"""All-reduce latency/bandwidth of torch.distributed (Gloo, float32, sum) for 1 KB - 100 MB.

The PyTorch side of crates/selfsup-dist/examples/allreduce_bench.rs, with the same protocol:
N local processes, TCP rendezvous on 127.0.0.1, Gloo bound to loopback, one intra-op thread,
per size a barrier, 3 warm-up all-reduces, then timed ones (barrier before each; at least 5,
about 1 s, rank 0 decides), median. Rank 0 prints one JSON line per size.

    /work/main/.venv-fixtures/bin/python scripts/dist/allreduce_gloo.py 2
"""

import json
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

SIZES = [1 << 10, 10 << 10, 100 << 10, 1 << 20, 10 << 20, 100 << 20]


def worker(rank, world, port):
    torch.set_num_threads(1)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    w = float(world)
    for nbytes in SIZES:
        t = torch.ones(nbytes // 4, dtype=torch.float32)
        dist.barrier()
        for _ in range(3):
            dist.all_reduce(t)
        times = []
        start = time.perf_counter()
        while True:
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
            more = len(times) < 5 or (time.perf_counter() - start < 1.0 and len(times) < 1000)
            flag = torch.tensor([int(more)], dtype=torch.int64)
            dist.broadcast(flag, 0)
            if flag.item() == 0:
                break
        times.sort()
        med = times[len(times) // 2]
        if rank == 0:
            print(json.dumps({
                "impl": "torch.distributed", "torch": torch.__version__, "world": world,
                "bytes": nbytes, "iters": len(times), "median_us": round(med * 1e6, 1),
                "algbw_GBps": round(nbytes / med / 1e9, 4),
                "busbw_GBps": round(2 * (w - 1) / w * nbytes / med / 1e9, 4),
            }), flush=True)
    dist.barrier()
    dist.destroy_process_group()


def main():
    world = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    mp.spawn(worker, args=(world, port), nprocs=world, join=True)


if __name__ == "__main__":
    main()
