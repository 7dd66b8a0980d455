#!/usr/bin/env bash
# Runs issue-16 tuning configs one after another (see make.py), each on one libtorch thread, then
# from the same final weights: kNN at k = 20 and a linear probe by L-BFGS (the run config's probe
# switched to `optimizer = "lbfgs"`, `epochs = $LBFGS_ITERS`), next to the run's own k = 200 kNN
# and 100-epoch Adam probe. One line per run goes to runs/abl16/results.tsv.
# usage: BIN=target/release/selfsup scripts/ablations/main_job/tune/run.sh <config.toml ...>
set -uo pipefail
bin=${BIN:-target/release/selfsup}
iters=${LBFGS_ITERS:-100}
export OMP_NUM_THREADS=1 RUST_BACKTRACE=0
mkdir -p runs/abl16
for c in "$@"; do
  out=$(grep '^out_dir' "$c" | cut -d'"' -f2)
  l0=$(cut -d' ' -f1 /proc/loadavg)
  if [ -z "${EVAL_ONLY:-}" ]; then  # EVAL_ONLY=1: only the evaluations of a finished run
    rm -rf "$out"
    /usr/bin/time -f "%U %S %e %M" -o "$out.time" nice -n 5 "$bin" pretrain --config "$c" > "$out.log" 2>&1
  fi
  t=$(tail -1 "$out.time")
  after=$(grep -E "after pretraining" "$out.log" | tail -1)
  train=$(grep -oE "training took [0-9.]+ ?s|trained in [0-9.]+ ?s" "$out.log" | tail -1)
  k20=$(nice -n 5 "$bin" eval knn --run "$out" --k 20 2>&1 | grep -oE "[0-9]\.[0-9]+" | tail -1)
  sed -i -e '/^\[eval.probe\]/,/^\[/ s/^optimizer = .*/optimizer = "lbfgs"/' -e "/^\[eval.probe\]/,/^\[/ s/^epochs = .*/epochs = $iters/" "$out/config.toml"
  p0=$(date +%s.%N)
  lb=$(nice -n 5 "$bin" eval linear --run "$out" 2>&1 | tail -1)
  p1=$(date +%s.%N)
  l1=$(cut -d' ' -f1 /proc/loadavg)
  printf "%s\t%s\t%s\tk20=%s\tlbfgs%s: %s (%.1fs)\tuser sys wall maxrssKB: %s\tload %s-%s\t%s\n" \
    "$(basename "$c" .toml)" "$after" "$train" "$k20" "$iters" "$lb" "$(echo "$p1 - $p0" | bc)" "$t" "$l0" "$l1" "$(date -u +%H:%M)" | tee -a runs/abl16/results.tsv
done
