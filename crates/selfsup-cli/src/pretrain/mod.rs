//! `selfsup pretrain`: its flags ([`PretrainArgs`]), flags → [`RunConfig`] ([`resolve`]), and the
//! command itself ([`run`]), which hands the resolved config to the library's
//! [`selfsup::run::run_config_with`].

pub use selfsup::run::{
    build, encoder_metadata, eval_data, evaluate, export_encoder, input_spec, knn,
    report_eval_skipped, run_config, run_config_with, EvalData, RunOptions, RunSummary,
};

use crate::config::{DataKind, RunConfig};
use anyhow::Result;
use selfsup::methods::MethodConfig;
use selfsup_nn::MethodSpec;
use std::io::Write;
use std::path::PathBuf;

/// Flags of `selfsup pretrain` (each overrides the config file or the preset).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PretrainArgs {
    /// A TOML run configuration (sections data, augment, method, backbone, train, eval).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Dataset preset (`mnist`, `fsdd`, `text`, `shakespeare`: a character GPT on the vendored plays)
    /// or kind (`mnist-csv`, `mnist-idx`, `cifar`,
    /// `image-folder`, `audio-folder`, `fsdd`, `text`). `text` (a UTF-8 file given with --data):
    /// SimCLR over two neighbouring 64-byte windows of each 256-byte passage with a Transformer encoder;
    /// no labels, so no kNN or linear probe, only the loss (the vendored plays are labelled by play).
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
    /// Method, with its defaults and preset (a config file's `[method]` table sets fields); the kind
    /// already configured (the main job's `simclr`) keeps its fields. Every family's kinds
    /// (`selfsup::methods::MethodConfig::kinds`).
    #[arg(long, value_parser = method_kinds())]
    pub method: Option<String>,
    /// Backbone, with its defaults (a config file's `[backbone]` table sets fields).
    #[arg(long, value_enum)]
    pub backbone: Option<selfsup_nn::BackboneKind>,
    /// Augmentation recipe, with its defaults (a config file's `[augment.recipe]` table sets fields).
    #[arg(long, value_enum)]
    pub recipe: Option<selfsup_augment::RecipeName>,
    /// Image side the training crops and the evaluation (resize + centre crop) produce
    /// (`augment.image_size`; default: from the data).
    #[arg(long)]
    pub image_size: Option<u32>,
    /// Optimizer (`train.optimizer.kind`).
    #[arg(long, value_enum)]
    pub optimizer: Option<selfsup_train::OptimizerKind>,
    /// Learning-rate schedule (`train.schedule.kind`).
    #[arg(long, value_enum)]
    pub schedule: Option<selfsup_train::ScheduleKind>,
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

/// `--method`'s values: every kind of the method registry, so `--help` lists them and a wrong one is
/// clap's "possible values" error.
fn method_kinds() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(MethodConfig::kinds())
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
        Some(p) => selfsup::run::defaults::Explicit::from_toml(
            &std::fs::read_to_string(p).unwrap_or_default(),
        ),
        None => selfsup::run::defaults::Explicit::default(),
    };
    if args.recipe.is_some() {
        explicit.set("augment.recipe");
    }
    if args.backbone.is_some() {
        explicit.set("backbone");
    }
    if args.optimizer.is_some() {
        explicit.set("train.optimizer.kind");
    }
    if args.lr.is_some() {
        explicit.set("train.optimizer.lr");
    }
    if args.schedule.is_some() {
        explicit.set("train.schedule");
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
    if args.config.is_none() && args.method.is_some() && selfsup::run::presets::sets_backbone(&cfg)
    {
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
    let notes = selfsup::run::defaults::apply(&mut cfg, &explicit)?;
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
    // The configured kind (the main job's SimCLR, a dataset preset's) keeps its configured fields, as
    // `--recipe` does; another kind starts from its defaults and its preset.
    if let Some(m) = args
        .method
        .as_ref()
        .filter(|m| cfg.method.name() != m.as_str())
    {
        cfg.method = MethodConfig::from_kind(m)
            .map_err(|e| anyhow::anyhow!("invalid value for `method`: {e}"))?;
        if args.config.is_none() {
            selfsup::run::presets::apply_method_preset(cfg);
        }
    }
    if let Some(b) = args.backbone {
        cfg.backbone = b.into();
        if args.method.is_some() && args.config.is_none() {
            selfsup::run::presets::fit_method_preset_to_backbone(cfg);
        }
    }
    if let Some(r) = args.recipe {
        // A different recipe replaces the configured one; the same name keeps its configured fields.
        if cfg.augment.recipe.name() != r {
            cfg.augment.recipe = r.into();
        }
    }
    if let Some(v) = args.image_size {
        cfg.augment.image_size = Some(v);
    }
    if let Some(o) = args.optimizer {
        cfg.train.optimizer.kind = o;
    }
    if let Some(s) = args.schedule {
        cfg.train.schedule.kind = s;
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
