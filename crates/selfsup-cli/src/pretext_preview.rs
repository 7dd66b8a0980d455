//! `selfsup preview --method <pretext task>`: what the model is asked to solve, as a PNG grid drawn by
//! `selfsup_pretext::preview` (one row per sample: the input, the views — rotated image, shuffled
//! tiles and the assembled puzzle, centre and neighbour patch, masked image or spectrogram, shuffled
//! segments — and for dense tasks the answer), with one caption per row on stdout naming the target.
//! Audio goes through the same preparation as pretraining (a `clip_seconds` crop, standardised
//! log-mel), keyed by `(seed, epoch 0, index)`.

use crate::config::RunConfig;
use crate::data;
use anyhow::{Context, Result};
use selfsup_core::SampleKey;
use selfsup_pretext::pipeline::PREPARE_VIEW;
use selfsup_pretext::PretextConfig;
use std::io::Write;
use std::path::Path;

/// Writes the preview of task `c` on the first `n` training samples of `cfg`'s data to `out`.
pub fn preview(cfg: &RunConfig, c: &PretextConfig, n: usize, out: &Path) -> Result<()> {
    // The same checks as pretraining (task vs data kind), before any data is read.
    crate::views::train_pipeline(cfg, None)?;
    let splits = data::open_splits(cfg)?;
    let prepare = crate::views::pretext_prepare(cfg)?;
    let seed = cfg.train.seed;
    let n = n.clamp(1, splits.train.len().max(1));
    let samples = (0..n)
        .map(|i| -> Result<selfsup_core::Sample> {
            let s = splits.train.get(i)?.sample;
            Ok(match &prepare {
                Some(p) => p(s, SampleKey::new(seed, 0, i as u64).with_view(PREPARE_VIEW))?,
                None => s,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let captions = selfsup_pretext::preview::save_preview(out, c, &samples, seed)
        .with_context(|| format!("cannot write the preview {}", out.display()))?;
    let mut o = std::io::stdout();
    writeln!(
        o,
        "wrote {}: {n} samples of the `{}` task; each row: the input, then what the model sees",
        out.display(),
        c.kind()
    )?;
    for (i, cap) in captions.iter().enumerate() {
        writeln!(o, "  row {i}: {cap}")?;
    }
    Ok(())
}
