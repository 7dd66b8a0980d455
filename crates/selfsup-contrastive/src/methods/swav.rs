//! SwAV (Caron et al., 2020): projections are L2-normalised and scored against learnable prototypes
//! (`prototypes.weight`, `K×D`, rows re-normalised to unit length before every step, as lightly's
//! `SwaVPrototypes.normalize()`); the codes of each high-resolution view come from Sinkhorn-Knopp and are
//! predicted from every other view ([`crate::losses::SwavLoss`]). The prototypes get no gradient during
//! the first `freeze_prototypes_epochs` epochs (the paper freezes them for the first epoch).
//! Head `d-2048-128` with BN, 3000 prototypes, `τ = 0.1`, 3 Sinkhorn iterations, `ε = 0.05`.
//!
//! **Queue** (`queue_length > 0`, for small batches, as in the paper's §4.3 and lightly's example): one
//! FIFO of past normalised projections per high-resolution view (`queue.{i}.bank`, in the VarStore so
//! checkpoints carry it). From epoch `start_queue_at_epoch` on, once a queue is full, its rows are
//! scored against the current prototypes (no gradient) and appended to that view's scores before
//! Sinkhorn, so the equal-partition constraint spans `N + Q` samples; only the batch's own codes are
//! used in the loss. Every step then enqueues the batch's detached projections.
//!
//! **Data parallelism** ([`DataParallel::PerSampleMean`]): Sinkhorn runs over the columns of every
//! rank ([`crate::losses::swav::sinkhorn_across`], the reference's `distributed_sinkhorn`: `ΣQ` and
//! the row sums all-reduced); the queues are fed every rank's projections in rank order (so every
//! rank holds the single process's queue) and enter Sinkhorn once (on rank 0). The loss is then a
//! mean of per-sample terms, and the trainer averages the ranks' gradients: W ranks × B compute
//! one process × W·B (with `train.sync_batch_norm` for the head's BatchNorm).

use super::{embed_with, embedding_std, pos_int, view, Net};
use crate::losses::{normalize, SwavLoss};
use crate::MemoryBank;
use selfsup_core::check;
use selfsup_nn::{
    BackboneConfig, Batch, Collectives, DataParallel, Method, Result, StepInfo, StepOutput,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tch::nn::{self, VarStore};
use tch::Tensor;

/// SwAV hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwavConfig {
    /// Number of prototypes (3000).
    pub n_prototypes: i64,
    /// Projection hidden width (2048).
    pub hidden_dim: i64,
    /// Projection output width (128).
    pub output_dim: i64,
    /// Softmax temperature (0.1).
    pub temperature: f64,
    /// Sinkhorn iterations (3).
    pub sinkhorn_iterations: usize,
    /// Sinkhorn ε (0.05).
    pub sinkhorn_epsilon: f64,
    /// Number of high-resolution views (2).
    pub n_high_res_views: usize,
    /// Epochs with frozen prototypes (1).
    pub freeze_prototypes_epochs: u64,
    /// Rows of the feature queue per high-resolution view (0 = no queue; the paper uses 3840 for
    /// batches of 256).
    pub queue_length: i64,
    /// First epoch whose Sinkhorn step uses the (full) queue (15 in the paper).
    pub start_queue_at_epoch: u64,
}

impl Default for SwavConfig {
    fn default() -> Self {
        SwavConfig {
            n_prototypes: 3000,
            hidden_dim: 2048,
            output_dim: 128,
            temperature: 0.1,
            sinkhorn_iterations: 3,
            sinkhorn_epsilon: 0.05,
            n_high_res_views: 2,
            freeze_prototypes_epochs: 1,
            queue_length: 0,
            start_queue_at_epoch: 15,
        }
    }
}

