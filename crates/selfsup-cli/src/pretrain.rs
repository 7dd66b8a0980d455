//! `selfsup pretrain`: resolve the run config, load the data, evaluate the randomly initialised
//! encoder, pretrain, evaluate again, and leave a run folder with checkpoints, metrics, plots, the
//! resolved config, the encoder weights and the evaluation results.

use crate::config::{DataKind, RunConfig};
use crate::data;
use anyhow::{Context, Result};
use ndarray::ArrayD;
use selfsup::methods::MethodConfig;
use selfsup_nn::{InputSpec, Method, MethodSpec};
use selfsup_train::eval::{self, ProbeResult};
use selfsup_train::{Outcome, Trainer};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tch::{Kind, Tensor};

/// Flags of `selfsup pretrain` (each overrides the config file or the preset).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PretrainArgs {
    /// A TOML run configuration (sections data, augment, method, backbone, train, eval).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Dataset preset (`mnist`, `fsdd`, `text`, `shakespeare`: a character GPT on the vendored plays)
    /// or kind (`mnist-csv`, `mnist-idx`, `cifar`,
    /// `image-folder`, `audio-folder`, `fsdd`, `text`). `text` (a UTF-8 file given with --data):
    /// SimCLR over span-cropped, BERT-masked token views with a Transformer encoder; no labels, so no
    /// kNN or linear probe, only the loss.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Dataset file or folder (default: the vendored copy under data/).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Held-out data (`data.val_path`): for image/audio folders a folder with the same class
    /// sub-folders (default: `val/` or `test/` next to `train/`, else `val_fraction` of each class);
    /// for language models a text file for the validation loss.
    #[arg(long)]
    pub val_data: Option<PathBuf>,
    /// Method: simclr, moco_v2, moco_v3, byol, simsiam, barlow_twins, vicreg, nnclr, dino, swav, dcl.
    #[arg(long)]
    pub method: Option<String>,
    /// Backbone: conv_net, resnet18, resnet34, resnet50, mlp, vit, audio_cnn, conv1d.
    #[arg(long)]
    pub backbone: Option<String>,
    /// Augmentation recipe (`mnist`, `simclr`, `moco_v2`, `byol`; audio `contrastive`; text `tokens`).
    #[arg(long)]
    pub recipe: Option<String>,
    /// Image side the training crops and the evaluation (resize + centre crop) produce
    /// (`augment.image_size`; default: from the data).
    #[arg(long)]
    pub image_size: Option<u32>,
    /// Optimizer: sgd, adam, adamw, lars.
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning-rate schedule: constant, step, warmup_cosine.
    #[arg(long)]
    pub schedule: Option<String>,
    /// Peak learning rate (a negative value reaches validation, which names the field).
    #[arg(long, allow_negative_numbers = true)]
    pub lr: Option<f64>,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Use at most this many samples.
    #[arg(long)]
    pub max_samples: Option<usize>,
    /// Run seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// cpu, cuda or cuda:N.
    #[arg(long)]
    pub device: Option<String>,
    /// Run folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in the run folder (--out) from its newest checkpoint, with the run's own
    /// config.toml; other flags must agree with it.
    #[arg(long)]
    pub resume: bool,
    /// Stop (writing a checkpoint, as Ctrl-C does) once this many steps are done in all; continue
    /// later with --resume. For time-boxed runs.
    #[arg(long)]
    pub stop_at_step: Option<u64>,
    /// Files that cannot be read or decoded: `error` (stop, naming the file; the default) or `skip`
    /// (leave them out and list them at the end) (`data.bad_files`).
    #[arg(long, value_name = "error|skip")]
    pub bad_files: Option<String>,
    /// Print the resolved config and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Data-parallel training with this many local worker processes (as torchrun's
    /// `--nproc-per-node`); `batch_size` is per worker. Needs a build with the `dist` feature. A
    /// process started by torchrun/SLURM (`RANK`, `WORLD_SIZE`, ...) joins its job without it.
    #[arg(long, value_name = "N")]
    pub nproc_per_node: Option<usize>,
}

fn set_tagged<T: serde::de::DeserializeOwned>(field: &str, kind: &str, allowed: &str) -> Result<T> {
    let v: toml::Value = toml::from_str(&format!("kind = \"{kind}\"")).context("kind")?;
    v.try_into().map_err(|e| {
        anyhow::anyhow!("invalid value for `{field}`: `{kind}` ({e}); allowed: {allowed}")
    })
}

fn parse_enum<T: serde::de::DeserializeOwned>(field: &str, v: &str, allowed: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| anyhow::anyhow!("invalid value for `{field}`: `{v}`; allowed: {allowed}"))
}

/// The config file (or preset) with the flags applied, validated.
pub fn resolve(args: &PretrainArgs) -> Result<RunConfig> {
    Ok(resolve_with_notes(args)?.0)
}

