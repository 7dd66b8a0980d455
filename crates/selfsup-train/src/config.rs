//! The trainer's serde configuration: [`TrainConfig`] and its parts. Every struct has PyTorch-like
//! defaults, rejects unknown keys, and is checked by `validate()` with messages that name the field
//! (dotted, as in the TOML file) and the allowed values.

use selfsup_core::check::{at_least, non_negative, positive};
use selfsup_core::{Error, Result};
use serde::{Deserialize, Serialize};

/// Which optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "lower"))]
pub enum OptimizerKind {
    /// SGD with optional (Nesterov) momentum and L2 weight decay (`torch.optim.SGD`).
    Sgd,
    /// Adam with L2 weight decay added to the gradient (`torch.optim.Adam`).
    Adam,
    /// Adam with decoupled weight decay (`torch.optim.AdamW`).
    Adamw,
    /// SGD + momentum with layer-wise trust ratios (LARS, You et al. 2017), as used by SimCLR/BYOL.
    Lars,
}

impl OptimizerKind {
    /// The allowed spellings.
    pub const NAMES: &'static str = "sgd, adam, adamw, lars";
}

/// Optimizer hyper-parameters (`[optimizer]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Which optimizer: `sgd`, `adam`, `adamw` or `lars`.
    pub kind: OptimizerKind,
    /// Peak learning rate (what the schedule scales).
    pub lr: f64,
    /// Momentum (SGD, LARS).
    pub momentum: f64,
    /// Dampening of the momentum (SGD).
    pub dampening: f64,
    /// Nesterov momentum (SGD, LARS).
    pub nesterov: bool,
    /// Weight decay (L2 for SGD/Adam/LARS, decoupled for AdamW).
    pub weight_decay: f64,
    /// Adam betas.
    pub betas: [f64; 2],
    /// Adam epsilon.
    pub eps: f64,
    /// LARS trust coefficient (eta).
    pub trust_coefficient: f64,
    /// Exclude biases and normalisation parameters (every parameter with fewer than 2 dimensions) from
    /// weight decay and, for LARS, from the trust-ratio adaptation. Defaults to true for LARS' use.
    pub exclude_bias_and_norm: bool,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            kind: OptimizerKind::Adam,
            lr: 1e-3,
            momentum: 0.9,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            betas: [0.9, 0.999],
            eps: 1e-8,
            trust_coefficient: 0.001,
            exclude_bias_and_norm: true,
        }
    }
}

impl OptimizerConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        positive("optimizer.lr", self.lr)?;
        check_unit("optimizer.momentum", self.momentum, false)?;
        check_unit("optimizer.dampening", self.dampening, true)?;
        non_negative("optimizer.weight_decay", self.weight_decay)?;
        check_unit("optimizer.betas[0]", self.betas[0], false)?;
        check_unit("optimizer.betas[1]", self.betas[1], false)?;
        positive("optimizer.eps", self.eps)?;
        positive("optimizer.trust_coefficient", self.trust_coefficient)?;
        if self.nesterov
            && matches!(self.kind, OptimizerKind::Sgd | OptimizerKind::Lars)
            && (self.momentum <= 0.0 || self.dampening != 0.0)
        {
            return Err(Error::config(
                "optimizer.nesterov",
                "Nesterov momentum needs optimizer.momentum > 0 and optimizer.dampening = 0",
            ));
        }
        Ok(())
    }
}

fn check_unit(field: &str, v: f64, inclusive_one: bool) -> Result<()> {
    let ok = v.is_finite() && v >= 0.0 && (if inclusive_one { v <= 1.0 } else { v < 1.0 });
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            field,
            format!(
                "must be in [0, 1{}, got {v}",
                if inclusive_one { "]" } else { ")" }
            ),
        ))
    }
}

/// Which learning-rate schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "clap", value(rename_all = "snake_case"))]
pub enum ScheduleKind {
    /// The peak LR throughout (after the optional warmup).
    Constant,
    /// Multiply by `gamma` at each milestone epoch (`MultiStepLR`).
    Step,
    /// Linear warmup, then cosine decay to `min_lr` at the last step.
    WarmupCosine,
}

