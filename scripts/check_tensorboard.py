"""Reads a run folder's TensorBoard event file with TensorBoard's own `EventAccumulator` and compares
every scalar with `metrics.jsonl` (the same records, tagged `<kind>/<name>`, at their step).

    .venv-fixtures/bin/python scripts/check_tensorboard.py RUN_DIR

Prints the tags found and the comparison; exits 1 when a value is missing, extra or differs by more
than float32 rounding.
"""
import json
import sys
from collections import defaultdict

import numpy as np
import tensorboard
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(run):
    acc = EventAccumulator(run, size_guidance={"scalars": 0})
    acc.Reload()
    tags = sorted(acc.Tags()["scalars"])
    got = {(t, e.step): e.value for t in tags for e in acc.Scalars(t)}
    want = {}
    for line in open(f"{run}/metrics.jsonl"):
        if not line.strip():
            continue
        row = json.loads(line)
        for k, v in row.items():
            if k in ("kind", "step", "epoch"):
                continue
            # The last record wins, as in TensorBoard for a (tag, step) written twice.
            want[(f"{row['kind']}/{k}", row["step"])] = v
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    bad = [(k, got[k], want[k]) for k in sorted(set(got) & set(want))
           if not (np.float32(want[k]) == np.float32(got[k])
                   or (np.isnan(want[k]) and np.isnan(got[k])))]
    per_tag = defaultdict(int)
    for t, _ in got:
        per_tag[t] += 1
    print(f"tensorboard {tensorboard.__version__}: {len(got)} scalars in {len(tags)} tags")
    for t in tags:
        print(f"  {t}: {per_tag[t]} points")
    print(f"metrics.jsonl: {len(want)} values; missing from the events {len(missing)}, "
          f"extra {len(extra)}, different {len(bad)}")
    for m in (missing[:5], extra[:5], bad[:5]):
        if m:
            print("  e.g.", m)
    sys.exit(0 if not (missing or extra or bad) else 1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
