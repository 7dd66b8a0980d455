//! Methods with a predictor and/or a momentum (EMA) target network: MoCo v2, MoCo v3, BYOL, SimSiam.
//!
//! - **MoCo v2**: query `q = proj(x0)`, key `k = proj_m(x1)` from the momentum network (no gradient);
//!   NT-Xent with the queue's contents as negatives ([`crate::NtXentLoss::forward_with_negatives`]),
//!   then the normalised keys are enqueued (FIFO, 65 536 random unit vectors at start as in MoCo's
//!   code). Head `d-2048-128` without BN, `τ = 0.2`, constant momentum 0.999.
//! - **MoCo v3**: predictor on the online side; `ctr(q1, k2) + ctr(q2, k1)` with
//!   `ctr(q, k) = 2τ·CE(q̂ k̂ᵀ/τ, i)` (in-batch negatives only), heads `d-4096-256` (BN, last BN) and
//!   `256-4096-256` (BN, last BN), momentum cosine 0.99 → 1, `τ = 0.2`.
//! - **BYOL**: `½(D(p0, sg(t1)) + D(p1, sg(t0)))` with negative cosine `D`, target projections `t` from
//!   the momentum network, heads `d-4096-256` and `256-4096-256` with BN, momentum cosine 0.996 → 1.
//! - **SimSiam**: as BYOL but the targets are the online projections with stop-gradient (no momentum
//!   network); heads `d-2048-2048-2048` (BN, last BN) and `2048-512-2048` (BN).
//!
//! Data parallelism ([`selfsup_nn::DataParallel::Global`]): queries/predictions are gathered over
//! the ranks with gradient and keys/targets detached, so every rank evaluates the global batch's
//! objective (MoCo v3's in-batch negatives are all ranks' keys); MoCo v2 enqueues the gathered
//! keys in rank order, so every rank's queue stays what one process with the global batch holds.
//! The momentum networks stay equal on every rank (equal weights, equal updates).
//!
//! Each is its own type ([`MocoV2`], [`MocoV3`], [`Byol`], [`SimSiam`]) over the shared
//! [`MomentumNet`]. The momentum network lives under `momentum.backbone.*` /
//! `momentum.projection_head.*` as non-trainable variables, initialised as a copy of the online network and updated by
//! [`selfsup_nn::ema_update`] after every optimizer step with the momentum of that step
//! ([`selfsup_nn::cosine_momentum`] over the run's steps).

use super::{embed_with, embedding_std, pos_int, view, Net};
use crate::losses::{arange, cross_entropy, normalize, NegativeCosineSimilarity, NtXentLoss};
use crate::MemoryBank;
use selfsup_core::check;
use selfsup_nn::collectives::{gather, gather_with_grad};
use selfsup_nn::heads::ProjectionHead;
use selfsup_nn::{
    build_frozen, copy_prefix, cosine_momentum, ema_update, BackboneConfig, Batch, Collectives,
    DataParallel, Method, Result, StepInfo, StepOutput,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tch::nn::{ModuleT, VarStore};
use tch::Tensor;

/// MoCo v2 hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MocoV2Config {
    /// Temperature (0.2).
    pub temperature: f64,
    /// Queue length (65536).
    pub memory_bank_size: i64,
    /// EMA momentum (0.999).
    pub momentum: f64,
    /// Projection hidden width (2048).
    pub hidden_dim: i64,
    /// Projection output width (128).
    pub output_dim: i64,
}

impl Default for MocoV2Config {
    fn default() -> Self {
        MocoV2Config {
            temperature: 0.2,
            memory_bank_size: 65536,
            momentum: 0.999,
            hidden_dim: 2048,
            output_dim: 128,
        }
    }
}

impl MocoV2Config {
    /// Temperature > 0, momentum in [0, 1], sizes ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::positive("method.temperature", self.temperature)?;
        check::probability("method.momentum", self.momentum)?;
        pos_int("method.memory_bank_size", self.memory_bank_size)?;
        pos_int("method.hidden_dim", self.hidden_dim)?;
        pos_int("method.output_dim", self.output_dim)
    }
}

/// MoCo v3 hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MocoV3Config {
    /// Temperature (0.2).
    pub temperature: f64,
    /// Momentum at step 0 (0.99).
    pub momentum_start: f64,
    /// Momentum at the last step (1.0).
    pub momentum_end: f64,
    /// Hidden width of projection and prediction heads (4096).
    pub hidden_dim: i64,
    /// Output width (256).
    pub output_dim: i64,
}

