//! `selfsup eval`, `selfsup preview` and `selfsup export`.

use crate::config::RunConfig;
use crate::{data, pretrain};
use anyhow::{bail, Context, Result};
use selfsup_train::eval::EvalProtocol;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Flags of `selfsup eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// `knn` or `linear` (runs with labels); left out with `--data` for a language-model run.
    #[arg(value_enum)]
    pub protocol: Option<selfsup_train::eval::EvalProtocol>,
    /// The run folder (holds config.toml and checkpoints/).
    #[arg(long)]
    pub run: PathBuf,
    /// `best` (checkpoints/best.safetensors: the epoch with the best kNN accuracy on the held-out
    /// split, so its accuracy there is optimistic) or a checkpoint file (default: the newest — the
    /// final weights that `pretrain` reports on).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// kNN neighbours (default from the run config, 200).
    #[arg(long)]
    pub k: Option<usize>,
    /// `knn`/`linear`: evaluate on this dataset file or folder instead of the run's `data.path`
    /// (same kind). Language-model runs (gpt, bert) with no protocol: a text file whose loss
    /// (nats/token, bits/char, perplexity) to report under the run's saved vocabulary.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A held-out folder of the same classes (`data.val_path`; image and audio folders).
    #[arg(long)]
    pub val_data: Option<PathBuf>,
    /// Language-model --data: a character outside the run's vocabulary is an `error` (default,
    /// naming it and its position) or encoded as `unk` (`<unk>`, counted and reported; the model
    /// never predicts it well, so it raises the loss).
    #[arg(long, default_value = "error")]
    pub unknown: String,
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
    #[arg(long, value_enum)]
    pub recipe: Option<selfsup_augment::RecipeName>,
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
    /// `best` or a checkpoint file (default: the newest — the final weights).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Output file (default: `encoder.safetensors`, or `encoder.pt` with `--format torchscript`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `safetensors` (the weights by name, with metadata) or `torchscript` (the encoder traced at the
    /// run's input shape, for `torch.jit.load`; `selfsup_train::export`).
    #[arg(long, default_value = "safetensors")]
    pub format: String,
}

fn pick_checkpoint(run: &Path, given: &Option<PathBuf>) -> Result<selfsup_train::Checkpoint> {
    if let Some(p) = given {
        if p.as_os_str() == "best" && !p.exists() {
            let best = run.join("checkpoints").join("best.safetensors");
            if !best.exists() {
                bail!(
                    "--checkpoint best: {} does not exist (the run keeps no best checkpoint)",
                    best.display()
                );
            }
            return Ok(selfsup_train::checkpoint::load(&best)?);
        }
        return Ok(selfsup_train::checkpoint::load(p)?);
    }
    let ck = selfsup_train::Checkpointer::new(run.join("checkpoints"), usize::MAX)?;
    ck.latest()?
        .with_context(|| format!("no checkpoint in {}", run.join("checkpoints").display()))
}

/// The run's config, its method with the chosen checkpoint's weights, and the input it was built for.
pub(crate) fn restored_method(
    run: &Path,
    ckpt: &Option<PathBuf>,
) -> Result<(
    RunConfig,
    Box<dyn selfsup_nn::Method>,
    selfsup_nn::InputSpec,
)> {
    let cfg = RunConfig::from_file(&run.join("config.toml"))?;
    let c = pick_checkpoint(run, ckpt)?;
    let input = recorded_input(&c.state.extra)?;
    let mut m = pretrain::build(&cfg, &input)?;
    c.restore(m.var_store_mut(), None)?;
    tracing::info!(checkpoint = %c.path.display(), step = c.state.step, "weights loaded");
    Ok((cfg, m, input))
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

/// `selfsup eval knn|linear`, or `selfsup eval --data FILE` for a language-model run
/// ([`crate::text_eval`]).
pub fn eval(a: &EvalArgs) -> Result<()> {
    let protocol = match (a.protocol, &a.data) {
        (None, Some(file)) => {
            let r = crate::text_eval::eval_text_file(&a.run, &a.checkpoint, file, &a.unknown)?;
            writeln!(std::io::stdout(), "{}", r.describe())?;
            return Ok(());
        }
        (None, None) => bail!(
            "missing protocol: `selfsup eval knn|linear --run DIR`, or `selfsup eval --run DIR --data FILE` for a language-model run"
        ),
        (Some(p), _) => p,
    };
    let (mut cfg, m, _) = restored_method(&a.run, &a.checkpoint)?;
    // Text has labels only on the vendored plays (play attribution, checked once the data is open).
    if !cfg.data.kind.has_labels() && cfg.data.kind != selfsup::run::config::DataKind::Text {
        bail!(
            "`selfsup eval {}` needs class labels, and this run's data (`data.kind = {}`) has none",
            protocol,
            cfg.data.kind.name()
        );
    }
    if let Some(k) = a.k {
        cfg.eval.knn.k = k;
    }
    if let Some(p) = &a.data {
        cfg.data.path = Some(p.clone());
    }
    if let Some(p) = &a.val_data {
        cfg.data.val_path = Some(p.clone());
    }
    let splits = data::open_splits(&cfg)?;
    if splits.eval.is_none() && cfg.is_language_model() {
        bail!(
            "`selfsup eval {protocol}` needs class labels, and this text has none (only the vendored Shakespeare plays are labelled, by play); `selfsup eval --run {} --data FILE` reports the language model's loss on a text file",
            a.run.display()
        );
    }
    let mut out = std::io::stdout();
    for line in &splits.layout {
        writeln!(out, "data: {line}")?;
    }
    let ev = pretrain::eval_data(&cfg, &splits)?;
    if protocol == EvalProtocol::Knn {
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
    pretrain::report_eval_skipped(&mut out, Some(&ev))?;
    Ok(())
}

/// `selfsup export`.
pub fn export(a: &ExportArgs) -> Result<()> {
    let torchscript = match a.format.as_str() {
        "safetensors" => false,
        "torchscript" => true,
        other => bail!("invalid value `{other}` for `--format`: allowed safetensors, torchscript"),
    };
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(if torchscript {
            "encoder.pt"
        } else {
            "encoder.safetensors"
        })
    });
    let (cfg, m, input) = restored_method(&a.run, &a.checkpoint)?;
    if torchscript {
        selfsup_train::export::save_torchscript(m.as_ref(), &input, &out)?;
        writeln!(
            std::io::stdout(),
            "wrote {} (TorchScript: forward(x) for x of shape N×{} gives N×{} features; checked against the encoder)",
            out.display(),
            input
                .shape
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("×"),
            m.embed_dim()
        )?;
        return Ok(());
    }
    let meta = pretrain::encoder_metadata(&cfg, &input)?;
    let n = pretrain::export_encoder(m.as_ref(), &out, Some(meta))?;
    writeln!(
        std::io::stdout(),
        "wrote {} ({n} tensors, prefix `{}.` removed)",
        out.display(),
        m.encoder_prefix()
    )?;
    Ok(())
}

/// `selfsup preview` (`crate::preview`: images in colour, spectrograms for audio, rows from
/// different classes).
pub fn preview(a: &PreviewArgs) -> Result<()> {
    crate::preview::run(a)
}

/// `selfsup preview` for text: each window and its two augmented views, decoded, on stdout.
pub(crate) fn preview_text(cfg: &RunConfig, n: usize) -> Result<()> {
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
