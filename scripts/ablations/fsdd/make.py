"""Writes the issue-16 FSDD configs (docs/benchmarks.md, "Main-job ablations (2026-12-01)", FSDD part).

Each is the FSDD preset's resolved config (`selfsup pretrain --dataset fsdd --print-config`, saved as
`base_resolved.toml`), evaluated once at the end, with one change. FSDD has an official split (the
first five takes of each speaker and digit are the test split); these runs report on it.

usage: python3 scripts/ablations/fsdd/make.py; then
       BIN=target/release/selfsup scripts/ablations/main_job/tune/run.sh scripts/ablations/fsdd/<name>.toml
"""
import pathlib
import re

HERE = pathlib.Path(__file__).parent
BASE = (HERE / "base_resolved.toml").read_text()


def variant(name, subs, recipe=None):
    t = re.sub(r'^out_dir = ".*"', f'out_dir = "runs/abl16/fsdd_{name}"', BASE, flags=re.M)
    t = t.replace("before = true\nevery_epochs = 1\n", "before = false\nevery_epochs = 1000\n")
    t = t.replace('progress = "auto"', 'progress = "lines"')
    for a, b in subs:
        assert a in t, a
        t = t.replace(a, b, 1)
    if recipe is not None:
        t = t.replace('recipe = "cola"\n', "")
        t = t.replace("[augment.tokens]", f"[augment.recipe]\nkind = \"cola\"\n{recipe}\n\n[augment.tokens]")
    (HERE / f"{name}.toml").write_text(t)


variant("base", [])
variant("nonoise", [], recipe="noise_p = 0.0")
variant("t02", [("temperature = 0.5", "temperature = 0.2")])
variant("nonoise_t02", [("temperature = 0.5", "temperature = 0.2")], recipe="noise_p = 0.0")
# The main job's two winners at once (no noise in the views, a fourth 256-wide block), one run for lack of time.
variant("nonoise_w4", [("widths = [32, 64, 128]", "widths = [32, 64, 128, 256]")], recipe="noise_p = 0.0")
