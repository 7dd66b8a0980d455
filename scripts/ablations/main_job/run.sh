#!/usr/bin/env bash
# Main-job ablations of issue 16 (docs/benchmarks.md, "Main job ablations"): each TOML is the main
# job's resolved config (`selfsup pretrain --print-config`) with one change, evaluated once at the end
# (`eval.before = false`, `eval.every_epochs = 1000`). Then kNN at k = 20 and k = 200 on the same run.
# usage: scripts/ablations/main_job/run.sh [config.toml ...]   (from the repository root)
set -euo pipefail
cargo build --release -p selfsup-cli
bin=target/release/selfsup
for cfg in "${@:-scripts/ablations/main_job/*.toml}"; do
  for c in $cfg; do
    out=$(grep '^out_dir' "$c" | cut -d'"' -f2)
    /usr/bin/time -v "$bin" pretrain --config "$c" 2>&1 | grep -E "after pretraining|Maximum resident"
    for k in 20 200; do "$bin" eval knn --run "$out" --k $k; done
  done
done