impl ScheduleKind {
    /// The allowed spellings.
    pub const NAMES: &'static str = "constant, step, warmup_cosine";
}

/// Learning-rate schedule, evaluated per optimizer step (`[schedule]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// `constant`, `step` or `warmup_cosine`.
    pub kind: ScheduleKind,
    /// Linear warmup length in epochs (may be fractional; 0 = none). Applies to every kind.
    pub warmup_epochs: f64,
    /// Factor of the peak LR at the first warmup step's start (the LR rises linearly from
    /// `warmup_start_factor × lr`).
    pub warmup_start_factor: f64,
    /// Final LR of the cosine decay, in absolute units.
    pub min_lr: f64,
    /// Epochs at which the step schedule multiplies the LR by `gamma`.
    pub milestones: Vec<u64>,
    /// Step schedule factor.
    pub gamma: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            kind: ScheduleKind::WarmupCosine,
            warmup_epochs: 0.0,
            warmup_start_factor: 0.0,
            min_lr: 0.0,
            milestones: Vec::new(),
            gamma: 0.1,
        }
    }
}

impl ScheduleConfig {
    /// Checks every field.
    pub fn validate(&self, lr: f64) -> Result<()> {
        non_negative("schedule.warmup_epochs", self.warmup_epochs)?;
        check_unit(
            "schedule.warmup_start_factor",
            self.warmup_start_factor,
            true,
        )?;
        non_negative("schedule.min_lr", self.min_lr)?;
        if self.min_lr > lr {
            return Err(Error::config(
                "schedule.min_lr",
                format!("must be <= optimizer.lr ({lr}), got {}", self.min_lr),
            ));
        }
        check_unit("schedule.gamma", self.gamma, true)?;
        if self.milestones.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::config(
                "schedule.milestones",
                format!(
                    "must be strictly increasing epochs, got {:?}",
                    self.milestones
                ),
            ));
        }
        Ok(())
    }
}

/// When and how many checkpoints are written (`[checkpoint]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Write a checkpoint every this many epochs (0 = only at the end).
    pub every_epochs: u64,
    /// Also write one every this many optimizer steps (0 = off).
    pub every_steps: u64,
    /// How many of the most recent checkpoints to keep (>= 1).
    pub keep_last: usize,
    /// Keep `best.safetensors`: the checkpoint with the best monitored value (evaluation accuracy when
    /// an evaluation runs, else the lowest epoch-mean loss).
    pub keep_best: bool,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        CheckpointConfig {
            every_epochs: 1,
            every_steps: 0,
            keep_last: 2,
            keep_best: true,
        }
    }
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressMode {
    /// A progress bar when stderr is a terminal, else periodic log lines.
    Auto,
    /// Always a progress bar.
    Bar,
    /// Periodic `tracing` lines only.
    Lines,
    /// Nothing (tests).
    Off,
}

/// How the peak learning rate follows the global batch `G` (ranks × `batch_size` × `grad_accum`):
/// `lr · G / lr_reference_batch` (linear, Goyal et al.), `lr · √(G / lr_reference_batch)` (square
/// root, SimCLR with LARS), or `lr` as given (`none`, the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrScaling {
    /// The learning rate as configured.
    #[default]
    None,
    /// `lr · G / reference`.
    Linear,
    /// `lr · √(G / reference)`.
    Sqrt,
}

impl LrScaling {
    /// The peak learning rate for `lr` configured at batch `reference` and the global batch `global`.
    pub fn scale(self, lr: f64, global: usize, reference: usize) -> f64 {
        let r = global as f64 / reference.max(1) as f64;
        match self {
            LrScaling::None => lr,
            LrScaling::Linear => lr * r,
            LrScaling::Sqrt => lr * r.sqrt(),
        }
    }
}

/// The numeric precision of the training step's forward pass and loss (`train.precision`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in fp32 (the default).
    #[default]
    Fp32,
    /// bf16 autocast on the CPU, as `torch.autocast("cpu", dtype=torch.bfloat16)`: the ops on
    /// libtorch's autocast lists (convolutions, matmuls, linear layers) run in bf16, weights,
    /// gradients and optimizer state stay fp32, and backward, the optimizer and evaluation run
    /// outside it (see [`crate::precision`]).
    Bf16,
}