/// [`resolve`], also returning what was chosen from the data (`crate::defaults`), one line each.
pub fn resolve_with_notes(args: &PretrainArgs) -> Result<(RunConfig, Vec<String>)> {
    let mut explicit = match &args.config {
        Some(p) => {
            crate::defaults::Explicit::from_toml(&std::fs::read_to_string(p).unwrap_or_default())
        }
        None => crate::defaults::Explicit::default(),
    };
    if args.recipe.is_some() {
        explicit.set("augment.recipe");
    }
    if args.backbone.is_some() {
        explicit.set("backbone");
    }
    let mut cfg = match (&args.config, args.dataset.as_deref()) {
        (Some(p), _) => RunConfig::from_file(p)?,
        (None, Some("fsdd")) => RunConfig::fsdd(),
        // A language model on any text starts from the character GPT preset (its model sizes).
        (None, Some("text"))
            if args
                .method
                .as_deref()
                .is_some_and(|m| selfsup_pretext::language::KINDS.contains(&m)) =>
        {
            RunConfig::shakespeare()
        }
        (None, Some("text")) => RunConfig::text(),
        (None, Some("shakespeare")) => RunConfig::shakespeare(),
        (None, _) => RunConfig::default(),
    };
    apply_flags(&mut cfg, args)?;
    if args.config.is_none() && args.method.is_some() && crate::presets::sets_backbone(&cfg) {
        // The method's preset chose an MLP for this data: not a default to replace.
        explicit.set("backbone");
    }
    if let Some(v) = &args.out {
        cfg.out_dir = v.clone();
    } else if args.config.is_none() {
        cfg.out_dir = PathBuf::from(format!(
            "runs/{}-{}",
            cfg.method.name(),
            serde_json::to_value(cfg.data.kind)?
                .as_str()
                .unwrap_or("data")
        ));
    }
    let notes = crate::defaults::apply(&mut cfg, &explicit)?;
    cfg.validate()?;
    Ok((cfg, notes))
}

/// Applies the flags that set config fields (all but `--config`, `--out` and the run options) to
/// `cfg`; `--dataset fsdd|text|shakespeare` selects a preset in [`resolve`] and only the data kind here.
pub fn apply_flags(cfg: &mut RunConfig, args: &PretrainArgs) -> Result<()> {
    if let Some(d) = args.dataset.as_deref() {
        match d {
            "mnist" => cfg.data.kind = DataKind::MnistCsv,
            "fsdd" if args.config.is_some() => cfg.data.kind = DataKind::Fsdd,
            "fsdd" => {}
            "text" | "shakespeare" if args.config.is_some() => cfg.data.kind = DataKind::Text,
            "text" | "shakespeare" => {}
            other => {
                cfg.data.kind = parse_enum(
                    "data.kind",
                    other,
                    &format!("mnist, fsdd, text, {}", DataKind::NAMES),
                )?
            }
        }
    }
    if let Some(p) = &args.data {
        cfg.data.path = Some(p.clone());
    }
    if let Some(p) = &args.val_data {
        cfg.data.val_path = Some(p.clone());
    }
    if let Some(m) = &args.method {
        cfg.method = MethodConfig::from_kind(m)
            .map_err(|e| anyhow::anyhow!("invalid value for `method`: {e}"))?;
        if args.config.is_none() {
            crate::presets::apply_method_preset(cfg);
        }
    }
    if let Some(b) = &args.backbone {
        cfg.backbone = set_tagged(
            "backbone",
            b,
            "mlp, conv_net, resnet18, resnet34, resnet50, vit, audio_cnn, conv1d, transformer_encoder",
        )?;
    }
    if let Some(r) = &args.recipe {
        cfg.augment.recipe = r.clone();
    }
    if let Some(v) = args.image_size {
        cfg.augment.image_size = Some(v);
    }
    if let Some(o) = &args.optimizer {
        cfg.train.optimizer.kind =
            parse_enum("optimizer.kind", o, selfsup_train::OptimizerKind::NAMES)?;
    }
    if let Some(s) = &args.schedule {
        cfg.train.schedule.kind =
            parse_enum("schedule.kind", s, selfsup_train::ScheduleKind::NAMES)?;
    }
    if let Some(v) = args.lr {
        cfg.train.optimizer.lr = v;
    }
    if let Some(v) = args.epochs {
        cfg.train.epochs = v;
    }
    if let Some(v) = args.batch_size {
        cfg.data.batch_size = v;
    }
    if let Some(v) = args.max_samples {
        cfg.data.max_samples = v;
    }
    if let Some(v) = &args.bad_files {
        cfg.data.bad_files = parse_enum("data.bad_files", v, "error (or fail), skip")?;
    }
    if let Some(v) = args.seed {
        cfg.train.seed = v;
    }
    if let Some(v) = &args.device {
        cfg.train.device = v.clone();
    }
    Ok(())
}

