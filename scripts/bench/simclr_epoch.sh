#!/usr/bin/env bash
# Whole SimCLR epoch on a JPEG image folder, selfsup against lightly (issue 16): decode + augment + train,
# ConvNet-4, batch 256, 32 px, lightly's SimCLR recipe without blur, SGD 0.06/0.9/5e-4.
#
# Runs the two sides alternately, ROUNDS rounds (default 3): per round `selfsup pretrain` (config
# scripts/bench/simclr_epoch.toml) and scripts/bench/simclr_epoch.py once per loader worker count in WORKERS
# (default "1 2"). Each run is one epoch of STEPS = IMAGES / 256 steps (IMAGES default 10,000: 39 steps;
# STEPS must be a multiple of 3, at least 6); both sides time steps 4-STEPS (the first 3 steps are the
# warm-up) and report views/s = 2 × images/s; selfsup from its trainer's metrics.jsonl rows (log_every = 3:
# samples_per_sec over each 3 steps), lightly from perf_counter in the script. CPU seconds: user + sys of
# the whole run from `/usr/bin/time -v` (for lightly: main process + loader workers). Peak RSS: the kernel's
# `Maximum resident set size` of `/usr/bin/time -v` (the largest single process); for lightly also the peak
# of the summed RSS / PSS of the process tree (main + loader workers) the script samples.
# `/proc/loadavg` before and after each run. Prints one JSON line per run (also in $OUT/results.jsonl) and a
# Markdown table (median [min-max]).
#
# `cargo xtask bench` runs this script as its whole-epoch stage (row `simclr_epoch/jpeg_convnet4_b256`,
# `--epoch-rounds`, `--epoch-images`) and reads $OUT/results.jsonl; the table printed here is for standalone use.
# Usage: scripts/bench/simclr_epoch.sh   (env: ROUNDS, WORKERS, IMAGES, DATA, VAL, PY, SELFSUP, OUT)
# Needs: target/release/selfsup (cargo build --release -p selfsup-cli), /usr/bin/time, .venv-fixtures with
# torch, torchvision, lightly, pillow, numpy; the folders are made by scripts/bench/make_jpeg_folder.py if
# absent (DATA defaults to runs/jpeg10k for 10,000 images, else runs/jpeg<IMAGES>).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-"1 2"}
IMAGES=${IMAGES:-10000}
STEPS=$((IMAGES / 256))
if (( STEPS < 6 || STEPS % 3 != 0 )); then
  echo "simclr_epoch.sh: IMAGES=$IMAGES gives $STEPS steps of 256; need a multiple of 3, at least 6" >&2
  exit 2
fi
if [[ $IMAGES == 10000 ]]; then DATA=${DATA:-runs/jpeg10k}; else DATA=${DATA:-runs/jpeg$IMAGES}; fi
VAL=${VAL:-runs/jpeg_val}
PY=${PY:-.venv-fixtures/bin/python}
SELFSUP=${SELFSUP:-target/release/selfsup}
OUT=${OUT:-runs/simclr-epoch-bench}
export LD_LIBRARY_PATH="$PWD/.libtorch/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" RUST_BACKTRACE=0
mkdir -p "$OUT"
"$PY" scripts/bench/make_jpeg_folder.py --out "$DATA" --n "$IMAGES"
"$PY" scripts/bench/make_jpeg_folder.py --out "$VAL" --n 500 --seed 1
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
load() { cut -d' ' -f1-3 /proc/loadavg; }
peak_kib() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
cpu_s() { awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { s += $2 } END { printf "%.2f", s }' "$1"; }

for r in $(seq 1 "$ROUNDS"); do
  d="$OUT/r$r-selfsup"; rm -rf "$d"
  before=$(load)
  /usr/bin/time -v -o "$d.time" "$SELFSUP" pretrain --config scripts/bench/simclr_epoch.toml \
    --dataset image-folder --data "$DATA" --val-data "$VAL" --epochs 2 --stop-at-step "$STEPS" --out "$d" \
    > "$d.log" 2>&1
  after=$(load)
  "$PY" - "$d/metrics.jsonl" "$r" "$before" "$after" "$(peak_kib "$d.time")" "$(cpu_s "$d.time")" "$STEPS" \
    >> "$RESULTS" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows = [x for x in rows if x["kind"] == "train" and 3 < x["step"] <= int(sys.argv[7])]
secs = sum(3 * 256 / x["samples_per_sec"] for x in rows)
images = 256 * 3 * len(rows)
print(json.dumps({"side": "selfsup", "round": int(sys.argv[2]), "timed_images": images, "seconds": round(secs, 3),
                  "views_per_s": round(2 * images / secs, 1), "load_before": sys.argv[3], "load_after": sys.argv[4],
                  "peak_rss_mib": round(int(sys.argv[5]) / 1024, 1), "cpu_s": float(sys.argv[6])}))
PYEOF
  tail -1 "$RESULTS"
  for w in $WORKERS; do
    f="$OUT/r$r-lightly-w$w"
    before=$(load)
    /usr/bin/time -v -o "$f.time" "$PY" scripts/bench/simclr_epoch.py --data "$DATA" --workers "$w" > "$f.log" 2>&1
    after=$(load)
    "$PY" - "$f.log" "$r" "$w" "$before" "$after" "$(peak_kib "$f.time")" "$(cpu_s "$f.time")" >> "$RESULTS" <<'PYEOF'
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
e = [x for x in s if x["kind"] == "epoch" and x["timed"]][0]
m = [x for x in s if x["kind"] == "summary"][0]
print(json.dumps({"side": f"lightly_w{sys.argv[3]}", "round": int(sys.argv[2]), "timed_images": e["timed_images"],
                  "seconds": e["seconds"], "views_per_s": e["views_per_s"], "load_before": sys.argv[4],
                  "load_after": sys.argv[5], "peak_rss_mib": round(int(sys.argv[6]) / 1024, 1), "cpu_s": float(sys.argv[7]),
                  "peak_rss_tree_mib": m["peak_rss_tree_mib"], "peak_pss_tree_mib": m["peak_pss_tree_mib"],
                  "versions": m["versions"]}))
PYEOF
    tail -1 "$RESULTS"
  done
done

"$PY" - "$RESULTS" <<'PYEOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sides = list(dict.fromkeys(r["side"] for r in rows))
def stat(xs):
    return f"{statistics.median(xs):.0f} [{min(xs):.0f}–{max(xs):.0f}]"
ours = statistics.median(r["views_per_s"] for r in rows if r["side"] == "selfsup")
print("| side | views/s median [min–max] | runs | selfsup / side | CPU s (whole run) | peak RSS MiB (largest process) | tree RSS / PSS MiB | load before → after |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for s in sides:
    rs = [r for r in rows if r["side"] == s]
    v = [r["views_per_s"] for r in rs]
    tree = "—" if s == "selfsup" else stat([r["peak_rss_tree_mib"] for r in rs]) + " / " + stat([r["peak_pss_tree_mib"] for r in rs])
    loads = "; ".join(f'{r["load_before"].split()[0]} → {r["load_after"].split()[0]}' for r in rs)
    print(f"| {s} | {stat(v)} | {len(rs)} | {ours / statistics.median(v):.2f}× | {stat([r['cpu_s'] for r in rs])} | "
          f"{stat([r['peak_rss_mib'] for r in rs])} | {tree} | {loads} |")
PYEOF