impl Precision {
    /// The allowed spellings.
    pub const NAMES: &'static str = "fp32, bf16";
}

/// The trainer's configuration (`[train]` in a run file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Number of epochs (>= 1).
    pub epochs: u64,
    /// Micro-batches per optimizer step (>= 1); the loss is averaged over them.
    pub grad_accum: u64,
    /// Clip gradients to this global L2 norm (`clip_grad_norm_`); absent = no clipping.
    pub clip_grad_norm: Option<f64>,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// The run seed: torch is seeded from it per step; the data loader takes it too.
    pub seed: u64,
    /// Log (metrics line, progress line) every this many steps (>= 1).
    pub log_every: u64,
    /// Progress display: `auto`, `bar`, `lines` or `off`.
    pub progress: ProgressMode,
    /// Optimizer.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Checkpoint policy.
    pub checkpoint: CheckpointConfig,
    /// Learning-rate scaling by the global batch: `none` (default), `linear` or `sqrt`.
    pub lr_scaling: LrScaling,
    /// The batch at which `optimizer.lr` is meant, for `lr_scaling` (default 256, >= 1).
    pub lr_reference_batch: usize,
    /// Data-parallel runs: every BatchNorm of the method (backbone and heads) is a
    /// `SyncBatchNorm`, normalising with the statistics of the global batch (all ranks) in
    /// training mode; see `selfsup_nn::collectives::install_sync_batch_norm_group`. Default
    /// `false` (per-rank statistics, as plain DDP); no effect in a single process.
    pub sync_batch_norm: bool,
    /// Make the C allocator keep freed memory for reuse ([`crate::memory::keep_freed_memory`]): the
    /// step's large buffers are not unmapped and page-faulted in again every step (glibc only; a
    /// process-wide setting; default `true`, at the cost of not returning freed memory to the OS).
    pub keep_freed_memory: bool,
    /// Precision of each training step's forward pass and loss: `fp32` (default) or `bf16`
    /// (CPU autocast; [`Precision::Bf16`]). Evaluation always runs in fp32.
    pub precision: Precision,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            grad_accum: 1,
            clip_grad_norm: None,
            device: "cpu".into(),
            seed: 0,
            log_every: 10,
            progress: ProgressMode::Auto,
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            checkpoint: CheckpointConfig::default(),
            lr_scaling: LrScaling::None,
            lr_reference_batch: 256,
            sync_batch_norm: false,
            keep_freed_memory: true,
            precision: Precision::Fp32,
        }
    }
}

impl TrainConfig {
    /// Checks every field, naming the first bad one and its allowed values.
    pub fn validate(&self) -> Result<()> {
        at_least("train.epochs", self.epochs as usize, 1)?;
        at_least("train.grad_accum", self.grad_accum as usize, 1)?;
        at_least("train.log_every", self.log_every as usize, 1)?;
        if let Some(c) = self.clip_grad_norm {
            positive("train.clip_grad_norm", c)?;
        }
        let dev_ok = self.device == "cpu"
            || self.device == "cuda"
            || self
                .device
                .strip_prefix("cuda:")
                .is_some_and(|n| n.parse::<usize>().is_ok());
        if !dev_ok {
            return Err(Error::config(
                "train.device",
                format!("expected cpu, cuda or cuda:N, got `{}`", self.device),
            ));
        }
        self.optimizer.validate()?;
        self.schedule.validate(self.optimizer.lr)?;
        at_least("checkpoint.keep_last", self.checkpoint.keep_last, 1)?;
        at_least("train.lr_reference_batch", self.lr_reference_batch, 1)?;
        if self.precision == Precision::Bf16 && self.device != "cpu" {
            return Err(Error::config(
                "train.precision",
                format!(
                    "bf16 autocast is implemented for train.device = \"cpu\" only, got `{}`; use precision = \"fp32\" (allowed: {})",
                    self.device,
                    Precision::NAMES
                ),
            ));
        }
        Ok(())
    }

