//! Defaults that follow the data. `selfsup pretrain --dataset image-folder --data photos/` should not
//! train colour photos with the grey-digit recipe, nor an audio folder with an image ConvNet: what the
//! user did not set (by a flag or in the config file) is chosen from the data, and said:
//!
//! | data | recipe | image size | backbone |
//! | --- | --- | --- | --- |
//! | MNIST (CSV, IDX) | `digit` (the main job's) | 28 | as configured (`conv_net`) |
//! | CIFAR, image folders | `sim_clr` (lightly's recipe: random resized crop, flip, colour jitter 0.8, greyscale 0.2, blur only above 32 px) | CIFAR 32; a folder: the shorter side of its first image, at most 96 | as configured (`conv_net`) |
//! | audio folders, FSDD | `cola` (its FSDD preset; `--dataset fsdd` turns its noise off) | — | `audio_cnn` (widths 32, 64, 128; `--dataset fsdd`: 32, 64, 128, 256) |
//! | text | `tokens` | — | the preset's Transformer |
//!
//! Contrastive methods on CIFAR and image folders also get lightly's CIFAR-10 benchmark optimizer
//! (SGD, lr 0.06 × batch / 128, momentum 0.9, weight decay 5e-4, cosine without warm-up) unless the
//! optimizer or the schedule was set; the digits, audio and text keep the main job's AdamW.
//!
//! `eval.online_probe` absent becomes whether the training files have labels. The effective values are
//! written into the config, so `--print-config` and the run's `config.toml` show them.

use crate::run::config::{DataKind, RunConfig};
use anyhow::Result;
use selfsup_data::Dataset;
use selfsup_nn::BackboneConfig;
use std::collections::BTreeSet;

/// The config keys the user set: dotted paths from the config file, plus the flags given.
#[derive(Clone, Debug, Default)]
pub struct Explicit {
    keys: BTreeSet<String>,
}

impl Explicit {
    /// Every key path of a TOML config text (`augment.recipe`, `backbone.kind`, ...).
    pub fn from_toml(text: &str) -> Self {
        fn walk(prefix: &str, t: &toml::Table, out: &mut BTreeSet<String>) {
            for (k, v) in t {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if let toml::Value::Table(inner) = v {
                    walk(&p, inner, out);
                }
                out.insert(p);
            }
        }
        let mut keys = BTreeSet::new();
        if let Ok(t) = text.parse::<toml::Table>() {
            walk("", &t, &mut keys);
        }
        Explicit { keys }
    }

    /// Marks `path` as set (a flag was given).
    pub fn set(&mut self, path: &str) {
        self.keys.insert(path.to_string());
    }

    /// True when `path` (or a key under it) was set.
    pub fn has(&self, path: &str) -> bool {
        self.keys
            .iter()
            .any(|k| k == path || k.starts_with(&format!("{path}.")))
    }
}

/// What the data looks like, as far as the defaults care.
struct Facts {
    /// `(channels, height, width)` of the first image, and where it came from.
    image: Option<((usize, usize, usize), String)>,
    /// Whether the training samples carry labels (`None`: unknown, e.g. the path does not exist yet).
    labelled: Option<bool>,
}

fn facts(cfg: &RunConfig) -> Facts {
    let d = &cfg.data;
    let folder = |kind: DataKind| -> Option<(Box<dyn Dataset>, std::path::PathBuf)> {
        let path = crate::run::data::resolve_path(d).ok()?;
        let layout = selfsup_data::detect_layout(&path).ok()?;
        let ds: Box<dyn Dataset> = if kind == DataKind::AudioFolder {
            Box::new(selfsup_data::AudioFolder::auto(&layout.train).ok()?)
        } else {
            Box::new(selfsup_data::ImageFolder::auto(&layout.train).ok()?)
        };
        Some((ds, layout.train))
    };
    match d.kind {
        DataKind::MnistCsv | DataKind::MnistIdx => Facts {
            image: Some(((1, 28, 28), "MNIST".into())),
            labelled: Some(true),
        },
        DataKind::Cifar => Facts {
            image: Some(((3, 32, 32), "CIFAR-10".into())),
            labelled: Some(true),
        },
        DataKind::ImageFolder => match folder(d.kind) {
            Some((ds, root)) => {
                let image = ds.get(0).ok().and_then(|item| match item.sample {
                    selfsup_core::Sample::ImageU8(i) => Some(i.dims()),
                    selfsup_core::Sample::Image(i) => Some(i.dims()),
                    _ => None,
                });
                Facts {
                    image: image.map(|dims| {
                        let src = ds.source(0).unwrap_or(root).display().to_string();
                        (dims, src)
                    }),
                    labelled: Some(ds.classes().is_some()),
                }
            }
            None => Facts {
                image: None,
                labelled: None,
            },
        },
        DataKind::AudioFolder => Facts {
            image: None,
            labelled: folder(d.kind).map(|(ds, _)| ds.classes().is_some()),
        },
        DataKind::Fsdd => Facts {
            image: None,
            labelled: Some(true),
        },
        DataKind::Text => Facts {
            image: None,
            labelled: Some(false),
        },
    }
}

/// The largest image side chosen by default (a CPU-sized run); `--image-size` goes beyond.
pub const MAX_DEFAULT_IMAGE_SIZE: u32 = 96;

