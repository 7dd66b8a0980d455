//! `selfsup preview` for images and audio: one row per sample, rows taken from different classes in
//! turn (the first sample of each class, then the second, ...), columns the evaluation input
//! ("original") and the augmented views. Images are drawn in their own colours through
//! `selfsup_augment::image::save_grid`; spectrograms (audio, `N×F×T`) with the colour map of
//! `selfsup_augment::audio::render_spectrograms`, low frequencies at the bottom. Tiles under 64 pixels
//! are enlarged 3× (nearest neighbour). The column and row legend is printed.

use crate::commands::PreviewArgs;
use crate::config::DataKind;
use crate::{data, pretrain};
use anyhow::{bail, Context, Result};
use ndarray::{ArrayD, Axis};
use selfsup_augment::image::{resize, save_grid, Interpolation};
use selfsup_core::{ImageF32, Spectrogram};
use selfsup_data::{Dataset, Loader, LoaderConfig, Subset};
use std::io::Write;
use std::sync::Arc;

/// Up to `n` indices of `ds`, taking classes in turn (unlabelled: the first `n`), with each row's
/// class name. Only the first 20,000 samples are looked at.
pub fn rows_by_class(ds: &dyn Dataset, n: usize) -> Result<Vec<(usize, Option<String>)>> {
    let look = ds.len().min(20_000);
    let mut by: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for i in 0..look {
        match ds.label(i)? {
            Some(l) => by.entry(l).or_default().push(i),
            None => return Ok((0..n.min(ds.len())).map(|i| (i, None)).collect()),
        }
    }
    let name = |l: i64| {
        ds.classes()
            .and_then(|c| c.get(l as usize).cloned())
            .unwrap_or_else(|| l.to_string())
    };
    let mut out = Vec::new();
    let mut round = 0;
    while out.len() < n {
        let before = out.len();
        for (&l, idx) in &by {
            if let Some(&i) = idx.get(round) {
                if out.len() < n {
                    out.push((i, Some(name(l))));
                }
            }
        }
        if out.len() == before {
            break;
        }
        round += 1;
    }
    Ok(out)
}

/// Sample `r` of a collated view array as a displayable image: `N×C×H×W` images as they are
/// (clamped to `[0, 1]` by the grid), `N×F×T` spectrograms through the spectrogram colour map.
fn tile(a: &ArrayD<f32>, r: usize) -> Result<ImageF32> {
    let s = a.index_axis(Axis(0), r);
    let data: Vec<f32> = s.iter().copied().collect();
    let img = match *s.shape() {
        [c, h, w] => ImageF32::new(c, h, w, data)?,
        [f, t] => {
            let spec = Spectrogram::new(1, f, t, data)?;
            let (w, h, px) = selfsup_augment::audio::preview::render_spectrograms(&[spec])?;
            let mut planar = vec![0f32; 3 * h * w];
            for (i, p) in px.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    planar[c * h * w + i] = f32::from(p[c]) / 255.0;
                }
            }
            ImageF32::new(3, h, w, planar)?
        }
        ref other => bail!("cannot preview views of shape {other:?}"),
    };
    if img.height() < 64 {
        let (h, w) = (img.height() * 3, img.width() * 3);
        return Ok(resize(&img, (h, w), Interpolation::Nearest, false)?);
    }
    Ok(img)
}

/// `selfsup preview` for images and audio (text goes to `commands::preview_text`).
pub fn run(a: &PreviewArgs) -> Result<()> {
    let args = pretrain::PretrainArgs {
        dataset: Some(a.dataset.clone()),
        data: a.data.clone(),
        recipe: a.recipe,
        method: a.method.clone(),
        ..Default::default()
    };
    let cfg = pretrain::resolve(&args)?;
    if let selfsup::methods::MethodConfig::Pretext(c) = &cfg.method {
        return crate::pretext_preview::preview(&cfg, c, a.n, &a.out);
    }
    if cfg.data.kind == DataKind::Text {
        return crate::commands::preview_text(&cfg, a.n);
    }
    let splits = data::open_splits(&cfg)?;
    let rows = rows_by_class(splits.train.as_ref(), a.n.max(1))?;
    let n = rows.len();
    let subset: Arc<dyn Dataset> = Arc::new(Subset::new(
        splits.train.clone(),
        rows.iter().map(|(i, _)| *i).collect(),
    )?);
    let lc = LoaderConfig {
        batch_size: n,
        shuffle: false,
        drop_last: false,
        seed: cfg.train.seed,
        ..Default::default()
    };
    let first = |pipeline| -> Result<Vec<ArrayD<f32>>> {
        Ok(Loader::new(subset.clone(), pipeline, lc.clone())?
            .epoch(0)
            .next()
            .context("no batch")??
            .views)
    };
    let mut arrays = first(crate::views::eval_pipeline(&cfg)?)?;
    arrays.extend(first(crate::views::train_pipeline(
        &cfg,
        splits.vocab_size,
    )?)?);
    let grid: Vec<Vec<ImageF32>> = (0..n)
        .map(|r| {
            arrays
                .iter()
                .map(|x| tile(x, r))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    save_grid(&a.out, &grid, 2)?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "wrote {}: {n} samples; columns = original, then {} augmented views ({})",
        a.out.display(),
        arrays.len() - 1,
        if cfg.data.kind.is_audio() {
            "log-mel spectrograms, low frequencies at the bottom"
        } else {
            "images"
        }
    )?;
    if rows.iter().any(|(_, c)| c.is_some()) {
        writeln!(
            out,
            "rows (classes): {}",
            rows.iter()
                .map(|(i, c)| format!("{} (#{i})", c.as_deref().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
    }
    Ok(())
}