impl SwavConfig {
    /// Sizes ≥ 1, temperature and ε > 0.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        pos_int("method.n_prototypes", self.n_prototypes)?;
        pos_int("method.hidden_dim", self.hidden_dim)?;
        pos_int("method.output_dim", self.output_dim)?;
        check::positive("method.temperature", self.temperature)?;
        check::positive("method.sinkhorn_epsilon", self.sinkhorn_epsilon)?;
        if self.queue_length < 0 {
            return Err(selfsup_core::Error::config(
                "method.queue_length",
                format!("must be >= 0 (0 = no queue), got {}", self.queue_length),
            ));
        }
        check::at_least("method.n_high_res_views", self.n_high_res_views, 1)
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Swav {
    vs: VarStore,
    net: Net,
    prototypes: Tensor,
    queues: Vec<MemoryBank>,
    loss: SwavLoss,
    cfg: SwavConfig,
    collectives: Option<Arc<dyn Collectives>>,
}

impl Swav {
    /// The feature queues (one per high-resolution view; empty without a queue).
    pub fn queues(&self) -> &[MemoryBank] {
        &self.queues
    }
}

impl Swav {
    /// Builds SwAV.
    pub fn new(vs: VarStore, c: &SwavConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let root = vs.root();
        let net = Net::build(&root, b, in_ch, &[c.hidden_dim, c.output_dim], true, false)?;
        let prototypes = (&root / "prototypes").var(
            "weight",
            &[c.n_prototypes, c.output_dim],
            nn::Init::Kaiming {
                dist: nn::init::NormalOrUniform::Uniform,
                fan: nn::init::FanInOut::FanIn,
                non_linearity: nn::init::NonLinearity::ExplicitGain(1.0 / 3f64.sqrt()),
            },
        );
        let loss = SwavLoss {
            temperature: c.temperature,
            sinkhorn_iterations: c.sinkhorn_iterations,
            sinkhorn_epsilon: c.sinkhorn_epsilon,
        };
        loss.validate()?;
        let queues = if c.queue_length > 0 {
            (0..c.n_high_res_views)
                .map(|i| {
                    MemoryBank::new(&(&root / "queue" / i), c.queue_length, c.output_dim, false)
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        Ok(Swav {
            vs,
            net,
            prototypes,
            queues,
            loss,
            cfg: c.clone(),
            collectives: None,
        })
    }
}

impl Method for Swav {
    fn name(&self) -> &str {
        "swav"
    }

    fn var_store(&self) -> &VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn step(&mut self, batch: &Batch, info: &StepInfo) -> Result<StepOutput> {
        let nh = self.cfg.n_high_res_views;
        view(batch, 0, "swav", nh.max(2))?;
        tch::no_grad(|| {
            let unit = normalize(&self.prototypes);
            self.prototypes.copy_(&unit);
        });
        let protos = if info.epoch < self.cfg.freeze_prototypes_epochs {
            self.prototypes.detach()
        } else {
            self.prototypes.shallow_clone()
        };
        let mut zs = Vec::new();
        let mut h0 = None;
        let scores: Vec<Tensor> = batch
            .views
            .iter()
            .map(|x| {
                let (h, z) = self.net.forward(x, true);
                h0.get_or_insert(h);
                let z = normalize(&z);
                let s = z.mm(&protos.tr());
                zs.push(z);
                s
            })
            .collect();
        let use_queue = !self.queues.is_empty()
            && info.epoch >= self.cfg.start_queue_at_epoch
            && self.queues.iter().all(|q| q.len() == q.size());
        let queue_scores: Option<Vec<Tensor>> = use_queue.then(|| {
            tch::no_grad(|| {
                self.queues
                    .iter()
                    .map(|q| q.contents().to_kind(protos.kind()).mm(&protos.tr()))
                    .collect()
            })
        });
        let c = self.collectives.as_deref().filter(|c| c.world_size() > 1);
        let loss =
            self.loss
                .forward_across(&scores[..nh], &scores[nh..], queue_scores.as_deref(), c)?;
        for (q, z) in self.queues.iter_mut().zip(&zs) {
            match c {
                Some(c) => q.enqueue(&c.all_gather(&z.detach())?)?,
                None => q.enqueue(&z.detach())?,
            }
        }
        let out = StepOutput::new(
            loss,
            vec![
                ("embedding_std".into(), embedding_std(&zs[0])),
                ("queue_used".into(), if use_queue { 1.0 } else { 0.0 }),
            ],
        );
        Ok(match &h0 {
            Some(h) => out.with_features(h),
            None => out,
        })
    }

    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        embed_with(self.net.backbone.as_ref(), x)
    }

    fn data_parallel(&self) -> DataParallel {
        DataParallel::PerSampleMean
    }

    fn set_collectives(&mut self, collectives: Arc<dyn Collectives>) {
        self.collectives = Some(collectives);
    }

    fn embed_dim(&self) -> i64 {
        self.net.backbone.output_dim()
    }
}