impl Default for MocoV3Config {
    fn default() -> Self {
        MocoV3Config {
            temperature: 0.2,
            momentum_start: 0.99,
            momentum_end: 1.0,
            hidden_dim: 4096,
            output_dim: 256,
        }
    }
}

impl MocoV3Config {
    /// Temperature > 0, momenta in [0, 1], widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::positive("method.temperature", self.temperature)?;
        check::probability("method.momentum_start", self.momentum_start)?;
        check::probability("method.momentum_end", self.momentum_end)?;
        pos_int("method.hidden_dim", self.hidden_dim)?;
        pos_int("method.output_dim", self.output_dim)
    }
}

/// BYOL hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ByolConfig {
    /// Momentum at step 0 (0.996).
    pub momentum_start: f64,
    /// Momentum at the last step (1.0).
    pub momentum_end: f64,
    /// Hidden width of projection and prediction heads (4096).
    pub hidden_dim: i64,
    /// Output width (256).
    pub output_dim: i64,
}

impl Default for ByolConfig {
    fn default() -> Self {
        ByolConfig {
            momentum_start: 0.996,
            momentum_end: 1.0,
            hidden_dim: 4096,
            output_dim: 256,
        }
    }
}

impl ByolConfig {
    /// Momenta in [0, 1], widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::probability("method.momentum_start", self.momentum_start)?;
        check::probability("method.momentum_end", self.momentum_end)?;
        pos_int("method.hidden_dim", self.hidden_dim)?;
        pos_int("method.output_dim", self.output_dim)
    }
}

/// SimSiam hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSiamConfig {
    /// Projection hidden and output width (2048).
    pub output_dim: i64,
    /// Predictor bottleneck width (512).
    pub predictor_hidden_dim: i64,
}

impl Default for SimSiamConfig {
    fn default() -> Self {
        SimSiamConfig {
            output_dim: 2048,
            predictor_hidden_dim: 512,
        }
    }
}

impl SimSiamConfig {
    /// Widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        pos_int("method.output_dim", self.output_dim)?;
        pos_int("method.predictor_hidden_dim", self.predictor_hidden_dim)
    }
}

/// What MoCo v2, MoCo v3, BYOL and SimSiam share: the online network (backbone + projection head
/// under `backbone.*` / `projection_head.*`), an optional prediction head (`prediction_head.*`) and,
/// with a momentum schedule, the momentum copy of the online network (`momentum.*`, non-trainable,
/// initialised as a copy and updated by EMA after every optimizer step with
/// [`selfsup_nn::cosine_momentum`] from `start` to `end` over the run).
#[derive(Debug)]
pub struct MomentumNet {
    vs: VarStore,
    online: Net,
    predictor: Option<ProjectionHead>,
    target: Option<Net>,
    momentum: (f64, f64),
    collectives: Option<Arc<dyn Collectives>>,
}

impl MomentumNet {
    /// Builds the networks in `vs`: projection `head = (widths after the backbone, hidden BN, last
    /// BN)`, `predictor = (widths after the projection, last BN)` (hidden BN always), and a momentum
    /// network when `momentum = Some((start, end))`.
    pub fn build(
        vs: VarStore,
        b: &BackboneConfig,
        in_ch: i64,
        head: (&[i64], bool, bool),
        predictor: Option<(&[i64], bool)>,
        momentum: Option<(f64, f64)>,
    ) -> Result<Self> {
        let root = vs.root();
        let online = Net::build(&root, b, in_ch, head.0, head.1, head.2)?;
        let predictor = match predictor {
            Some((dims, last_bn)) => {
                let mut d = vec![online.projection.output_dim()];
                d.extend_from_slice(dims);
                Some(ProjectionHead::new(
                    &(&root / "prediction_head"),
                    &d,
                    true,
                    last_bn,
                )?)
            }
            None => None,
        };
        let target = match momentum {
            Some(_) => {
                let t = build_frozen(&(&root / "momentum"), |p| {
                    Net::build(p, b, in_ch, head.0, head.1, head.2)
                })?;
                copy_prefix(&vs, "backbone", "momentum.backbone")?;
                copy_prefix(&vs, "projection_head", "momentum.projection_head")?;
                Some(t)
            }
            None => None,
        };
        Ok(MomentumNet {
            vs,
            online,
            predictor,
            target,
            momentum: momentum.unwrap_or((1.0, 1.0)),
            collectives: None,
        })
    }

    /// Backbone features and projections of the online network (training mode).
    pub fn online(&self, x: &Tensor) -> (Tensor, Tensor) {
        self.online.forward(x, true)
    }

