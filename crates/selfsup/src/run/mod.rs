//! Whole runs from the library: [`RunConfig`] (data, augment, method, backbone, train, eval: one
//! TOML file) and [`run_config`]: load the data, evaluate the randomly initialised encoder, pretrain,
//! evaluate again, and leave a run folder with checkpoints, metrics, plots, the resolved config, the
//! encoder weights and the evaluation results. This is what `selfsup pretrain` runs after parsing
//! its flags, and what the examples call.
//!
//! - [`config`]: the run configuration with the MNIST (default), FSDD and text presets, and the
//!   search for the vendored `data/` folder;
//! - [`defaults`]: recipe, image size, backbone and online probe chosen from the data when not set;
//! - [`data`]: datasets and their train/held-out splits and loaders (a `selfsup_data::Loader` is the
//!   trainer's batch source as it is); [`folders`]: image/audio folders, the train/val layout;
//! - [`views`]: the augmentation pipelines per recipe and the evaluation pipelines;
//! - [`presets`]: the auto-encoders' per-method presets; [`pictures`]: their evaluation pictures;
//! - [`run_dir`]: checks on the run folder before a run (not inside the dataset folder).

pub mod config;
pub mod data;
pub mod defaults;
pub mod folders;
pub mod pictures;
pub mod presets;
pub mod run_dir;
pub mod views;

pub use config::{DataKind, RunConfig};

use crate::methods::MethodConfig;
use anyhow::{Context, Result};
use selfsup_nn::{InputSpec, Method, MethodSpec};
use selfsup_train::eval::{self, ProbeResult};
use selfsup_train::{Outcome, Trainer};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;
use tch::Tensor;

/// The labelled splits of the evaluations, streamed: kNN and the probe encode the bank and the
/// queries batch by batch from these loaders (evaluation pipeline, in order), so that only the
/// `N × D` features are ever held, never the inputs.
pub struct EvalData {
    /// The training split (the kNN bank, the probe's training set).
    pub bank: selfsup_data::Loader,
    /// The held-out split the accuracies are reported on.
    pub query: selfsup_data::Loader,
    /// Number of classes.
    pub num_classes: i64,
    /// Distinct labels present in the training split (1 means every evaluation would be a
    /// meaningless perfect score).
    pub classes_present: usize,
    /// One evaluation input's shape (`C×H×W`, `F×T`, ...), from the first batch.
    pub sample_shape: Vec<usize>,
}

impl EvalData {
    /// The files both evaluation loaders skipped so far (policy `skip`), sorted, once each.
    pub fn skipped_files(&self) -> Vec<String> {
        let mut files: Vec<String> = [&self.bank, &self.query]
            .iter()
            .flat_map(|l| l.stats().skipped_files)
            .collect();
        files.sort();
        files.dedup();
        files
    }
}

/// Streams both splits through the method and runs kNN.
pub fn knn(method: &dyn Method, d: &EvalData, cfg: &RunConfig) -> Result<f64> {
    Ok(eval::knn_accuracy_streamed(
        method,
        &d.bank,
        &d.query,
        d.num_classes,
        &cfg.eval.knn,
    )?)
}

/// Streams both splits through the method and runs kNN and the linear probe.
pub fn evaluate(method: &dyn Method, d: &EvalData, cfg: &RunConfig) -> Result<(f64, ProbeResult)> {
    Ok(eval::knn_and_probe_streamed(
        method,
        &d.bank,
        &d.query,
        d.num_classes,
        &cfg.eval.knn,
        &cfg.eval.probe,
    )?)
}

