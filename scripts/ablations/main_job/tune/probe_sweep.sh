#!/usr/bin/env bash
# Stage 9 of the issue-16 main-job ablations (eleventh session): how the linear probe is trained, on
# finished runs' final weights. For each run folder, re-runs `selfsup eval linear --run DIR` once per
# probe setting below, with the run's own config.toml edited in its `[eval.probe]` section (the
# original is kept as config.orig.toml and put back at the end). One line per (run, setting) goes to
# runs/abl16/probe_sweep.tsv: held-out and train accuracy, final loss and the eval's wall time (which
# includes embedding the 4,000 + 1,000 digits).
# usage: BIN=target/release/selfsup scripts/ablations/main_job/tune/probe_sweep.sh <run dir ...>
set -uo pipefail
bin=${BIN:-target/release/selfsup}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} RUST_BACKTRACE=0
mkdir -p runs/abl16
# name | optimizer | epochs (Adam) or iterations (L-BFGS) | lr | weight_decay | batch_size |
# weight_decay_grid (`[]`: one fit at weight_decay; `default`: the grid the default probe chooses from)
settings=${SETTINGS:-"
adam100|adam|100|0.01|0.0001|0|[]
adam300|adam|300|0.01|0.0001|0|[]
adam1000|adam|1000|0.01|0.0001|0|[]
adam_mb256_e100|adam|100|0.001|0.0001|256|[]
lbfgs100|lbfgs|100|0.01|0.0001|0|[]
lbfgs300|lbfgs|300|0.01|0.0001|0|[]
lbfgs300_wd1e3|lbfgs|300|0.01|0.001|0|[]
lbfgs300_wd1e2|lbfgs|300|0.01|0.01|0|[]
lbfgs300_wd1e5|lbfgs|300|0.01|0.00001|0|[]
lbfgs300_grid|lbfgs|300|0.01|0.0001|0|default
"}
for run in "$@"; do
  cfg="$run/config.toml"
  [ -f "$run/config.orig.toml" ] || cp "$cfg" "$run/config.orig.toml"
  for s in $settings; do
    IFS='|' read -r name opt ep lr wd bs grid <<< "$s"
    cp "$run/config.orig.toml" "$cfg"
    sed -i '/^weight_decay_grid = /d; /^select_fraction = /d' "$cfg"
    [ "$grid" = default ] || sed -i "/^\[eval.probe\]/a weight_decay_grid = $grid" "$cfg"
    sed -i -e "/^\[eval.probe\]/,/^\[/ {
      s/^optimizer = .*/optimizer = \"$opt\"/
      s/^epochs = .*/epochs = $ep/
      s/^lr = .*/lr = $lr/
      s/^weight_decay = .*/weight_decay = $wd/
      s/^batch_size = .*/batch_size = $bs/
    }" "$cfg"
    t0=$(date +%s.%N)
    res=$("$bin" eval linear --run "$run" 2>&1 | grep -E "linear probe accuracy|rror" | tail -1)
    t1=$(date +%s.%N)
    printf "%s\t%s\t%s\t%.1fs\t%s\n" "$(basename "$run")" "$name" "$res" "$(echo "$t1 - $t0" | bc)" \
      "$(date -u +%H:%M)" | tee -a runs/abl16/probe_sweep.tsv
  done
  cp "$run/config.orig.toml" "$cfg"
done