    /// The momentum network's projections of `x` without gradient (the online network's, detached,
    /// when there is no momentum network).
    pub fn target_z(&self, x: &Tensor) -> Tensor {
        tch::no_grad(|| match &self.target {
            Some(t) => t.forward(x, true).1,
            None => self.online.forward(x, true).1,
        })
        .detach()
    }

    /// The prediction head applied to `z` (`z` itself without one).
    pub fn predict(&self, z: &Tensor) -> Tensor {
        match &self.predictor {
            Some(p) => p.forward_t(z, true),
            None => z.shallow_clone(),
        }
    }

    /// The EMA momentum of step `info` (`None` without a momentum network).
    pub fn momentum_at(&self, info: &StepInfo) -> Option<f64> {
        self.target.as_ref().map(|_| {
            cosine_momentum(
                info.step,
                info.total_steps,
                self.momentum.0,
                self.momentum.1,
            )
        })
    }

    /// Moves the momentum network towards the online one with the momentum of step `info`.
    pub fn update_target(&self, info: &StepInfo) -> Result<()> {
        if let Some(m) = self.momentum_at(info) {
            ema_update(&self.vs, "momentum.backbone", "backbone", m)?;
            ema_update(&self.vs, "momentum.projection_head", "projection_head", m)?;
        }
        Ok(())
    }

    /// The step's output: `loss`, the collapse monitor of `monitored`, the momentum when there is a
    /// momentum network, and the detached features `h0` of view 0.
    fn output(&self, loss: Tensor, monitored: &Tensor, h0: &Tensor, info: &StepInfo) -> StepOutput {
        let mut scalars = vec![("embedding_std".to_string(), embedding_std(monitored))];
        if let Some(m) = self.momentum_at(info) {
            scalars.push(("momentum".into(), m));
        }
        StepOutput::new(loss, scalars).with_features(h0)
    }
}

/// The [`Method`] items every momentum method delegates to its [`MomentumNet`] in field `net`.
macro_rules! delegate_to_momentum_net {
    ($name:literal) => {
        fn name(&self) -> &str {
            $name
        }

        fn var_store(&self) -> &VarStore {
            &self.net.vs
        }

        fn var_store_mut(&mut self) -> &mut VarStore {
            &mut self.net.vs
        }

        fn after_optimizer_step(&mut self, info: &StepInfo) -> Result<()> {
            self.net.update_target(info)
        }

        fn embed(&self, x: &Tensor) -> Result<Tensor> {
            embed_with(self.net.online.backbone.as_ref(), x)
        }

        fn embed_dim(&self) -> i64 {
            self.net.online.backbone.output_dim()
        }

        fn data_parallel(&self) -> DataParallel {
            DataParallel::Global
        }

        fn set_collectives(&mut self, collectives: Arc<dyn Collectives>) {
            self.net.collectives = Some(collectives);
        }
    };
}

/// MoCo v2; see the module documentation.
#[derive(Debug)]
pub struct MocoV2 {
    net: MomentumNet,
    loss: NtXentLoss,
    queue: MemoryBank,
}

impl MocoV2 {
    /// MoCo v2 in `vs` (the queue under `queue.*`).
    pub fn new(vs: VarStore, c: &MocoV2Config, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let net = MomentumNet::build(
            vs,
            b,
            in_ch,
            (&[c.hidden_dim, c.output_dim], false, false),
            None,
            Some((c.momentum, c.momentum)),
        )?;
        let queue = MemoryBank::new(
            &(net.vs.root() / "queue"),
            c.memory_bank_size,
            c.output_dim,
            true,
        )?;
        Ok(MocoV2 {
            net,
            loss: NtXentLoss::new(c.temperature)?,
            queue,
        })
    }
}

impl Method for MocoV2 {
    delegate_to_momentum_net!("moco_v2");

    fn step(&mut self, batch: &Batch, info: &StepInfo) -> Result<StepOutput> {
        let x0 = view(batch, 0, "moco_v2", 2)?;
        let x1 = view(batch, 1, "moco_v2", 2)?;
        let (h0, q) = self.net.online(x0);
        let k = self.net.target_z(x1);
        let c = self.net.collectives.as_deref();
        let (q, k) = (gather_with_grad(c, &q)?, gather(c, &k)?);
        let loss = self
            .loss
            .forward_with_negatives(&q, &k, &self.queue.contents())?;
        self.queue.enqueue(&normalize(&k))?;
        Ok(self.net.output(loss, &q, &h0, info))
    }
}

/// MoCo v3; see the module documentation.
#[derive(Debug)]
pub struct MocoV3 {
    net: MomentumNet,
    temperature: f64,
}