/// Labelled arrays of both splits, for kNN and the probe.
pub struct EvalData {
    /// Training split inputs (the kNN bank, the probe's training set).
    pub train_x: ArrayD<f32>,
    /// Training split labels.
    pub train_y: Tensor,
    /// Held-out inputs.
    pub val_x: ArrayD<f32>,
    /// Held-out labels.
    pub val_y: Tensor,
    /// Number of classes.
    pub num_classes: i64,
    /// Distinct labels present in the training split (1 means every evaluation would be a
    /// meaningless perfect score).
    pub classes_present: usize,
}

/// Embeds both splits and runs kNN.
pub fn knn(method: &dyn Method, d: &EvalData, cfg: &RunConfig) -> Result<f64> {
    let bank = eval::embed_array(method, d.train_x.view(), 512)?;
    let q = eval::embed_array(method, d.val_x.view(), 512)?;
    Ok(eval::knn_accuracy(
        &bank,
        &d.train_y,
        &q,
        &d.val_y,
        d.num_classes,
        &cfg.eval.knn,
    )?)
}

/// Embeds both splits and runs kNN and the linear probe.
pub fn evaluate(method: &dyn Method, d: &EvalData, cfg: &RunConfig) -> Result<(f64, ProbeResult)> {
    let bank = eval::embed_array(method, d.train_x.view(), 512)?;
    let q = eval::embed_array(method, d.val_x.view(), 512)?;
    let k = eval::knn_accuracy(
        &bank,
        &d.train_y,
        &q,
        &d.val_y,
        d.num_classes,
        &cfg.eval.knn,
    )?;
    let p = eval::linear_probe(
        &bank,
        &d.train_y,
        &q,
        &d.val_y,
        d.num_classes,
        &cfg.eval.probe,
    )?;
    Ok((k, p))
}

/// Loads the evaluation arrays of a run config.
pub fn eval_data(cfg: &RunConfig, splits: &data::Splits) -> Result<EvalData> {
    let e = splits.eval.as_ref().with_context(|| {
        format!(
            "kNN and the linear probe need class labels, and this data (`data.kind = {}`) has none{}",
            cfg.data.kind.name(),
            if matches!(cfg.data.kind, DataKind::ImageFolder | DataKind::AudioFolder) {
                ": give a folder with class sub-folders, or a labelled held-out folder with --val-data"
            } else {
                ""
            }
        )
    })?;
    let (train_x, ty) = data::eval_arrays(cfg, e.bank.clone())?;
    let (val_x, vy) = data::eval_arrays(cfg, e.query.clone())?;
    let classes = e.bank.classes().map_or(0, |c| c.len() as i64);
    let num_classes = (ty.iter().chain(&vy).copied().max().unwrap_or(0) + 1).max(classes);
    Ok(EvalData {
        train_x,
        train_y: Tensor::from_slice(&ty).to_kind(Kind::Int64),
        val_x,
        val_y: Tensor::from_slice(&vy).to_kind(Kind::Int64),
        num_classes,
        classes_present: ty.iter().collect::<std::collections::BTreeSet<_>>().len(),
    })
}

/// What the method is built for: one sample's shape (axis 1 on of the evaluation inputs: `C×H×W`
/// images, `F×T` spectrograms, whose one channel the audio CNN adds itself), or for unlabelled text
/// `[seq_len]` with the tokenizer's vocabulary.
pub fn input_spec(
    cfg: &RunConfig,
    ev: Option<&EvalData>,
    splits: &data::Splits,
) -> Result<InputSpec> {
    Ok(match ev {
        Some(ev) => InputSpec {
            shape: ev.train_x.shape()[1..].iter().map(|&d| d as i64).collect(),
            vocab_size: None,
        },
        None if cfg.data.kind != DataKind::Text => {
            // Unlabelled images or audio: the shape of the first training sample as evaluated.
            let first: Arc<dyn selfsup_data::Dataset> =
                Arc::new(selfsup_data::Subset::new(splits.train.clone(), vec![0])?);
            let x = data::eval_inputs(cfg, first)?;
            InputSpec {
                shape: x.shape()[1..].iter().map(|&d| d as i64).collect(),
                vocab_size: None,
            }
        }
        None => {
            // A next-token sample is its context plus the token after it.
            let next = matches!(
                cfg.method,
                MethodConfig::Language(selfsup_pretext::language::LanguageModelConfig::Gpt(_))
            );
            InputSpec {
                shape: vec![cfg.data.text.seq_len as i64 + i64::from(next)],
                vocab_size: splits.vocab_size.map(|v| v as i64),
            }
        }
    })
}

/// Builds the configured method for `input`.
pub fn build(cfg: &RunConfig, input: &InputSpec) -> Result<Box<dyn Method>> {
    let device = selfsup_nn::parse_device(&cfg.train.device)?;
    Ok(cfg
        .method
        .instantiate(&cfg.backbone, input, device, cfg.train.seed)?)
}

