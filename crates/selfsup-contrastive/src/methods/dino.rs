//! DINO (Caron et al., 2021): a student (backbone + DINO head) matches a momentum teacher's centred,
//! sharpened output ([`crate::losses::DinoLoss`]). The first `n_global_views` views are global crops
//! (seen by teacher and student), the rest local crops (student only).
//!
//! DINO head (lightly's `DINOProjectionHead` without BN): `Linear-GELU-Linear-GELU-Linear` to a
//! bottleneck, L2 normalisation, then a weight-normalised linear layer without bias whose rows are kept
//! at unit norm (`norm_last_layer = True`): names `head.layers.{0,1,2}`, `head.last_layer.weight_v`.
//! The last layer gets no gradient during the first `freeze_last_layer_epochs` epochs.
//! Initialisation as lightly's head: MLP weights `N(0, 0.02²)`, zero biases, `weight_v` PyTorch's
//! default `U(±1/√bottleneck)`.
//! The teacher (`teacher.backbone.*`, `teacher.head.*`) starts as a copy of the student and is a
//! non-trainable EMA of its parameters (not of the BN running statistics, which follow the teacher's
//! own forward passes, as lightly's `update_momentum`) with a cosine momentum 0.996 → 1, applied after
//! each optimizer step. Both run in train mode; the teacher sees the global views only. The centre
//! (`center`, `1×K`) is non-trainable and moved towards the mean teacher output of the batch after each
//! loss. Step scalars: `teacher_temp`, `momentum`, `embedding_std` (of the student's view-0 output) and
//! `teacher_entropy` (mean entropy of the centred targets: near `ln K` means they went uniform, near 0
//! one-hot — the two collapses the DINO paper monitors).
//!
//! **Data parallelism** ([`DataParallel::PerSampleMean`]): the centre moves towards the mean
//! teacher output of the **global** batch (the per-rank sums all-reduced and divided by the global
//! row count, as the reference DINO's `dist.all_reduce(batch_center)`); the loss is a mean of
//! per-sample terms, so the trainer averages the ranks' gradients and W ranks × B compute one
//! process × W·B.
//!
//! On tiny problems the loss first falls and then rises to about `ln K` within a few dozen steps as
//! the centre catches up with the (initially almost image-independent) output; lightly's DINO does the
//! same on the same setup (`scripts/checks/dino_moving_teacher.py`, tests in `methods_train.rs`).

use super::{embed_with, embedding_std, pos_int, view};
use crate::losses::{normalize, DinoLoss};
use selfsup_core::check;
use selfsup_nn::{
    build_backbone, build_frozen, copy_prefix, cosine_momentum, ema_update, Backbone,
    BackboneConfig, Batch, Collectives, DataParallel, Method, Reduction, Result, StepInfo,
    StepOutput,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tch::nn::{self, Module, VarStore};
use tch::Tensor;

/// DINO hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DinoConfig {
    /// Head hidden width (2048).
    pub hidden_dim: i64,
    /// Head bottleneck width (256).
    pub bottleneck_dim: i64,
    /// Output width `K` (65536 in the paper).
    pub output_dim: i64,
    /// Teacher temperature at epoch 0 (0.04).
    pub warmup_teacher_temp: f64,
    /// Teacher temperature after the warm-up (0.04).
    pub teacher_temp: f64,
    /// Warm-up epochs of the teacher temperature (30).
    pub warmup_teacher_temp_epochs: u64,
    /// Student temperature (0.1).
    pub student_temp: f64,
    /// Centre momentum (0.9).
    pub center_momentum: f64,
    /// Teacher momentum at step 0 (0.996).
    pub momentum_start: f64,
    /// Teacher momentum at the last step (1.0).
    pub momentum_end: f64,
    /// Epochs during which the head's last layer is frozen (1).
    pub freeze_last_layer_epochs: u64,
    /// Number of global views (2).
    pub n_global_views: usize,
}

impl Default for DinoConfig {
    fn default() -> Self {
        DinoConfig {
            hidden_dim: 2048,
            bottleneck_dim: 256,
            output_dim: 65536,
            warmup_teacher_temp: 0.04,
            teacher_temp: 0.04,
            warmup_teacher_temp_epochs: 30,
            student_temp: 0.1,
            center_momentum: 0.9,
            momentum_start: 0.996,
            momentum_end: 1.0,
            freeze_last_layer_epochs: 1,
            n_global_views: 2,
        }
    }
}

