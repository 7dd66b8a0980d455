//! `selfsup eval`, `selfsup preview` and `selfsup export`.

use crate::config::{DataKind, RunConfig};
use crate::{data, pretrain};
use anyhow::{bail, Context, Result};
use image::{GrayImage, Luma};
use selfsup_data::{Loader, LoaderConfig};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Flags of `selfsup eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// `knn` or `linear`.
    pub protocol: String,
    /// The run folder (holds config.toml and checkpoints/).
    #[arg(long)]
    pub run: PathBuf,
    /// A checkpoint file (default: checkpoints/best.safetensors, else the newest).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// kNN neighbours (default from the run config, 200).
    #[arg(long)]
    pub k: Option<usize>,
}

/// Flags of `selfsup preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// Dataset preset or kind, as for `pretrain` (`mnist`, `fsdd`, ...).
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Dataset file or folder (default: the vendored copy).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Augmentation recipe.
    #[arg(long)]
    pub recipe: Option<String>,
    /// A pretext task (`rotation`, `jigsaw`, `masked_spectrogram`, ...): show what the model is asked
    /// to solve instead of the augmented views.
    #[arg(long)]
    pub method: Option<String>,
    /// Samples (rows).
    #[arg(long, default_value_t = 8)]
    pub n: usize,
    /// Output PNG path (text: the views are printed instead).
    #[arg(long, default_value = "preview.png")]
    pub out: PathBuf,
}

/// Flags of `selfsup export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The run folder.
    #[arg(long)]
    pub run: PathBuf,
    /// A checkpoint file (default: best, else the newest).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Output file.
    #[arg(long, default_value = "encoder.safetensors")]
    pub out: PathBuf,
}

fn pick_checkpoint(run: &Path, given: &Option<PathBuf>) -> Result<selfsup_train::Checkpoint> {
    if let Some(p) = given {
        return Ok(selfsup_train::checkpoint::load(p)?);
    }
    let best = run.join("checkpoints").join("best.safetensors");
    if best.exists() {
        return Ok(selfsup_train::checkpoint::load(&best)?);
    }
    let ck = selfsup_train::Checkpointer::new(run.join("checkpoints"), usize::MAX)?;
    ck.latest()?
        .with_context(|| format!("no checkpoint in {}", run.join("checkpoints").display()))
}

fn restored_method(
    run: &Path,
    ckpt: &Option<PathBuf>,
) -> Result<(RunConfig, Box<dyn selfsup_nn::Method>)> {
    let cfg = RunConfig::from_file(&run.join("config.toml"))?;
    let c = pick_checkpoint(run, ckpt)?;
    let input = recorded_input(&c.state.extra)?;
    let mut m = pretrain::build(&cfg, &input)?;
    c.restore(m.var_store_mut(), None)?;
    tracing::info!(checkpoint = %c.path.display(), step = c.state.step, "weights loaded");
    Ok((cfg, m))
}

/// The input a run's method was built for, as `selfsup pretrain` records it in its checkpoints
/// (`input_shape` and `vocab_size`; runs from before `input_shape` recorded `in_channels` only).
fn recorded_input(extra: &serde_json::Value) -> Result<selfsup_nn::InputSpec> {
    let shape: Option<Vec<i64>> = extra
        .get("input_shape")
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let shape = match shape {
        Some(s) => s,
        None => {
            let c = extra.get("in_channels").and_then(|v| v.as_i64()).context(
                "the checkpoint does not record its input shape (not written by `selfsup pretrain`)",
            )?;
            vec![c, 1, 1]
        }
    };
    Ok(selfsup_nn::InputSpec {
        shape,
        vocab_size: extra.get("vocab_size").and_then(|v| v.as_i64()),
    })
}

/// `selfsup eval knn|linear`.
pub fn eval(a: &EvalArgs) -> Result<()> {
    if a.protocol != "knn" && a.protocol != "linear" {
        bail!("invalid protocol `{}`: allowed knn, linear", a.protocol);
    }
    let (mut cfg, m) = restored_method(&a.run, &a.checkpoint)?;
    if !cfg.data.kind.has_labels() {
        bail!(
            "`selfsup eval {}` needs class labels, and this run's data (`data.kind = {}`) has none",
            a.protocol,
            cfg.data.kind.name()
        );
    }
    if let Some(k) = a.k {
        cfg.eval.knn.k = k;
    }
    let splits = data::open_splits(&cfg)?;
    let ev = pretrain::eval_data(&cfg, &splits)?;
    let mut out = std::io::stdout();
    if a.protocol == "knn" {
        let k = pretrain::knn(m.as_ref(), &ev, &cfg)?;
        writeln!(
            out,
            "kNN (k={}, T={}) accuracy on the held-out split: {k:.4}",
            cfg.eval.knn.k, cfg.eval.knn.temperature
        )?;
    } else {
        let (_, p) = pretrain::evaluate(m.as_ref(), &ev, &cfg)?;
        writeln!(
            out,
            "linear probe accuracy: held-out {:.4}, train {:.4} (final loss {:.4})",
            p.test_acc, p.train_acc, p.final_loss
        )?;
    }
    Ok(())
}