    /// Parses a TOML document holding exactly a `TrainConfig` (unknown keys are errors) and validates it.
    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: TrainConfig = toml::from_str(text)
            .map_err(|e| Error::config("train", format!("cannot parse the train config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lr_scaling_follows_the_global_batch() {
        assert_eq!(LrScaling::None.scale(0.1, 512, 256), 0.1);
        assert!((LrScaling::Linear.scale(0.1, 512, 256) - 0.2).abs() < 1e-15);
        assert!((LrScaling::Sqrt.scale(0.1, 1024, 256) - 0.2).abs() < 1e-15);
        let c = TrainConfig::from_toml("lr_scaling = \"sqrt\"\nlr_reference_batch = 128").unwrap();
        assert_eq!((c.lr_scaling, c.lr_reference_batch), (LrScaling::Sqrt, 128));
        let e = TrainConfig::from_toml("lr_reference_batch = 0").unwrap_err();
        assert_eq!(field_of(e), "train.lr_reference_batch");
        assert!(TrainConfig::from_toml("lr_scaling = \"cubic\"").is_err());
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidConfig { field, .. } => field,
            other => panic!("expected a config error, got {other}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_round_trip_through_toml() {
        let cfg = TrainConfig::default();
        cfg.validate().unwrap();
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(TrainConfig::from_toml(&text).unwrap(), cfg);
    }

    #[test]
    fn bad_values_name_their_field() {
        let mut c = TrainConfig {
            epochs: 0,
            ..Default::default()
        };
        assert_eq!(field_of(c.validate().unwrap_err()), "train.epochs");
        c.epochs = 1;
        c.optimizer.lr = -1.0;
        assert_eq!(field_of(c.validate().unwrap_err()), "optimizer.lr");
        c.optimizer.lr = 0.1;
        c.optimizer.momentum = 1.5;
        assert_eq!(field_of(c.validate().unwrap_err()), "optimizer.momentum");
        c.optimizer.momentum = 0.9;
        c.device = "tpu".into();
        let e = c.validate().unwrap_err();
        assert!(e.to_string().contains("cpu, cuda or cuda:N"), "{e}");
        c.device = "cuda:1".into();
        c.schedule.milestones = vec![5, 3];
        assert_eq!(field_of(c.validate().unwrap_err()), "schedule.milestones");
        c.schedule.milestones = vec![3, 5];
        c.checkpoint.keep_last = 0;
        assert_eq!(field_of(c.validate().unwrap_err()), "checkpoint.keep_last");
        c.checkpoint.keep_last = 1;
        c.optimizer.kind = OptimizerKind::Sgd;
        c.optimizer.nesterov = true;
        c.optimizer.momentum = 0.0;
        assert_eq!(field_of(c.validate().unwrap_err()), "optimizer.nesterov");
    }

    #[test]
    fn precision_parses_and_bad_values_are_clear_errors() {
        assert_eq!(TrainConfig::default().precision, Precision::Fp32);
        let c = TrainConfig::from_toml("precision = \"bf16\"").unwrap();
        assert_eq!(c.precision, Precision::Bf16);
        let msg = TrainConfig::from_toml("precision = \"fp16\"")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("precision")
                && msg.contains("fp16")
                && msg.contains("bf16")
                && msg.contains("fp32"),
            "{msg}"
        );
        let e = TrainConfig::from_toml("precision = \"bf16\"\ndevice = \"cuda\"").unwrap_err();
        assert!(e.to_string().contains("fp32, bf16"), "{e}");
        assert_eq!(field_of(e), "train.precision");
    }

    #[test]
    fn unknown_keys_and_bad_enum_values_are_errors() {
        let e = TrainConfig::from_toml("epochs = 3\nepohcs = 4\n").unwrap_err();
        assert!(e.to_string().contains("epohcs"), "{e}");
        let e = TrainConfig::from_toml("[optimizer]\nkind = \"rmsprop\"\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("rmsprop") && msg.contains("adamw"), "{msg}");
        let e = TrainConfig::from_toml("[schedule]\nkind = \"linear\"\n").unwrap_err();
        assert!(e.to_string().contains("warmup_cosine"), "{e}");
    }
}