impl MocoV3 {
    /// MoCo v3 in `vs`.
    pub fn new(vs: VarStore, c: &MocoV3Config, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let net = MomentumNet::build(
            vs,
            b,
            in_ch,
            (&[c.hidden_dim, c.output_dim], true, true),
            Some((&[c.hidden_dim, c.output_dim], true)),
            Some((c.momentum_start, c.momentum_end)),
        )?;
        Ok(MocoV3 {
            net,
            temperature: c.temperature,
        })
    }
}

fn moco_v3_ctr(q: &Tensor, k: &Tensor, t: f64) -> Tensor {
    let logits = normalize(q).mm(&normalize(k).tr()) / t;
    cross_entropy(&logits, &arange(q.size()[0], q)) * (2.0 * t)
}

impl Method for MocoV3 {
    delegate_to_momentum_net!("moco_v3");

    fn step(&mut self, batch: &Batch, info: &StepInfo) -> Result<StepOutput> {
        let x0 = view(batch, 0, "moco_v3", 2)?;
        let x1 = view(batch, 1, "moco_v3", 2)?;
        let (h0, z0) = self.net.online(x0);
        let (_, z1) = self.net.online(x1);
        let c = self.net.collectives.as_deref();
        let q0 = gather_with_grad(c, &self.net.predict(&z0))?;
        let q1 = gather_with_grad(c, &self.net.predict(&z1))?;
        let k0 = gather(c, &self.net.target_z(x0))?;
        let k1 = gather(c, &self.net.target_z(x1))?;
        let t = self.temperature;
        let loss = moco_v3_ctr(&q0, &k1, t) + moco_v3_ctr(&q1, &k0, t);
        Ok(self.net.output(loss, &q0, &h0, info))
    }
}

/// BYOL and SimSiam: `½(D(p0, sg(t1)) + D(p1, sg(t0)))` with the targets from the momentum network
/// (BYOL) or the online network with stop-gradient (SimSiam).
fn predictor_step(
    net: &MomentumNet,
    name: &str,
    batch: &Batch,
    info: &StepInfo,
) -> Result<StepOutput> {
    let x0 = view(batch, 0, name, 2)?;
    let x1 = view(batch, 1, name, 2)?;
    let (h0, z0) = net.online(x0);
    let (_, z1) = net.online(x1);
    let c = net.collectives.as_deref();
    let p0 = gather_with_grad(c, &net.predict(&z0))?;
    let p1 = gather_with_grad(c, &net.predict(&z1))?;
    let (t0, t1) = if net.target.is_some() {
        (net.target_z(x0), net.target_z(x1))
    } else {
        (z0.detach(), z1.detach())
    };
    let (t0, t1) = (gather(c, &t0)?, gather(c, &t1)?);
    let loss = NegativeCosineSimilarity.symmetric(&p0, &p1, &t0, &t1)?;
    Ok(net.output(loss, &gather(c, &z0)?, &h0, info))
}

/// BYOL; see the module documentation.
#[derive(Debug)]
pub struct Byol {
    net: MomentumNet,
}

impl Byol {
    /// BYOL in `vs`.
    pub fn new(vs: VarStore, c: &ByolConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let net = MomentumNet::build(
            vs,
            b,
            in_ch,
            (&[c.hidden_dim, c.output_dim], true, false),
            Some((&[c.hidden_dim, c.output_dim], false)),
            Some((c.momentum_start, c.momentum_end)),
        )?;
        Ok(Byol { net })
    }
}

impl Method for Byol {
    delegate_to_momentum_net!("byol");

    fn step(&mut self, batch: &Batch, info: &StepInfo) -> Result<StepOutput> {
        predictor_step(&self.net, "byol", batch, info)
    }
}

/// SimSiam; see the module documentation.
#[derive(Debug)]
pub struct SimSiam {
    net: MomentumNet,
}

impl SimSiam {
    /// SimSiam in `vs` (no momentum network).
    pub fn new(vs: VarStore, c: &SimSiamConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let net = MomentumNet::build(
            vs,
            b,
            in_ch,
            (&[c.output_dim, c.output_dim, c.output_dim], true, true),
            Some((&[c.predictor_hidden_dim, c.output_dim], false)),
            None,
        )?;
        Ok(SimSiam { net })
    }
}

impl Method for SimSiam {
    delegate_to_momentum_net!("simsiam");

    fn step(&mut self, batch: &Batch, info: &StepInfo) -> Result<StepOutput> {
        predictor_step(&self.net, "simsiam", batch, info)
    }
}