impl DinoConfig {
    fn loss(&self) -> DinoLoss {
        DinoLoss {
            warmup_teacher_temp: self.warmup_teacher_temp,
            teacher_temp: self.teacher_temp,
            warmup_epochs: self.warmup_teacher_temp_epochs,
            student_temp: self.student_temp,
            center_momentum: self.center_momentum,
        }
    }

    /// Temperatures > 0, momenta in [0, 1], widths ≥ 1, at least one global view.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        pos_int("method.hidden_dim", self.hidden_dim)?;
        pos_int("method.bottleneck_dim", self.bottleneck_dim)?;
        pos_int("method.output_dim", self.output_dim)?;
        check::positive("method.warmup_teacher_temp", self.warmup_teacher_temp)?;
        check::positive("method.teacher_temp", self.teacher_temp)?;
        check::positive("method.student_temp", self.student_temp)?;
        check::probability("method.center_momentum", self.center_momentum)?;
        check::probability("method.momentum_start", self.momentum_start)?;
        check::probability("method.momentum_end", self.momentum_end)?;
        check::at_least("method.n_global_views", self.n_global_views, 1)
    }
}

/// The DINO projection head; see the module documentation.
#[derive(Debug)]
pub struct DinoHead {
    layers: Vec<nn::Linear>,
    weight_v: Tensor,
}

impl DinoHead {
    /// `input → hidden → hidden → bottleneck → (normalised) → output`, initialised as lightly's
    /// `DINOProjectionHead` (and the official DINO head): MLP weights `N(0, 0.02²)` (lightly truncates
    /// at ±2, i.e. 100 σ, which never binds), zero biases; the last layer's `weight_v` with PyTorch's
    /// default `nn.Linear` init, `U(±1/√bottleneck)` (it is created after lightly's `_init_weights`).
    pub fn new(p: &nn::Path<'_>, input: i64, hidden: i64, bottleneck: i64, output: i64) -> Self {
        let dims = [input, hidden, hidden, bottleneck];
        let mlp = nn::LinearConfig {
            ws_init: nn::Init::Randn {
                mean: 0.0,
                stdev: 0.02,
            },
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        };
        let layers = (0..3)
            .map(|i| nn::linear(p / "layers" / i, dims[i], dims[i + 1], mlp))
            .collect();
        // Kaiming-uniform with gain 1/√3: bound √3·gain/√fan_in = 1/√bottleneck, PyTorch's default.
        let weight_v = (p / "last_layer").var(
            "weight_v",
            &[output, bottleneck],
            nn::Init::Kaiming {
                dist: nn::init::NormalOrUniform::Uniform,
                fan: nn::init::FanInOut::FanIn,
                non_linearity: nn::init::NonLinearity::ExplicitGain(1.0 / 3f64.sqrt()),
            },
        );
        DinoHead { layers, weight_v }
    }

    /// Forward pass; `freeze_last` stops the gradient into the last layer.
    pub fn forward(&self, x: &Tensor, freeze_last: bool) -> Tensor {
        let mut h = x.shallow_clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h);
            if i < 2 {
                h = h.gelu("none");
            }
        }
        let h = normalize(&h);
        let v = if freeze_last {
            self.weight_v.detach()
        } else {
            self.weight_v.shallow_clone()
        };
        h.mm(&normalize(&v).tr())
    }
}

/// Mean entropy (nats) of the teacher's centred, sharpened targets `softmax((t − c)/τ_t)` over all
/// global-view rows: `ln K` when the targets are uniform, 0 when one-hot (the DINO paper's Fig. 7
/// collapse diagnostic).
fn teacher_entropy(teacher: &[Tensor], center: &Tensor, temp: f64) -> f64 {
    tch::no_grad(|| {
        let t = Tensor::cat(teacher, 0);
        let kind = t.kind();
        let logp = ((t - center.to_kind(kind)) / temp).log_softmax(1, kind);
        -(logp.exp() * &logp)
            .sum_dim_intlist(1, false, kind)
            .mean(kind)
            .double_value(&[])
    })
}

/// See the module documentation.
#[derive(Debug)]
pub struct Dino {
    vs: VarStore,
    backbone: Box<dyn Backbone>,
    head: DinoHead,
    teacher: (Box<dyn Backbone>, DinoHead),
    center: Tensor,
    loss: DinoLoss,
    cfg: DinoConfig,
    collectives: Option<Arc<dyn Collectives>>,
}

