"""Paper model of data-parallel SimCLR scaling: ring all-reduce time vs compute per step.

Reads the JSON lines of `cargo run --release -p selfsup-dist --example step_time -- ...` (one per
model) on stdin and prints, for N = 2..64 workers and several link bandwidths, the per-step ring
all-reduce time of the gradients

    t_comm(N) = 2 (N - 1) / N * S / BW + 2 (N - 1) * alpha

(S = gradient bytes, BW = per-link bandwidth, alpha = per-message latency; a ring all-reduce is a
reduce-scatter then an all-gather, each N - 1 steps moving S / N bytes per link), and the parallel
efficiency t_compute / (t_compute + t_comm) without overlap and min(1, t_compute / t_comm) with
perfect overlap of communication and backward (what DDP's buckets approach).

    python3 scripts/dist/paper_model.py --batch 32 --alpha-us 50 < step_times.jsonl
"""

import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32, help="per-worker batch (samples, two views each)")
    ap.add_argument("--alpha-us", type=float, default=50.0, help="latency per ring step (us)")
    ap.add_argument("--gbits", default="10,25,100", help="link bandwidths in Gbit/s")
    args = ap.parse_args()
    rows = [json.loads(line) for line in sys.stdin if line.strip().startswith("{")]
    ns = [2, 4, 8, 16, 32, 64]
    bws = [float(b) for b in args.gbits.split(",")]
    for r in rows:
        s = r["grad_bytes"]
        tc = r["per_sample_ms"] / 1e3 * args.batch
        print(f"\n### {r['model']} at {r['px']} px: {r['params']/1e6:.1f} M parameters, "
              f"S = {s/1e6:.1f} MB of float32 gradients; compute {r['per_sample_ms']:.1f} ms/sample "
              f"measured here ({r['threads']} threads) -> {tc:.2f} s per step at batch {args.batch}/worker\n")
        print("| link | " + " | ".join(f"N={n}" for n in ns) + " |")
        print("| --- |" + " ---: |" * len(ns))
        for bw in bws:
            cells = []
            for n in ns:
                t = 2 * (n - 1) / n * s / (bw * 1e9 / 8) + 2 * (n - 1) * args.alpha_us * 1e-6
                eff = tc / (tc + t)
                cells.append(f"{t*1e3:.0f} ms ({eff:.0%})")
            print(f"| {bw:g} Gb/s | " + " | ".join(cells) + " |")
        # The compute time per step at which communication (no overlap) costs 10% and 50%.
        for bw in bws:
            t64 = 2 * 63 / 64 * s / (bw * 1e9 / 8) + 2 * 63 * args.alpha_us * 1e-6
            print(f"\nAt {bw:g} Gb/s and N = 64, t_comm = {t64*1e3:.0f} ms: scaling stays above 90% "
                  f"efficiency (no overlap) while compute per step >= {9*t64*1e3:.0f} ms, and "
                  f"communication dominates below {t64*1e3:.0f} ms.", end="")
        print()


if __name__ == "__main__":
    main()
