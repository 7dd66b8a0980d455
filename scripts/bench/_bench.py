"""Shared measuring and reporting for the PyTorch side of `cargo xtask bench` (imported, never run by xtask:
files starting with `_` are skipped).

One statistic on both sides: every case is run as N timed repeats (after one warm-up call); each repeat runs
the work `iters` times (calibrated so that a repeat lasts about MIN_TIME / N seconds, at least once) and
records seconds per call. The script prints the raw per-call times (`sample_s`); xtask computes the median,
min and max with the same code it uses for criterion's `sample.json` (per-sample time / iterations), so both
sides are summarised identically.

Environment, set by xtask:
- BENCH_SAMPLES: default number of repeats N (xtask's `--samples`, also passed to criterion as
  `--sample-size`);
- BENCH_SAMPLES_JSON: `{"id": n}`, the number of samples criterion actually took for each id (groups may
  set their own sample size); a case with a criterion counterpart uses exactly that N;
- BENCH_MIN_TIME: seconds of measurement per case (default 2; `--quick`: 1);
- BENCH_FILTER: a regular expression; cases whose id it does not match (`re.search`) are skipped.

Output line: {"id", "elements", "sample_s": [...], "unit", "what", "threads", ...extra}; throughput of one
call is elements / seconds. With `cpu=True` (cases that run in this one process: 0 workers, 1 thread) the
line also holds `sample_cpu_s`, the process CPU seconds (`time.process_time`) per call of the same repeats,
which xtask turns into the per-CPU-second column. `versions(...)` gives the `versions` field (library name →
version) that xtask records with the run.
"""

import json
import math
import os
import re
import time


def _samples_map():
    try:
        return json.loads(os.environ.get("BENCH_SAMPLES_JSON", "") or "{}")
    except ValueError:
        return {}


DEFAULT_SAMPLES = max(1, int(os.environ.get("BENCH_SAMPLES", "10")))
SAMPLES = _samples_map()
MIN_TIME = float(os.environ.get("BENCH_MIN_TIME", "2.0"))
FILTER = os.environ.get("BENCH_FILTER", "")


def selected(id_):
    """Whether the case `id_` is to run (BENCH_FILTER)."""
    return not FILTER or re.search(FILTER, id_) is not None


def repeats(id_):
    """N for `id_`: criterion's sample count for the same id when known, else BENCH_SAMPLES."""
    n = SAMPLES.get(id_)
    return int(n) if isinstance(n, (int, float)) and n >= 1 else DEFAULT_SAMPLES


def measure_both(id_, fn, min_time=None):
    """Warm-up call, then `repeats(id_)` timed repeats; returns the wall-clock and the process CPU seconds
    per call of each repeat."""
    n = repeats(id_)
    budget = MIN_TIME if min_time is None else min_time
    t = time.perf_counter()
    fn()
    first = max(time.perf_counter() - t, 1e-9)
    iters = max(1, math.ceil(budget / n / first))
    wall, cpu = [], []
    for _ in range(n):
        c, t = time.process_time(), time.perf_counter()
        for _ in range(iters):
            fn()
        wall.append((time.perf_counter() - t) / iters)
        cpu.append((time.process_time() - c) / iters)
    return wall, cpu


def measure(id_, fn, min_time=None):
    """Warm-up call, then `repeats(id_)` timed repeats; returns the seconds per call of each repeat."""
    return measure_both(id_, fn, min_time)[0]


def run_by_xtask():
    """True when `cargo xtask bench` runs the calling script as a row script (no arguments,
    `BENCH_SAMPLES_JSON` set): scripts in `scripts/bench/` that are tools rather than row scripts
    (`make_jpeg_folder.py`, `simclr_epoch.py`) return at once then."""
    import sys
    return len(sys.argv) == 1 and "BENCH_SAMPLES_JSON" in os.environ


def versions(*names):
    """{name: version} of the installed distributions `names` (those that are installed)."""
    from importlib import metadata
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def emit(id_, elements, sample_s, unit, what, threads, **extra):
    """Prints one result line (see the module doc)."""
    print(json.dumps({"id": id_, "elements": elements, "sample_s": sample_s, "unit": unit, "what": what,
                      "threads": threads, **extra}), flush=True)


def run(id_, fn, elements, unit, what, threads, min_time=None, cpu=False, **extra):
    """`measure` + `emit` when `id_` is selected; with `cpu`, also the CPU seconds of the same repeats
    (`sample_cpu_s`: meaningful only when all the work runs in this process)."""
    if selected(id_):
        wall, cpu_s = measure_both(id_, fn, min_time)
        if cpu:
            extra["sample_cpu_s"] = cpu_s
        emit(id_, elements, wall, unit, what, threads, **extra)