impl Dino {
    /// Builds DINO.
    pub fn new(vs: VarStore, c: &DinoConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let root = vs.root();
        let backbone = build_backbone(&(&root / "backbone"), b, in_ch)?;
        let d = backbone.output_dim();
        let head = DinoHead::new(
            &(&root / "head"),
            d,
            c.hidden_dim,
            c.bottleneck_dim,
            c.output_dim,
        );
        let teacher = build_frozen(&(&root / "teacher"), |p| {
            let tb = build_backbone(&(p / "backbone"), b, in_ch)?;
            let th = DinoHead::new(
                &(p / "head"),
                d,
                c.hidden_dim,
                c.bottleneck_dim,
                c.output_dim,
            );
            Ok((tb, th))
        })?;
        copy_prefix(&vs, "backbone", "teacher.backbone")?;
        copy_prefix(&vs, "head", "teacher.head")?;
        let center = root.zeros_no_train("center", &[1, c.output_dim]);
        Ok(Dino {
            vs,
            backbone,
            head,
            teacher,
            center,
            loss: c.loss(),
            cfg: c.clone(),
            collectives: None,
        })
    }
}

impl Method for Dino {
    fn name(&self) -> &str {
        "dino"
    }

    fn var_store(&self) -> &VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn step(&mut self, batch: &Batch, info: &StepInfo) -> Result<StepOutput> {
        let n_global = self.cfg.n_global_views;
        view(batch, 0, "dino", n_global.max(2))?;
        let freeze = info.epoch < self.cfg.freeze_last_layer_epochs;
        let teacher: Vec<Tensor> = tch::no_grad(|| {
            batch.views[..n_global]
                .iter()
                .map(|x| {
                    self.teacher
                        .1
                        .forward(&self.teacher.0.forward_t(x, true), false)
                        .detach()
                })
                .collect()
        });
        let mut h0 = None;
        let student: Vec<Tensor> = batch
            .views
            .iter()
            .map(|x| {
                let h = self.backbone.forward_t(x, true);
                let s = self.head.forward(&h, freeze);
                h0.get_or_insert(h);
                s
            })
            .collect();
        let loss = self
            .loss
            .forward(&teacher, &student, &self.center, info.epoch)?;
        let entropy = teacher_entropy(
            &teacher,
            &self.center,
            self.loss.teacher_temp_at(info.epoch),
        );
        let new_center = match self.collectives.as_deref().filter(|c| c.world_size() > 1) {
            Some(c) => {
                // Σ over this rank's teacher rows and their count, summed over ranks at once.
                let all = Tensor::cat(&teacher, 0).detach();
                let k = all.size()[1];
                let rows = Tensor::from_slice(&[all.size()[0] as f64]).to_kind(all.kind());
                let sums = Tensor::cat(&[all.sum_dim_intlist(0, false, all.kind()), rows], 0);
                c.all_reduce(&sums, Reduction::Sum)?;
                let n = sums.double_value(&[k]);
                let batch_center = sums.narrow(0, 0, k).view([1, k]) / n;
                self.loss
                    .center_from_batch_mean(&batch_center, &self.center)
            }
            None => self.loss.updated_center(&teacher, &self.center),
        };
        tch::no_grad(|| {
            self.center.copy_(&new_center);
        });
        let out = StepOutput::new(
            loss,
            vec![
                ("teacher_temp".into(), self.loss.teacher_temp_at(info.epoch)),
                (
                    "momentum".into(),
                    cosine_momentum(
                        info.step,
                        info.total_steps,
                        self.cfg.momentum_start,
                        self.cfg.momentum_end,
                    ),
                ),
                ("embedding_std".into(), embedding_std(&student[0])),
                ("teacher_entropy".into(), entropy),
            ],
        );
        Ok(match &h0 {
            Some(h) => out.with_features(h),
            None => out,
        })
    }

    fn after_optimizer_step(&mut self, info: &StepInfo) -> Result<()> {
        let m = cosine_momentum(
            info.step,
            info.total_steps,
            self.cfg.momentum_start,
            self.cfg.momentum_end,
        );
        ema_update(&self.vs, "teacher.backbone", "backbone", m)?;
        ema_update(&self.vs, "teacher.head", "head", m)?;
        Ok(())
    }

    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        embed_with(self.backbone.as_ref(), x)
    }

    fn data_parallel(&self) -> DataParallel {
        DataParallel::PerSampleMean
    }

    fn set_collectives(&mut self, collectives: Arc<dyn Collectives>) {
        self.collectives = Some(collectives);
    }

    fn embed_dim(&self) -> i64 {
        self.backbone.output_dim()
    }
}