/// The labels of every sample of `ds` (from the dataset, without decoding where it can); with the
/// `skip` bad-file policy, samples whose label cannot be read are left out.
fn labels_of(cfg: &RunConfig, ds: &dyn selfsup_data::Dataset) -> Result<Vec<i64>> {
    let skip = cfg.data.bad_files == selfsup_data::BadFilePolicy::Skip;
    let mut v = Vec::with_capacity(ds.len());
    for i in 0..ds.len() {
        match ds.label(i) {
            Ok(Some(l)) => v.push(l),
            Ok(None) => anyhow::bail!("the evaluation needs labels, and this dataset has none"),
            Err(_) if skip => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(v)
}

/// The streamed evaluation data of a run config: two loaders, the class count from the labels, and
/// the input shape from the first batch.
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
    let bank = data::eval_loader(cfg, e.bank.clone())?;
    let query = data::eval_loader(cfg, e.query.clone())?;
    let ty = labels_of(cfg, e.bank.as_ref())?;
    let vy = labels_of(cfg, e.query.as_ref())?;
    let classes = e.bank.classes().map_or(0, |c| c.len() as i64);
    let num_classes = (ty.iter().chain(&vy).copied().max().unwrap_or(0) + 1).max(classes);
    let sample_shape = {
        let first = bank
            .epoch(0)
            .next()
            .context("the evaluation's training split gave no batch")??;
        match (first.views.first(), first.tokens.first()) {
            (Some(x), _) => x.shape()[1..].to_vec(),
            (None, Some(t)) => t.shape()[1..].to_vec(),
            (None, None) => anyhow::bail!("an evaluation batch has no view"),
        }
    };
    Ok(EvalData {
        bank,
        query,
        num_classes,
        classes_present: ty.iter().collect::<std::collections::BTreeSet<_>>().len(),
        sample_shape,
    })
}

/// What the method is built for: one sample's shape (axis 1 on of the evaluation inputs: `C×H×W`
/// images, `F×T` spectrograms, whose one channel the audio CNN adds itself), or for text `[seq_len]`
/// (`seq_len + 1` for a next-token model) with the tokenizer's vocabulary.
pub fn input_spec(
    cfg: &RunConfig,
    ev: Option<&EvalData>,
    splits: &data::Splits,
) -> Result<InputSpec> {
    Ok(match ev {
        _ if cfg.data.kind == DataKind::Text => {
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
        Some(ev) => InputSpec {
            shape: ev.sample_shape.iter().map(|&d| d as i64).collect(),
            vocab_size: None,
        },
        None => {
            // Unlabelled images or audio: the shape of the first training sample as evaluated.
            let first: Arc<dyn selfsup_data::Dataset> =
                Arc::new(selfsup_data::Subset::new(splits.train.clone(), vec![0])?);
            let x = data::eval_inputs(cfg, first)?;
            InputSpec {
                shape: x.shape()[1..].iter().map(|&d| d as i64).collect(),
                vocab_size: None,
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
    /// Data parallelism: this process is one rank of a job (`selfsup-dist`'s `Distributed`, joined
    /// by the CLI's `distributed` module from `--nproc-per-node` or the torchrun/SLURM variables).
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
    data::absolute_paths(&mut cfg.data)?;
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
    let _lock = open_run_folder(&cfg, args.resume, rank == 0)?;
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
    views::pretext_preflight(&cfg, splits.train.as_ref())?;
    let loader = match &dp {
        Some(c) => data::train_loader(&cfg, &splits)?.with_shard(c.world_size(), c.rank())?,
        None => data::train_loader(&cfg, &splits)?,
    };
    let method = build(&cfg, &input)?;
    print_run_header(&mut out, &cfg, &splits, ev.as_ref(), &loader)?;
    let ev = drop_single_class(&mut out, ev)?;
    let before = match &ev {
        Some(ev) if cfg.eval.before && !args.resume && rank == 0 => {
            Some(evaluate_before(&mut out, method.as_ref(), ev, &cfg)?)
        }
        _ => None,
    };
    let json = run_config_json(&cfg, &input)?;
    let pictures = pictures::PictureBatch::new(&cfg, &splits)?;
    let lm_loader = if cfg.is_language_model() {
        write_lm_files(&cfg, &splits, &input, &dir)?;
        lm_eval_loader(&cfg, &splits)?
    } else {
        None
    };
    let mut trainer = build_trainer(
        method,
        &cfg,
        text,
        json,
        ev.as_ref(),
        pictures.as_ref(),
        lm_loader.as_ref(),
        online_probe,
        args,
    )?;
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
        resume_trainer(&mut trainer, &dir, online_probe)?;
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
    let online = report_online_probe(&mut out, &trainer, &dir)?;
    report_skipped(&mut out, &loader.stats())?;
    let epoch_losses = epoch_losses(&dir);
    if let Outcome::Interrupted { checkpoint, step } = &outcome {
        report_eval_skipped(&mut out, ev.as_ref())?;
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
    let lm_eval = match &lm_loader {
        Some(l) => {
            let v =
                selfsup_pretext::language::evaluate_held_out(method.as_mut(), l)?.metrics("val_");
            writeln!(
                out,
                "after pretraining: validation {}  [training {train_secs:.1}s]",
                v.iter()
                    .map(|(k, x)| format!("{k} {x:.4}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
            Some(v)
        }
        None => None,
    };
    let after = match &ev {
        Some(ev) => {
            let (k, p) = match evaluate(method.as_ref(), ev, &cfg) {
                Ok(r) => r,
                // Ctrl-C or SIGTERM during the final evaluation: stop now, saying so; the
                // training is complete in the newest checkpoint, and a resume only evaluates.
                Err(e) if selfsup_train::trainer::stop_requested() => {
                    writeln!(
                        out,
                        "interrupted during the final evaluation ({e:#}): the training is finished and checkpointed in {}; `selfsup pretrain --resume --out {0}` evaluates it",
                        dir.display()
                    )?;
                    report_eval_skipped(&mut out, Some(ev))?;
                    return Ok(RunSummary {
                        before: before.map(|(k, p)| (k, p.test_acc)),
                        after: None,
                        online_probe: online,
                        epoch_losses,
                        train_seconds: train_secs,
                    });
                }
                Err(e) => {
                    return Err(e.context(format!(
                        "the training is finished and checkpointed in {}; `selfsup eval knn --run {0}` evaluates it",
                        dir.display()
                    )))
                }
            };
            writeln!(
                out,
                "after pretraining:               kNN acc {:.4}, linear probe acc {:.4}  [training {:.1}s]",
                k, p.test_acc, train_secs
            )?;
            Some((k, p))
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
    report_eval_skipped(&mut out, ev.as_ref())?;
    if let Err(e) = log_before_after(&dir, &before, &after, final_step, cfg.train.epochs) {
        tracing::warn!(error = %e, "could not add the before/after evaluations to the metrics");
    }
    let n = export_encoder(
        method.as_ref(),
        &dir.join("encoder.safetensors"),
        Some(encoder_metadata(&cfg, &input)?),
    )?;
    write_eval_json(
        &dir,
        &before,
        &after,
        ev.is_none(),
        lm_eval,
        &epoch_losses,
        online,
        train_secs,
        t0.elapsed().as_secs_f64(),
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
        "run folder {}: config.toml, metrics.jsonl/csv, TensorBoard events, loss.png, {}{}checkpoints/, encoder.safetensors ({n} tensors), eval.json  [total {:.1}s]",
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

/// Refuses a run folder inside the dataset folder, takes the run folder's lock (one process per
/// folder; temporary files of a killed run are removed, and ours on error) and, unless resuming,
/// refuses a folder that already has checkpoints.
/// Only the process that writes the folder (`writer`: rank 0 of a data-parallel run) takes the lock.
fn open_run_folder(
    cfg: &RunConfig,
    resume: bool,
    writer: bool,
) -> Result<Option<selfsup_train::run_dir::RunLock>> {
    let dir = &cfg.out_dir;
    run_dir::refuse_out_inside_data(dir, &data::resolve_path(&cfg.data)?)?;
    let lock = if writer {
        Some(selfsup_train::run_dir::RunLock::acquire(dir)?)
    } else {
        None
    };
    if !resume && selfsup_train::Checkpointer::any_in(dir) {
        anyhow::bail!(
            "the run folder {} already has checkpoints: pass --resume to continue it, or --out <new folder>",
            dir.display()
        );
    }
    Ok(lock)
}

/// The run's first lines: method, backbone, data, sizes, steps and device, and why evaluations are
/// skipped when the data has no labels.
fn print_run_header(
    out: &mut impl Write,
    cfg: &RunConfig,
    splits: &data::Splits,
    ev: Option<&EvalData>,
    loader: &selfsup_data::Loader,
) -> Result<()> {
    writeln!(
        out,
        "selfsup pretrain: {} + {:?} on {} ({} train / {} val samples, {}), {} epochs of {} steps, device {}",
        cfg.method.name(),
        serde_json::to_value(&cfg.backbone)?.get("kind").and_then(|k| k.as_str()).unwrap_or("?").to_string(),
        cfg.data.kind.name(),
        splits.train.len(),
        splits.val.len(),
        match (ev, splits.vocab_size) {
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
    Ok(())
}

/// The evaluation data, unless the training split has a single class (then kNN and the probe would
/// report a meaningless 1.0: warns and skips them).
fn drop_single_class(out: &mut impl Write, ev: Option<EvalData>) -> Result<Option<EvalData>> {
    Ok(match ev {
        Some(e) if e.classes_present < 2 => {
            writeln!(
                    out,
                    "warning: the training split has a single class: kNN and linear-probe accuracy would be a meaningless 1.0, so the evaluations are skipped; check the labels (a label-first CSV read as pixels-first gives one class)"
                )?;
            tracing::warn!("a single class in the training split: evaluations skipped");
            None
        }
        other => other,
    })
}

/// kNN and linear-probe accuracy of the randomly initialised encoder, printed.
fn evaluate_before(
    out: &mut impl Write,
    method: &dyn Method,
    ev: &EvalData,
    cfg: &RunConfig,
) -> Result<(f64, ProbeResult)> {
    let t = Instant::now();
    let (k, p) = evaluate(method, ev, cfg)?;
    writeln!(
        out,
        "before pretraining (random init): kNN acc {:.4}, linear probe acc {:.4}  [{:.1}s]",
        k,
        p.test_acc,
        t.elapsed().as_secs_f64()
    )?;
    Ok((k, p))
}

/// The run config as JSON for the checkpoints, with the input the method was built for.
fn run_config_json(cfg: &RunConfig, input: &InputSpec) -> Result<serde_json::Value> {
    let mut json = serde_json::to_value(cfg)?;
    if let serde_json::Value::Object(m) = &mut json {
        m.insert("in_channels".into(), input.channels().into());
        m.insert("input_shape".into(), input.shape.clone().into());
        if let Some(v) = input.vocab_size {
            m.insert("vocab_size".into(), v.into());
        }
    }
    Ok(json)
}

/// The trainer of the run: the run folder and config, the stop flag (Ctrl-C, SIGTERM), the epoch
/// evaluation (kNN and the auto-encoders' pictures, or a language model's validation loss, every
/// `eval.every_epochs`), the online probe and the step limit.
#[allow(clippy::too_many_arguments)]
fn build_trainer<'a>(
    method: Box<dyn Method>,
    cfg: &'a RunConfig,
    text: String,
    json: serde_json::Value,
    ev: Option<&'a EvalData>,
    pictures: Option<&'a pictures::PictureBatch>,
    lm_loader: Option<&'a selfsup_data::Loader>,
    online_probe: bool,
    args: &RunOptions,
) -> Result<Trainer<'a>> {
    let every = cfg.eval.every_epochs;
    let mut trainer = Trainer::new(method, cfg.train.clone(), Some(&cfg.out_dir))?
        .with_run_config(text, json)
        .with_stop_flag(selfsup_train::install_ctrlc_handler()?);
    // A language model's epoch evaluation is its validation loss (below); its play attribution, where
    // the text has one, runs before and after training only.
    if let (Some(ev_ref), true, None) = (ev, every > 0, lm_loader) {
        trainer = trainer.with_epoch_eval(
            every,
            Box::new(move |m: &mut dyn Method, epoch| {
                let k = knn(m, ev_ref, cfg)
                    .map_err(|e| selfsup_core::Error::Other(format!("kNN evaluation: {e:#}")))?;
                if let Some(p) = pictures {
                    p.write_or_warn(m, &format!("epoch_{epoch:03}"));
                }
                Ok(vec![("knn_acc".to_string(), k)])
            }),
        );
    }
    if let (Some(loader), true) = (lm_loader, every > 0) {
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
    if let (Some(ev), true) = (ev, online_probe) {
        trainer = trainer.with_online_probe(ev.num_classes, cfg.eval.online_probe_lr)?;
    }
    if let Some(s) = args.stop_at_step {
        trainer = trainer.stop_at_step(s);
    }
    Ok(trainer)
}

/// Resumes the trainer from the newest checkpoint of the run folder `dir`.
fn resume_trainer(
    trainer: &mut Trainer<'_>,
    dir: &std::path::Path,
    online_probe: bool,
) -> Result<()> {
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
    Ok(())
}

/// The online probe's last-epoch accuracy and loss, printed and drawn as `online_probe.png`
/// (`None` when the probe was off or no step ran).
fn report_online_probe(
    out: &mut impl Write,
    trainer: &Trainer<'_>,
    dir: &std::path::Path,
) -> Result<Option<(f64, f64)>> {
    let online = online_probe_summary(&trainer.epoch_scalar_means());
    if online.is_some() {
        if let Err(e) = plot_online_probe(dir) {
            tracing::warn!(error = %e, "could not draw online_probe.png");
        }
    }
    if let Some((a, l)) = online {
        writeln!(
            out,
            "online linear probe (training batches of the last epoch): acc {a:.4}, loss {l:.4}"
        )?;
    }
    Ok(online)
}

/// Writes `eval.json`: the evaluations before and after, the validation metrics of a language
/// model, the epoch losses, the online probe and the times.
#[allow(clippy::too_many_arguments)]
fn write_eval_json(
    dir: &std::path::Path,
    before: &Option<(f64, ProbeResult)>,
    after: &Option<(f64, ProbeResult)>,
    no_labels: bool,
    lm_eval: Option<Vec<(String, f64)>>,
    epoch_losses: &[f64],
    online: Option<(f64, f64)>,
    train_secs: f64,
    total_secs: f64,
) -> Result<()> {
    let result = serde_json::json!({
        "before": before.as_ref().map(|(k, p)| serde_json::json!({"knn_acc": k, "linear_probe_acc": p.test_acc, "linear_probe_train_acc": p.train_acc})),
        "after": after.as_ref().map(|(k, p)| serde_json::json!({"knn_acc": k, "linear_probe_acc": p.test_acc, "linear_probe_train_acc": p.train_acc})),
        "skipped": no_labels.then_some("kNN and linear probe: the dataset has no labels"),
        "validation": lm_eval.map(|v| v.into_iter().map(|(k, x)| (k, serde_json::json!(x))).collect::<serde_json::Map<String, serde_json::Value>>()),
        "epoch_losses": epoch_losses,
        "online_probe_last_epoch": online.map(|(a, l)| serde_json::json!({"train_batch_acc": a, "loss": l})),
        "train_seconds": train_secs,
        "total_seconds": total_secs,
    });
    selfsup_train::checkpoint::write_atomic(
        &dir.join("eval.json"),
        serde_json::to_string_pretty(&result)?.as_bytes(),
    )?;
    Ok(())
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

/// Lists the bad files the evaluation loaders skipped (policy `skip`; held-out files the training
/// never reads included), if any.
pub fn report_eval_skipped(out: &mut impl Write, ev: Option<&EvalData>) -> Result<()> {
    let files = ev.map(EvalData::skipped_files).unwrap_or_default();
    if files.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "the evaluations skipped {} bad file(s) (data.bad_files = skip):",
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
