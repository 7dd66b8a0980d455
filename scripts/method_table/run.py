"""The method table of issue 16 (docs/benchmarks.md, "Method table"): every contrastive method's
`selfsup pretrain --method <kind>` with one budget per dataset, kNN and linear probe before and after,
wall and CPU time, peak resident memory.

Usage: python3 scripts/method_table/run.py --dataset mnist|fsdd [--methods simclr,byol,...] [--bin PATH]
           [--out DIR] [--threads 1] [--epochs N]
Each run is the dataset's preset as it ships (`selfsup pretrain --dataset <d> --method <kind>`: the main
job's 15 epochs x 15 steps of 256 on the MNIST subset, the FSDD preset's 20 epochs x 21 steps of 128), with
only the method changed; the random-init figures are the same run's before-evaluation. Runs go one after
another under /usr/bin/time (GNU time: wall, user + system CPU seconds, maximum RSS), with
OMP_NUM_THREADS=<threads>. Writes <out>/<dataset>.jsonl (one object per method) and prints a Markdown
table. Standard library only; needs the release binary (cargo build --release -p selfsup-cli).
"""
import argparse
import json
import os
import subprocess
import sys
import time

METHODS = ["simclr", "moco_v2", "moco_v3", "byol", "simsiam", "barlow_twins", "vicreg", "nnclr",
           "dino", "swav", "dcl", "supcon"]


def parse():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fsdd"])
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--bin", default=os.path.join(root, "target", "release", "selfsup"))
    p.add_argument("--out", default=os.path.join(root, "runs", "method_table"))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=None,
                   help="the same budget for every method, other than the preset's (passed as --epochs)")
    a = p.parse_args()
    a.root = root  # the runs start here, so the binary finds the vendored data/
    return a


def run_one(a, method):
    out = os.path.join(a.out, f"{a.dataset}-{method}")
    timing = out + ".time"
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", timing, a.bin, "pretrain", "--dataset", a.dataset,
           "--method", method, "--out", out, "--log", "warn"]
    if a.epochs is not None:
        cmd += ["--epochs", str(a.epochs)]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), RUST_BACKTRACE="0")
    load0 = os.getloadavg()[0]
    log = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=a.root)
    row = {"dataset": a.dataset, "method": method, "ok": log.returncode == 0,
           "load_start": load0, "load_end": os.getloadavg()[0],
           "finished_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}
    if log.returncode != 0:
        row["error"] = (log.stderr or log.stdout).strip().splitlines()[-1:]
        return row
    wall, user, sys_s, rss_kb = open(timing).read().split()[-4:]
    ev = json.load(open(os.path.join(out, "eval.json")))
    row.update(before=ev["before"], after=ev["after"], train_seconds=ev["train_seconds"],
               wall_seconds=float(wall), cpu_seconds=float(user) + float(sys_s),
               peak_rss_mib=int(rss_kb) / 1024)
    return row


def table(rows):
    print("| method | kNN before → after | linear probe before → after | training | wall | CPU | peak RSS | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        if not r["ok"]:
            print(f"| `{r['method']}` | failed: {' '.join(r['error'])} | | | | | | |")
            continue
        b, f = r["before"], r["after"]
        mark = "" if f["linear_probe_acc"] > b["linear_probe_acc"] else " ✗"
        print(f"| `{r['method']}` | {b['knn_acc']:.3f} → {f['knn_acc']:.3f} | "
              f"{b['linear_probe_acc']:.3f} → {f['linear_probe_acc']:.3f}{mark} | {r['train_seconds']:.0f} s | "
              f"{r['wall_seconds']:.0f} s | {r['cpu_seconds']:.0f} s | {r['peak_rss_mib']:.0f} MiB | "
              f"{r['load_start']:.1f} → {r['load_end']:.1f} |")


def main():
    a = parse()
    os.makedirs(a.out, exist_ok=True)
    rows = []
    with open(os.path.join(a.out, f"{a.dataset}.jsonl"), "a") as f:
        for m in a.methods.split(","):
            r = run_one(a, m)
            rows.append(r)
            f.write(json.dumps(r) + "\n")
            f.flush()
            print(json.dumps(r), file=sys.stderr, flush=True)
    table(rows)


if __name__ == "__main__":
    main()