/// `selfsup export`.
pub fn export(a: &ExportArgs) -> Result<()> {
    let (_, m) = restored_method(&a.run, &a.checkpoint)?;
    let n = pretrain::export_encoder(m.as_ref(), &a.out)?;
    writeln!(
        std::io::stdout(),
        "wrote {} ({n} tensors, prefix `{}.` removed)",
        a.out.display(),
        m.encoder_prefix()
    )?;
    Ok(())
}

/// Draws each `N×C×H×W` (or `N×1×F×T`) array as a row of grey tiles.
fn tile_rows(arrays: &[ndarray::ArrayD<f32>], n: usize, normalise: bool) -> Result<GrayImage> {
    let shape = arrays[0].shape().to_vec();
    if shape.len() != 4 {
        bail!("cannot preview arrays of shape {shape:?}");
    }
    let (h, w) = (shape[2], shape[3]);
    let scale = if h < 64 { 3 } else { 1 };
    let pad = 2;
    let cols = arrays.len();
    let rows = n.min(shape[0]);
    let mut img = GrayImage::from_pixel(
        (cols * (w * scale + pad) + pad) as u32,
        (rows * (h * scale + pad) + pad) as u32,
        Luma([128]),
    );
    for (c, a) in arrays.iter().enumerate() {
        for r in 0..rows {
            let tile = a.index_axis(ndarray::Axis(0), r);
            let plane = tile.index_axis(ndarray::Axis(0), 0);
            let (lo, hi) = if normalise {
                plane
                    .iter()
                    .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)))
            } else {
                (0.0, 1.0)
            };
            for y in 0..h {
                for x in 0..w {
                    // Spectrograms: low frequencies at the bottom.
                    let yy = if normalise { h - 1 - y } else { y };
                    let v = ((plane[[yy, x]] - lo) / (hi - lo).max(1e-6)).clamp(0.0, 1.0);
                    for dy in 0..scale {
                        for dx in 0..scale {
                            img.put_pixel(
                                (pad + c * (w * scale + pad) + x * scale + dx) as u32,
                                (pad + r * (h * scale + pad) + y * scale + dy) as u32,
                                Luma([(v * 255.0).round() as u8]),
                            );
                        }
                    }
                }
            }
        }
    }
    Ok(img)
}

/// `selfsup preview`.
pub fn preview(a: &PreviewArgs) -> Result<()> {
    let args = pretrain::PretrainArgs {
        dataset: Some(a.dataset.clone()),
        data: a.data.clone(),
        recipe: a.recipe.clone(),
        method: a.method.clone(),
        ..Default::default()
    };
    let cfg = pretrain::resolve(&args)?;
    if let selfsup::methods::MethodConfig::Pretext(c) = &cfg.method {
        return crate::pretext_preview::preview(&cfg, c, a.n, &a.out);
    }
    if cfg.data.kind == DataKind::Text {
        return preview_text(&cfg, a.n);
    }
    let splits = data::open_splits(&cfg)?;
    let n = a.n.clamp(1, splits.train.len());
    let lc = LoaderConfig {
        batch_size: n,
        shuffle: false,
        drop_last: false,
        seed: cfg.train.seed,
        ..Default::default()
    };
    let views = Loader::new(
        splits.train.clone(),
        crate::views::train_pipeline(&cfg, splits.vocab_size)?,
        lc.clone(),
    )?
    .epoch(0)
    .next()
    .context("no batch")??;
    let orig = Loader::new(splits.train.clone(), crate::views::eval_pipeline(&cfg)?, lc)?
        .epoch(0)
        .next()
        .context("no batch")??;
    let mut arrays = orig.views;
    arrays.extend(views.views);
    let img = tile_rows(&arrays, n, cfg.data.kind.is_audio())?;
    img.save(&a.out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    writeln!(
        std::io::stdout(),
        "wrote {}: {n} samples; columns = original, then {} augmented views ({})",
        a.out.display(),
        arrays.len() - 1,
        if cfg.data.kind.is_audio() {
            "log-mel spectrograms"
        } else {
            "images"
        }
    )?;
    Ok(())
}

/// `selfsup preview` for text: each window and its two augmented views, decoded, on stdout.
fn preview_text(cfg: &RunConfig, n: usize) -> Result<()> {
    let path = data::resolve_path(&cfg.data)?;
    let text = selfsup_data::text::TextTokens::from_file(&path, &cfg.data.text)?;
    let vocab = text.vocab().clone();
    let views = crate::views::train_pipeline(cfg, Some(vocab.len()))?;
    let mut out = std::io::stdout();
    let show = |ids: &[i64]| -> String {
        let end = ids
            .iter()
            .rposition(|&i| i != selfsup_data::text::PAD)
            .map_or(0, |p| p + 1);
        format!("{:?}", vocab.decode(&ids[..end]))
    };
    for i in 0..n.clamp(1, selfsup_data::Dataset::len(&text)) {
        let item = selfsup_data::Dataset::get(&text, i)?;
        let selfsup_core::Sample::Tokens(t) = &item.sample else {
            bail!("the text dataset gave a non-token sample");
        };
        writeln!(out, "sample {i}:\n  original: {}", show(&t.ids))?;
        let key = selfsup_core::SampleKey::new(cfg.train.seed, 0, i as u64);
        for (v, s) in views.views(item.sample, key)?.iter().enumerate() {
            if let selfsup_core::Sample::Tokens(t) = s {
                writeln!(out, "  view {}:   {}", v + 1, show(&t.ids))?;
            }
        }
    }
    Ok(())
}