/// What an exported encoder needs to be used elsewhere, as safetensors metadata (strings): the
/// backbone config as JSON (`backbone`: kind, widths, ...), the method, the input shape and channels
/// the weights were built for, and the expected input (`input`: range and normalisation).
pub fn encoder_metadata(
    cfg: &RunConfig,
    input: &InputSpec,
) -> Result<std::collections::HashMap<String, String>> {
    let expected = match cfg.data.kind {
        DataKind::Text => "token ids (int64) of the run's tokenizer (vocab.json for language models)".to_string(),
        k if k.is_audio() => format!(
            "log-mel spectrogram N×{}×frames ({} mel bands at {} Hz, in dB, standardised per clip to zero mean and unit variance)",
            cfg.augment.n_mels, cfg.augment.n_mels, cfg.augment.sample_rate
        ),
        _ => format!(
            "float images N×C×H×W in [0, 1], not normalised; evaluated at {} px (resize the shorter side, centre crop)",
            cfg.augment
                .image_size
                .map_or_else(|| "their native size".to_string(), |s| s.to_string())
        ),
    };
    Ok(std::collections::HashMap::from([
        ("format".to_string(), "selfsup encoder".to_string()),
        (
            "backbone".to_string(),
            serde_json::to_string(&cfg.backbone)?,
        ),
        ("method".to_string(), cfg.method.name().to_string()),
        (
            "input_shape".to_string(),
            serde_json::to_string(&input.shape)?,
        ),
        ("in_channels".to_string(), input.channels().to_string()),
        ("input".to_string(), expected),
    ]))
}

/// Writes the encoder's variables (prefix stripped) as safetensors, with `metadata`.
pub fn export_encoder(
    method: &dyn Method,
    path: &std::path::Path,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<usize> {
    let prefix = format!("{}.", method.encoder_prefix());
    let mut t: Vec<(String, Tensor)> = method
        .var_store()
        .variables()
        .into_iter()
        .filter_map(|(n, v)| n.strip_prefix(&prefix).map(|s| (s.to_string(), v)))
        .collect();
    t.sort_by(|a, b| a.0.cmp(&b.0));
    let n = t.len();
    selfsup_train::checkpoint::save_safetensors(path, &t, metadata)?;
    Ok(n)
}

/// What a finished pretraining run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunSummary {
    /// kNN and probe accuracy of the random initialisation (absent when skipped or resumed).
    pub before: Option<(f64, f64)>,
    /// kNN and probe accuracy after pretraining (absent when interrupted).
    pub after: Option<(f64, f64)>,
    /// The online probe's mean training-batch accuracy and loss over the last epoch's steps that
    /// this process ran (absent when the probe is off or no step ran).
    pub online_probe: Option<(f64, f64)>,
    /// Mean training loss of every finished epoch of the run (from `metrics.jsonl`).
    pub epoch_losses: Vec<f64>,
    /// Seconds spent in the training loop.
    pub train_seconds: f64,
}

/// How [`run_config_with`] runs.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Continue from the newest checkpoint of the run folder.
    pub resume: bool,
    /// Stop with a checkpoint once this many steps are done in all (as Ctrl-C would).
    pub stop_at_step: Option<u64>,
    /// Data parallelism: this process is one rank of a job (see [`crate::distributed`]).
    pub collectives: Option<Arc<dyn selfsup_nn::Collectives>>,
}

/// Mean online-probe accuracy and loss over the last epoch's steps (from
/// [`Trainer::epoch_scalar_means`]).
fn online_probe_summary(means: &[(String, f64)]) -> Option<(f64, f64)> {
    let get = |k: &str| means.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    Some((get("online_probe_acc")?, get("online_probe_loss")?))
}

/// Draws `online_probe.png` (the online probe's logged training-batch accuracy per step) from the
/// run folder's `metrics.jsonl`.
fn plot_online_probe(dir: &std::path::Path) -> Result<()> {
    let rows = selfsup_train::metrics::read_jsonl(&dir.join("metrics.jsonl"))?;
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.kind == "train")
        .filter_map(|r| Some((r.step as f64, *r.values.get("online_probe_acc")?)))
        .collect();
    if !pts.is_empty() {
        selfsup_train::plot::line_chart(
            &dir.join("online_probe.png"),
            "online linear probe (training batches)",
            "step",
            "accuracy",
            &[("online_probe_acc".into(), pts)],
        )?;
    }
    Ok(())
}