/// Fills what `explicit` does not name from the data; returns one line per choice made, for the user.
pub fn apply(cfg: &mut RunConfig, explicit: &Explicit) -> Result<Vec<String>> {
    let f = facts(cfg);
    let mut notes = Vec::new();
    let kind = cfg.data.kind;
    if !explicit.has("augment.recipe") {
        use selfsup_augment::RecipeName;
        let recipe = match kind {
            DataKind::MnistCsv | DataKind::MnistIdx => RecipeName::Digit,
            DataKind::Text => RecipeName::Tokens,
            k if k.is_audio() => RecipeName::Cola,
            _ => RecipeName::SimClr,
        };
        if cfg.augment.recipe.name() != recipe {
            notes.push(format!(
                "recipe `{recipe}` for {} data{} (--recipe to change)",
                kind.name(),
                if recipe == RecipeName::SimClr {
                    ": lightly's SimCLR recipe (random resized crop, flip, colour jitter 0.8, greyscale 0.2, blur only above 32 px)"
                } else {
                    ""
                }
            ));
            cfg.augment.recipe = recipe.into();
        }
    }
    if cfg.augment.image_size.is_none() && !kind.is_audio() && kind != DataKind::Text {
        if let Some(((c, h, w), src)) = &f.image {
            let shorter = (*h).min(*w) as u32;
            let size = shorter.min(MAX_DEFAULT_IMAGE_SIZE);
            cfg.augment.image_size = Some(size);
            if kind == DataKind::ImageFolder {
                notes.push(format!(
                    "image size {size} ({} images, the first {src} is {c}×{h}×{w}{}; --image-size to change)",
                    if *c >= 3 { "colour" } else { "grey" },
                    if size < shorter {
                        format!(", capped at {MAX_DEFAULT_IMAGE_SIZE}")
                    } else {
                        String::new()
                    }
                ));
            }
        }
    }
    if let Some(note) = colour_optimizer(cfg, explicit) {
        notes.push(note);
    }
    if kind.is_audio()
        && !explicit.has("backbone")
        && !matches!(
            cfg.backbone,
            BackboneConfig::AudioCnn(_) | BackboneConfig::Conv1d(_)
        )
    {
        cfg.backbone = BackboneConfig::AudioCnn(selfsup_nn::backbones::ConvNetConfig {
            widths: vec![32, 64, 128],
            ..Default::default()
        });
        notes.push(
            "backbone `audio_cnn` (widths 32, 64, 128) over log-mel spectrograms (--backbone to change)"
                .into(),
        );
    }
    if cfg.eval.online_probe.is_none() {
        let on = f.labelled.unwrap_or(kind.has_labels()) && kind.has_labels();
        cfg.eval.online_probe = Some(on);
        if !on && kind != DataKind::Text {
            notes.push("online probe off: the training files have no labels".into());
        }
    }
    Ok(notes)
}

/// lightly's CIFAR-10 benchmark optimizer: SGD at `0.06 · batch / 128`, momentum 0.9, weight decay
/// 5e-4 on every parameter, cosine decay to 0 without warm-up.
pub const COLOUR_SGD_LR: f64 = 0.06;
/// The batch [`COLOUR_SGD_LR`] is given for (lightly's `lr_factor = batch_size / 128`).
pub const COLOUR_SGD_REFERENCE_BATCH: usize = 128;

/// CIFAR and image folders trained by a contrastive method: lightly's CIFAR-10 benchmark schedule
/// (SGD, [`COLOUR_SGD_LR`] scaled linearly from batch [`COLOUR_SGD_REFERENCE_BATCH`], momentum 0.9,
/// weight decay 5e-4, cosine without warm-up) in place of the digit job's AdamW, unless the user
/// chose another optimizer or set one of its fields (`--optimizer adamw`, `--lr`, `[train.optimizer]`
/// fields); the schedule likewise unless `[train.schedule]` or `--schedule` was given. The other
/// families keep their presets' optimizers.
fn colour_optimizer(cfg: &mut RunConfig, explicit: &Explicit) -> Option<String> {
    use selfsup_train::{LrScaling, OptimizerKind, ScheduleKind};
    let colour = matches!(cfg.data.kind, DataKind::Cifar | DataKind::ImageFolder);
    let contrastive = matches!(cfg.method, crate::methods::MethodConfig::Contrastive(_));
    let other_kind =
        explicit.has("train.optimizer.kind") && cfg.train.optimizer.kind != OptimizerKind::Sgd;
    let fields_set = [
        "lr",
        "momentum",
        "dampening",
        "nesterov",
        "weight_decay",
        "betas",
        "eps",
        "trust_coefficient",
        "exclude_bias_and_norm",
    ]
    .iter()
    .any(|f| explicit.has(&format!("train.optimizer.{f}")));
    if !colour || !contrastive || other_kind || fields_set {
        return None;
    }
    let o = &mut cfg.train.optimizer;
    o.kind = OptimizerKind::Sgd;
    o.lr = COLOUR_SGD_LR;
    o.momentum = 0.9;
    o.nesterov = false;
    o.dampening = 0.0;
    o.weight_decay = 5e-4;
    o.exclude_bias_and_norm = false;
    if !explicit.has("train.lr_scaling") && !explicit.has("train.lr_reference_batch") {
        cfg.train.lr_scaling = LrScaling::Linear;
        cfg.train.lr_reference_batch = COLOUR_SGD_REFERENCE_BATCH;
    }
    if !explicit.has("train.schedule") {
        cfg.train.schedule.kind = ScheduleKind::WarmupCosine;
        cfg.train.schedule.warmup_epochs = 0.0;
        cfg.train.schedule.min_lr = 0.0;
    }
    Some(format!(
        "optimizer SGD, lr {COLOUR_SGD_LR} × batch / {COLOUR_SGD_REFERENCE_BATCH}, momentum 0.9, weight decay 5e-4, cosine: lightly's CIFAR-10 benchmark (--optimizer/--lr to change)"
    ))
}
