//! SwAV (Caron et al., 2020): projections are L2-normalised and scored against learnable prototypes
//! (`prototypes.weight`, `K×D`, rows re-normalised to unit length before every step, as lightly's
//! `SwaVPrototypes.normalize()`); the codes of each high-resolution view come from Sinkhorn-Knopp and are
//! predicted from every other view ([`crate::losses::SwavLoss`]). The prototypes get no gradient during
//! the first `freeze_prototypes_epochs` epochs (the paper freezes them for the first epoch).
//! Head `d-2048-128` with BN, 3000 prototypes, `τ = 0.1`, 3 Sinkhorn iterations, `ε = 0.05`.
//! The optional SwAV feature queue is not implemented (small-batch training uses it; see the report).

use super::{embed_with, embedding_std, pos_int, view, Net};
use crate::losses::{normalize, SwavLoss};
use selfsup_core::check;
use selfsup_nn::{BackboneConfig, Batch, Method, Result, StepInfo, StepOutput};
use serde::{Deserialize, Serialize};
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
        check::at_least("method.n_high_res_views", self.n_high_res_views, 1)
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Swav {
    vs: VarStore,
    net: Net,
    prototypes: Tensor,
    loss: SwavLoss,
    cfg: SwavConfig,
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
        Ok(Swav {
            vs,
            net,
            prototypes,
            loss,
            cfg: c.clone(),
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
        let scores: Vec<Tensor> = batch
            .views
            .iter()
            .map(|x| {
                let z = normalize(&self.net.forward(x, true).1);
                let s = z.mm(&protos.tr());
                zs.push(z);
                s
            })
            .collect();
        let loss = self.loss.forward(&scores[..nh], &scores[nh..], None)?;
        Ok(StepOutput {
            loss,
            scalars: vec![("embedding_std".into(), embedding_std(&zs[0]))],
        })
    }

    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        embed_with(self.net.backbone.as_ref(), x)
    }

    fn embed_dim(&self) -> i64 {
        self.net.backbone.output_dim()
    }
}