/// Runs `selfsup pretrain`.
pub fn run(args: &PretrainArgs) -> Result<()> {
    let (mut cfg, mut notes) = resolve_with_notes(args)?;
    if args.resume {
        cfg = crate::resume::resume_config(&cfg.out_dir, args)?;
        notes.clear();
    }
    if args.out.is_none() && args.config.is_none() && !args.resume {
        // The default folder is taken by an earlier run: use the next free `-2`, `-3`, ... folder.
        let base = cfg.out_dir.clone();
        let mut i = 2;
        while cfg.out_dir.join("checkpoints").is_dir() {
            cfg.out_dir = PathBuf::from(format!("{}-{i}", base.display()));
            i += 1;
        }
    }
    if let Some(n) = args
        .nproc_per_node
        .filter(|&n| n != 1 && !args.print_config)
    {
        // The launcher: the workers get this run folder explicitly, so they agree on it.
        let mut worker_args: Vec<String> = std::env::args().skip(1).collect();
        if args.out.is_none() && args.config.is_none() {
            worker_args.extend(["--out".to_string(), cfg.out_dir.display().to_string()]);
        }
        return crate::distributed::launch_local(n, &worker_args);
    }
    if args.print_config {
        for n in &notes {
            writeln!(std::io::stderr(), "chosen from the data: {n}")?;
        }
        write!(std::io::stdout(), "{}", cfg.to_toml()?)?;
        return Ok(());
    }
    // Data-parallel workers other than rank 0 stay quiet.
    if std::env::var("RANK").ok().is_none_or(|r| r == "0") {
        for n in &notes {
            writeln!(std::io::stdout(), "chosen from the data: {n}")?;
        }
    }
    run_config_with(
        &cfg,
        &RunOptions {
            resume: args.resume,
            stop_at_step: args.stop_at_step,
            collectives: crate::distributed::join_from_env()?,
        },
    )
    .map(|_| ())
}

/// Pretrains with a resolved config (evaluating before and after), printing progress to stdout.
pub fn run_config(cfg: &RunConfig, resume: bool) -> Result<RunSummary> {
    run_config_with(
        cfg,
        &RunOptions {
            resume,
            stop_at_step: None,
            collectives: None,
        },
    )
}

