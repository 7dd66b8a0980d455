#!/usr/bin/env bash
# Pretext-task preset search of issue 12 (docs/benchmarks.md, "Pretext tasks"): each TOML is the
# resolved config of `selfsup pretrain [--dataset fsdd] --method <task> --epochs N`
# (`--print-config`) with the changes named in the table, evaluated once at the end
# (`eval.before = false`: the random-init figures come from the same seed's `eval.before` runs;
# the third pass's `t_fn_*`, `c_bb*` set `eval.before = true`, the bar measured in the same run).
# usage: scripts/ablations/pretext/run.sh [config.toml ...]   (from the repository root)
set -euo pipefail
cargo build --release -p selfsup-cli
bin=target/release/selfsup
for cfg in "${@:-scripts/ablations/pretext/*.toml}"; do
  for c in $cfg; do
    /usr/bin/time -f "wall %e s" "$bin" pretrain --config "$c" --log warn 2>&1 | grep -E "before pretraining|after pretraining|wall"
  done
done