/// [`run_config`] with every option.
pub fn run_config_with(cfg: &RunConfig, opts: &RunOptions) -> Result<RunSummary> {
    cfg.validate()?;
    let mut cfg = cfg.clone();
    // Portable run folders: `eval`, `export` and `embed` read the data paths from config.toml, from
    // whatever folder they are started in.
    crate::data::absolute_paths(&mut cfg.data)?;
    cfg.out_dir = std::path::absolute(&cfg.out_dir)?;
    let text = cfg.to_toml()?;
    let dp = opts.collectives.clone();
    let rank = dp.as_ref().map_or(0, |c| c.rank());
    // Rank 0 alone reports (and writes the run folder); the other ranks train silently.
    let mut out: Box<dyn Write> = if rank == 0 {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::sink())
    };
    let args = opts;
    let t0 = Instant::now();
    let dir = cfg.out_dir.clone();
    crate::run_dir::refuse_out_inside_data(&dir, &data::resolve_path(&cfg.data)?)?;
    // One process per run folder; temporary files of a killed run are removed (and ours on error).
    let _lock = if rank == 0 {
        Some(selfsup_train::run_dir::RunLock::acquire(&dir)?)
    } else {
        None
    };
    if !args.resume && selfsup_train::Checkpointer::any_in(&dir) {
        anyhow::bail!(
            "the run folder {} already has checkpoints: pass --resume to continue it, or --out <new folder>",
            dir.display()
        );
    }
    let splits = data::open_splits(&cfg)?;
    tracing::info!(
        train = splits.train.len(),
        val = splits.val.len(),
        "dataset split"
    );
    for line in &splits.layout {
        writeln!(out, "data: {line}")?;
    }
    let ev = if splits.eval.is_some() {
        Some(eval_data(&cfg, &splits)?)
    } else {
        None
    };
    if cfg.eval.online_probe == Some(true) && !splits.train_labelled {
        anyhow::bail!(
            "invalid value for `eval.online_probe`: `true` needs labelled training data, and the training files have no class labels; set it to false or leave it out"
        );
    }
    let online_probe = cfg.online_probe_enabled() && splits.train_labelled;
    let input = input_spec(&cfg, ev.as_ref(), &splits)?;
    check_vocab(&cfg, &splits)?;
    crate::views::pretext_preflight(&cfg, splits.train.as_ref())?;
    let loader = match &dp {
        Some(c) => data::train_loader(&cfg, &splits)?.with_shard(c.world_size(), c.rank())?,
        None => data::train_loader(&cfg, &splits)?,
    };
    let method = build(&cfg, &input)?;
    writeln!(
        out,
        "selfsup pretrain: {} + {:?} on {} ({} train / {} val samples, {}), {} epochs of {} steps, device {}",
        cfg.method.name(),
        serde_json::to_value(&cfg.backbone)?.get("kind").and_then(|k| k.as_str()).unwrap_or("?").to_string(),
        cfg.data.kind.name(),
        splits.train.len(),
        splits.val.len(),
        match (&ev, splits.vocab_size) {
            (Some(ev), _) => format!("{} classes", ev.num_classes),
            (None, Some(v)) => format!("vocabulary of {v} tokens, no labels"),
            (None, None) => "no labels".to_string(),
        },
        cfg.train.epochs,
        loader.batches_per_epoch() as u64 / cfg.train.grad_accum,
        cfg.train.device,
    )?;
    if ev.is_none() {
        writeln!(
            out,
            "{} data {}: kNN and linear-probe evaluations are skipped; reporting the training loss only",
            cfg.data.kind.name(),
            if cfg.data.kind == DataKind::Text { "has no labels" } else { "has no labelled files to evaluate with" }
        )?;
    }
    let ev = match ev {
        Some(e) if e.classes_present < 2 => {
            writeln!(
                out,
                "warning: the training split has a single class: kNN and linear-probe accuracy would be a meaningless 1.0, so the evaluations are skipped; check the labels (a label-first CSV read as pixels-first gives one class)"
            )?;
            tracing::warn!("a single class in the training split: evaluations skipped");
            None
        }
        other => other,
    };
    let before = match &ev {
        Some(ev) if cfg.eval.before && !args.resume && rank == 0 => {
            let t = Instant::now();
            let (k, p) = evaluate(method.as_ref(), ev, &cfg)?;
            writeln!(
                out,
                "before pretraining (random init): kNN acc {:.4}, linear probe acc {:.4}  [{:.1}s]",
                k,
                p.test_acc,
                t.elapsed().as_secs_f64()
            )?;
            Some((k, p))
        }
        _ => None,
    };
    let mut json = serde_json::to_value(&cfg)?;
    if let serde_json::Value::Object(m) = &mut json {
        m.insert("in_channels".into(), input.channels().into());
        m.insert("input_shape".into(), input.shape.clone().into());
        if let Some(v) = input.vocab_size {
            m.insert("vocab_size".into(), v.into());
        }
    }
    let every = cfg.eval.every_epochs;
    let pictures = crate::pictures::PictureBatch::new(&cfg, &splits)?;
    let pictures_ref = pictures.as_ref();
    let cfg_ref = &cfg;
    let lm_loader = if cfg.is_language_model() {
        write_lm_files(&cfg, &splits, &input, &dir)?;
        lm_eval_loader(&cfg, &splits)?
    } else {
        None
    };
    let mut trainer = Trainer::new(method, cfg.train.clone(), Some(&dir))?
        .with_run_config(text, json)
        .with_stop_flag(selfsup_train::install_ctrlc_handler()?);
    if let (Some(ev_ref), true) = (&ev, every > 0) {
        trainer = trainer.with_epoch_eval(
            every,
            Box::new(move |m: &mut dyn Method, epoch| {
                let k = knn(m, ev_ref, cfg_ref)
                    .map_err(|e| selfsup_core::Error::Other(format!("kNN evaluation: {e:#}")))?;
                if let Some(p) = pictures_ref {
                    p.write_or_warn(m, &format!("epoch_{epoch:03}"));
                }
                Ok(vec![("knn_acc".to_string(), k)])
            }),
        );
    }
    if let (Some(loader), true) = (&lm_loader, every > 0) {
        // Validation loss (nats/token), bits/char, perplexity (and MLM accuracy) at each evaluation,
        // into metrics.jsonl/csv and eval.png; the best checkpoint is the lowest val_loss.
        trainer = trainer
            .with_epoch_eval(
                every,
                Box::new(move |m: &mut dyn Method, _epoch| {
                    let v = selfsup_pretext::language::evaluate_held_out(m, loader)?;
                    Ok(v.metrics("val_"))
                }),
            )
            .monitor_lower();
    }
    if let (Some(ev), true) = (&ev, online_probe) {
        // Its own seed, so that its initial weights do not depend on what ran before.
        tch::manual_seed(selfsup_train::trainer::step_seed(cfg.train.seed, u64::MAX) ^ 0x0b5e);
        trainer = trainer.with_online_probe(ev.num_classes, cfg.eval.online_probe_lr)?;
    }
    if let Some(s) = args.stop_at_step {
        trainer = trainer.stop_at_step(s);
    }
    if let Some(c) = &dp {
        trainer = trainer.with_collectives(c.clone());
        writeln!(
            out,
            "data-parallel: {} ranks × batch {} (global batch {})",
            c.world_size(),
            loader.config().batch_size,
            c.world_size() * loader.config().batch_size
        )?;
    }
    if args.resume {
        let resumed = trainer.resume().with_context(|| {
            if online_probe {
                "cannot resume (the online probe is on: a run started without it resumes with `eval.online_probe = false`)"
            } else {
                "cannot resume"
            }
        })?;
        if !resumed {
            anyhow::bail!(
                "--resume: no checkpoint in {}",
                dir.join("checkpoints").display()
            );
        }
        writeln!(out, "resumed at step {}", trainer.step())?;
    }
    let tt = Instant::now();
    let outcome = trainer.run(&loader)?;
    let train_secs = tt.elapsed().as_secs_f64();
    if let Some(c) = &dp {
        // Every rank finished; rank 0 alone evaluates, exports and reports from here.
        c.barrier()?;
        if rank != 0 {
            return Ok(RunSummary {
                before: None,
                after: None,
                online_probe: None,
                epoch_losses: Vec::new(),
                train_seconds: train_secs,
            });
        }
    }
    let online = online_probe_summary(&trainer.epoch_scalar_means());
    if online.is_some() {
        if let Err(e) = plot_online_probe(&dir) {
            tracing::warn!(error = %e, "could not draw online_probe.png");
        }
    }
    if let Some((a, l)) = online {
        writeln!(
            out,
            "online linear probe (training batches of the last epoch): acc {a:.4}, loss {l:.4}"
        )?;
    }
    report_skipped(&mut out, &loader.stats())?;
    let epoch_losses = epoch_losses(&dir);
    if let Outcome::Interrupted { checkpoint, step } = &outcome {
        writeln!(
            out,
            "interrupted at step {step}; checkpoint {}; continue with --resume",
            checkpoint
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )?;
        return Ok(RunSummary {
            before: before.map(|(k, p)| (k, p.test_acc)),
            after: None,
            online_probe: online,
            epoch_losses,
            train_seconds: train_secs,
        });
    }
    let final_step = trainer.step();
    let mut method = trainer.into_method();
    if let Some(p) = &pictures {
        p.write_or_warn(method.as_ref(), "final");
    }
    let mut lm_eval: Option<Vec<(String, f64)>> = None;
    let after = match &ev {
        Some(ev) => {
            let (k, p) = evaluate(method.as_ref(), ev, &cfg).with_context(|| {
                format!(
                    "the training is finished and checkpointed in {}; `selfsup eval knn --run {0}` evaluates it",
                    dir.display()
                )
            })?;
            writeln!(
                out,
                "after pretraining:               kNN acc {:.4}, linear probe acc {:.4}  [training {:.1}s]",
                k, p.test_acc, train_secs
            )?;
            Some((k, p))
        }
        None if cfg.is_language_model() => {
            let v = match &lm_loader {
                Some(l) => selfsup_pretext::language::evaluate_held_out(method.as_mut(), l)?
                    .metrics("val_"),
                None => Vec::new(),
            };
            writeln!(
                out,
                "after pretraining: validation {}  [training {train_secs:.1}s]",
                v.iter()
                    .map(|(k, x)| format!("{k} {x:.4}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
            lm_eval = Some(v);
            None
        }
        None => {
            if let (Some(first), Some(last)) = (epoch_losses.first(), epoch_losses.last()) {
                writeln!(
                    out,
                    "after pretraining: mean training loss {first:.4} (epoch 1) -> {last:.4} (epoch {})  [training {train_secs:.1}s]",
                    epoch_losses.len()
                )?;
            }
            None
        }
    };
    if let Err(e) = log_before_after(&dir, &before, &after, final_step, cfg.train.epochs) {
        tracing::warn!(error = %e, "could not add the before/after evaluations to the metrics");
    }
    let n = export_encoder(
        method.as_ref(),
        &dir.join("encoder.safetensors"),
        Some(encoder_metadata(&cfg, &input)?),
    )?;
    let result = serde_json::json!({
        "before": before.as_ref().map(|(k, p)| serde_json::json!({"knn_acc": k, "linear_probe_acc": p.test_acc, "linear_probe_train_acc": p.train_acc})),
        "after": after.as_ref().map(|(k, p)| serde_json::json!({"knn_acc": k, "linear_probe_acc": p.test_acc, "linear_probe_train_acc": p.train_acc})),
        "skipped": ev.is_none().then_some("kNN and linear probe: the dataset has no labels"),
        "validation": lm_eval.map(|v| v.into_iter().map(|(k, x)| (k, serde_json::json!(x))).collect::<serde_json::Map<String, serde_json::Value>>()),
        "epoch_losses": epoch_losses,
        "online_probe_last_epoch": online.map(|(a, l)| serde_json::json!({"train_batch_acc": a, "loss": l})),
        "train_seconds": train_secs,
        "total_seconds": t0.elapsed().as_secs_f64(),
    });
    selfsup_train::checkpoint::write_atomic(
        &dir.join("eval.json"),
        serde_json::to_string_pretty(&result)?.as_bytes(),
    )?;
    if let (Some((kb, pb)), Some((k, p))) = (&before, &after) {
        writeln!(
            out,
            "change: kNN {:+.4}, linear probe {:+.4}",
            k - *kb,
            p.test_acc - pb.test_acc
        )?;
    }
    writeln!(
        out,
        "run folder {}: config.toml, metrics.jsonl/csv, loss.png, {}{}checkpoints/, encoder.safetensors ({n} tensors), eval.json  [total {:.1}s]",
        dir.display(),
        if dir.join("eval.png").exists() { "eval.png, " } else { "" },
        if online.is_some() { "online_probe.png, " } else { "" },
        t0.elapsed().as_secs_f64()
    )?;
    Ok(RunSummary {
        before: before.map(|(k, p)| (k, p.test_acc)),
        after: after.map(|(k, p)| (k, p.test_acc)),
        online_probe: online,
        epoch_losses,
        train_seconds: train_secs,
    })
}

/// Adds the kNN and linear-probe accuracies before training (epoch 0, step 0) and after it (the last
/// epoch) to the run's metrics as `eval` rows, and redraws the plots, so that `eval.png` shows the
/// random-initialisation point and the linear probe too.
fn log_before_after(
    dir: &std::path::Path,
    before: &Option<(f64, ProbeResult)>,
    after: &Option<(f64, ProbeResult)>,
    step: u64,
    epochs: u64,
) -> Result<()> {
    if before.is_none() && after.is_none() {
        return Ok(());
    }
    // A resumed run that had already logged them (killed after the final evaluation) does not
    // log them twice: the metrics read as one clean run.
    let logged: Vec<(u64, u64)> = selfsup_train::metrics::read_jsonl(&dir.join("metrics.jsonl"))
        .map(|rows| {
            rows.iter()
                .filter(|r| r.kind == "eval")
                .map(|r| (r.step, r.epoch))
                .collect()
        })
        .unwrap_or_default();
    let mut m = selfsup_train::metrics::MetricsWriter::open(dir, Some(u64::MAX))?;
    let vals = |(k, p): &(f64, ProbeResult)| {
        vec![
            ("knn_acc".to_string(), *k),
            ("linear_probe_acc".to_string(), p.test_acc),
        ]
    };
    if let (Some(b), false) = (before, logged.contains(&(0, 0))) {
        m.log("eval", 0, 0, &vals(b))?;
    }
    if let (Some(a), false) = (after, logged.contains(&(step, epochs))) {
        m.log("eval", step, epochs, &vals(a))?;
    }
    selfsup_train::metrics::plot_run(dir)?;
    Ok(())
}

/// Language models: writes `vocab.json` (the tokenizer's vocabulary) and `model.json` (the model's
/// sizes) to the run folder, for `selfsup generate` and `selfsup eval --data`.
fn write_lm_files(
    cfg: &RunConfig,
    splits: &data::Splits,
    input: &InputSpec,
    dir: &std::path::Path,
) -> Result<()> {
    let (MethodConfig::Language(c), Some(lm)) = (&cfg.method, &splits.lm) else {
        anyhow::bail!("not a language-model run");
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    lm.vocab.save(dir.join("vocab.json"))?;
    let model = selfsup_pretext::language::model_config(c, &cfg.backbone, input)?;
    selfsup_train::checkpoint::write_atomic(
        &dir.join("model.json"),
        serde_json::to_string_pretty(&model)?.as_bytes(),
    )?;
    Ok(())
}

/// Language models: the loader over the validation windows (`None` without a validation file).
fn lm_eval_loader(cfg: &RunConfig, splits: &data::Splits) -> Result<Option<selfsup_data::Loader>> {
    let (MethodConfig::Language(c), Some(lm)) = (&cfg.method, &splits.lm) else {
        anyhow::bail!("not a language-model run");
    };
    if splits.val.is_empty() {
        return Ok(None);
    }
    Ok(Some(selfsup_pretext::language::eval_loader(
        c,
        splits.val.clone(),
        lm.vocab.len() as i64,
        cfg.data.batch_size,
        cfg.train.seed,
        cfg.data.num_threads,
    )?))
}

/// The mean training loss of every finished epoch, from the run folder's `metrics.jsonl` (empty when
/// it cannot be read).
fn epoch_losses(dir: &std::path::Path) -> Vec<f64> {
    selfsup_train::metrics::read_jsonl(&dir.join("metrics.jsonl"))
        .map(|rows| {
            rows.iter()
                .filter(|r| r.kind == "epoch")
                .filter_map(|r| r.values.get("epoch_loss").copied())
                .collect()
        })
        .unwrap_or_default()
}

/// Lists the bad files the training loader skipped (policy `skip`), if any.
fn report_skipped(out: &mut impl Write, st: &selfsup_data::LoaderStats) -> Result<()> {
    if st.skipped == 0 {
        return Ok(());
    }
    let mut files = st.skipped_files.clone();
    files.sort();
    files.dedup();
    writeln!(
        out,
        "skipped {} reads of bad files (data.bad_files = skip), {} distinct file(s):",
        st.skipped,
        files.len()
    )?;
    for f in files {
        writeln!(out, "  {f}")?;
    }
    Ok(())
}

/// Text runs: the Transformer's embedding table must cover the tokenizer's vocabulary.
fn check_vocab(cfg: &RunConfig, splits: &data::Splits) -> Result<()> {
    if cfg.is_language_model() {
        return Ok(()); // the model's vocabulary is the tokenizer's (InputSpec::vocab_size)
    }
    if let (Some(v), selfsup_nn::backbones::BackboneConfig::TransformerEncoder(t)) =
        (splits.vocab_size, &cfg.backbone)
    {
        if (t.vocab_size as usize) < v {
            anyhow::bail!(
                "invalid value for `backbone.vocab_size`: the tokenizer gave {v} ids (specials included), got {}; raise it to {v} (or cap the whitespace vocabulary with `data.text.max_vocab`)",
                t.vocab_size
            );
        }
        if v > 1 << 24 {
            anyhow::bail!(
                "invalid value for `data.text.max_vocab`: token ids travel as f32 and must stay below 2^24, the vocabulary has {v}"
            );
        }
    }
    Ok(())
}
