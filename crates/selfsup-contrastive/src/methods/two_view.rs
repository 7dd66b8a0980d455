//! Two-view methods with one network (backbone + projection head) and a symmetric objective:
//! SimCLR (NT-Xent), SupCon, DCL/DCLW, Barlow Twins and VICReg. Both views go through the same
//! network in separate forward passes (so BN statistics are per view, as in lightly's examples).
//!
//! Heads (lightly's defaults): SimCLR/SupCon/DCL `d-2048-128` with BN on the hidden layer;
//! Barlow Twins and VICReg `d-8192-8192-8192` with BN on the hidden layers (SimCLR, Barlow Twins
//! and VICReg: `batch_norm = false` drops it).
//!
//! Data parallelism ([`selfsup_nn::DataParallel::Global`]): the projections of both views (and
//! SupCon's labels) are gathered over the ranks, this rank's rows with gradient, and every rank
//! evaluates the objective of the global batch: NT-Xent/DCL/SupCon with the negatives of all ranks,
//! Barlow Twins' cross-correlation and VICReg's variance/covariance over the global batch. The
//! logged `pos_cos` and `embedding_std` are the global batch's too.

use super::{embed_with, embedding_std, pos_int, view, Net};
use crate::losses::{BarlowTwinsLoss, DclLoss, NtXentLoss, SupConLoss, VicRegLoss};
use selfsup_core::check;
use selfsup_nn::collectives::{gather, gather_with_grad};
use selfsup_nn::{
    BackboneConfig, Batch, Collectives, DataParallel, Method, Result, StepInfo, StepOutput,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tch::nn::VarStore;
use tch::Tensor;

macro_rules! head_fields_validate {
    ($s:expr) => {{
        pos_int("method.hidden_dim", $s.hidden_dim)?;
        pos_int("method.output_dim", $s.output_dim)?;
    }};
}

/// SimCLR hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimClrConfig {
    /// NT-Xent temperature (lightly: 0.5).
    pub temperature: f64,
    /// Projection hidden width.
    pub hidden_dim: i64,
    /// Projection output width.
    pub output_dim: i64,
    /// BN on the projection's hidden layer.
    pub batch_norm: bool,
}

impl Default for SimClrConfig {
    fn default() -> Self {
        SimClrConfig {
            temperature: 0.5,
            hidden_dim: 2048,
            output_dim: 128,
            batch_norm: true,
        }
    }
}

impl SimClrConfig {
    /// Temperature > 0, widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::positive("method.temperature", self.temperature)?;
        head_fields_validate!(self);
        Ok(())
    }
}

/// SupCon hyper-parameters (same head as SimCLR).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupConConfig {
    /// Temperature (0.1).
    pub temperature: f64,
    /// Projection hidden width.
    pub hidden_dim: i64,
    /// Projection output width.
    pub output_dim: i64,
}

impl Default for SupConConfig {
    fn default() -> Self {
        SupConConfig {
            temperature: 0.1,
            hidden_dim: 2048,
            output_dim: 128,
        }
    }
}

impl SupConConfig {
    /// Temperature > 0, widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::positive("method.temperature", self.temperature)?;
        head_fields_validate!(self);
        Ok(())
    }
}

/// DCL / DCLW hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DclConfig {
    /// Temperature (0.1).
    pub temperature: f64,
    /// `σ` of DCLW's weighting (0.5); `null`/absent for plain DCL.
    pub sigma: Option<f64>,
    /// Projection hidden width.
    pub hidden_dim: i64,
    /// Projection output width.
    pub output_dim: i64,
}

impl Default for DclConfig {
    fn default() -> Self {
        DclConfig {
            temperature: 0.1,
            sigma: None,
            hidden_dim: 2048,
            output_dim: 128,
        }
    }
}

impl DclConfig {
    /// Temperature and σ > 0, widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::positive("method.temperature", self.temperature)?;
        if let Some(s) = self.sigma {
            check::positive("method.sigma", s)?;
        }
        head_fields_validate!(self);
        Ok(())
    }
}

/// Barlow Twins hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BarlowTwinsConfig {
    /// Off-diagonal weight λ (5e-3).
    pub lambda: f64,
    /// Projection hidden width (8192).
    pub hidden_dim: i64,
    /// Projection output width (8192).
    pub output_dim: i64,
    /// BN on the projection's hidden layers (true).
    pub batch_norm: bool,
}

impl Default for BarlowTwinsConfig {
    fn default() -> Self {
        BarlowTwinsConfig {
            lambda: 5e-3,
            hidden_dim: 8192,
            output_dim: 8192,
            batch_norm: true,
        }
    }
}

impl BarlowTwinsConfig {
    /// λ ≥ 0, widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::non_negative("method.lambda", self.lambda)?;
        head_fields_validate!(self);
        Ok(())
    }
}

/// VICReg hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VicRegConfig {
    /// Invariance weight (25).
    pub lambda: f64,
    /// Variance weight (25).
    pub mu: f64,
    /// Covariance weight (1).
    pub nu: f64,
    /// ε of the variance term (1e-4).
    pub eps: f64,
    /// Projection hidden width (8192).
    pub hidden_dim: i64,
    /// Projection output width (8192).
    pub output_dim: i64,
    /// BN on the projection's hidden layers (true).
    pub batch_norm: bool,
}

impl Default for VicRegConfig {
    fn default() -> Self {
        VicRegConfig {
            lambda: 25.0,
            mu: 25.0,
            nu: 1.0,
            eps: 1e-4,
            hidden_dim: 8192,
            output_dim: 8192,
            batch_norm: true,
        }
    }
}

impl VicRegConfig {
    /// Weights ≥ 0, ε > 0, widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::non_negative("method.lambda", self.lambda)?;
        check::non_negative("method.mu", self.mu)?;
        check::non_negative("method.nu", self.nu)?;
        check::positive("method.eps", self.eps)?;
        head_fields_validate!(self);
        Ok(())
    }
}

#[derive(Debug)]
enum Objective {
    NtXent(NtXentLoss),
    SupCon(SupConLoss),
    Dcl(DclLoss),
    Barlow(BarlowTwinsLoss),
    VicReg(VicRegLoss),
}

/// A two-view method; see the module documentation.
#[derive(Debug)]
pub struct TwoView {
    name: &'static str,
    vs: VarStore,
    net: Net,
    objective: Objective,
    collectives: Option<Arc<dyn Collectives>>,
}

impl TwoView {
    fn build(
        name: &'static str,
        vs: VarStore,
        backbone: &BackboneConfig,
        in_channels: i64,
        head: &[i64],
        batch_norm: bool,
        objective: Objective,
    ) -> Result<Self> {
        let net = Net::build(&vs.root(), backbone, in_channels, head, batch_norm, false)?;
        Ok(TwoView {
            name,
            vs,
            net,
            objective,
            collectives: None,
        })
    }

    /// SimCLR.
    pub fn simclr(vs: VarStore, c: &SimClrConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let net = Net::build(
            &vs.root(),
            b,
            in_ch,
            &[c.hidden_dim, c.output_dim],
            c.batch_norm,
            false,
        )?;
        Ok(TwoView {
            name: "simclr",
            vs,
            net,
            objective: Objective::NtXent(NtXentLoss::new(c.temperature)?),
            collectives: None,
        })
    }

    /// SupCon.
    pub fn supcon(vs: VarStore, c: &SupConConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let o = Objective::SupCon(SupConLoss::new(c.temperature)?);
        Self::build(
            "supcon",
            vs,
            b,
            in_ch,
            &[c.hidden_dim, c.output_dim],
            true,
            o,
        )
    }

    /// DCL / DCLW.
    pub fn dcl(vs: VarStore, c: &DclConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let loss = match c.sigma {
            Some(s) => DclLoss::dclw(c.temperature, s)?,
            None => DclLoss::dcl(c.temperature)?,
        };
        Self::build(
            "dcl",
            vs,
            b,
            in_ch,
            &[c.hidden_dim, c.output_dim],
            true,
            Objective::Dcl(loss),
        )
    }

    /// Barlow Twins.
    pub fn barlow_twins(
        vs: VarStore,
        c: &BarlowTwinsConfig,
        b: &BackboneConfig,
        in_ch: i64,
    ) -> Result<Self> {
        c.validate()?;
        let o = Objective::Barlow(BarlowTwinsLoss::new(c.lambda)?);
        Self::build(
            "barlow_twins",
            vs,
            b,
            in_ch,
            &[c.hidden_dim, c.hidden_dim, c.output_dim],
            c.batch_norm,
            o,
        )
    }

    /// VICReg.
    pub fn vicreg(vs: VarStore, c: &VicRegConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let o = Objective::VicReg(VicRegLoss::new(c.lambda, c.mu, c.nu, c.eps)?);
        Self::build(
            "vicreg",
            vs,
            b,
            in_ch,
            &[c.hidden_dim, c.hidden_dim, c.output_dim],
            c.batch_norm,
            o,
        )
    }
}

impl Method for TwoView {
    fn name(&self) -> &str {
        self.name
    }

    fn var_store(&self) -> &VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> Result<StepOutput> {
        let x0 = view(batch, 0, self.name, 2)?;
        let x1 = view(batch, 1, self.name, 2)?;
        let (h0, z0) = self.net.forward(x0, true);
        let (_, z1) = self.net.forward(x1, true);
        // Data parallelism: the global batch's rows, this rank's with gradient (identity alone).
        let c = self.collectives.as_deref();
        let (z0, z1) = (gather_with_grad(c, &z0)?, gather_with_grad(c, &z1)?);
        let labels = match &batch.labels {
            Some(y) => Some(gather(c, y)?),
            None => None,
        };
        let loss = match &self.objective {
            Objective::NtXent(l) => l.forward(&z0, &z1)?,
            Objective::SupCon(l) => l.forward(&z0, &z1, labels.as_ref())?,
            Objective::Dcl(l) => l.forward(&z0, &z1)?,
            Objective::Barlow(l) => l.forward(&z0, &z1)?,
            Objective::VicReg(l) => l.forward(&z0, &z1)?,
        };
        let pos_cos = tch::no_grad(|| {
            Tensor::cosine_similarity(&z0, &z1, 1, 1e-8)
                .mean(z0.kind())
                .double_value(&[])
        });
        Ok(StepOutput::new(
            loss,
            vec![
                ("pos_cos".into(), pos_cos),
                ("embedding_std".into(), embedding_std(&z0)),
            ],
        )
        .with_features(&h0))
    }

    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        embed_with(self.net.backbone.as_ref(), x)
    }

    fn data_parallel(&self) -> DataParallel {
        DataParallel::Global
    }

    fn set_collectives(&mut self, collectives: Arc<dyn Collectives>) {
        self.collectives = Some(collectives);
    }

    fn embed_dim(&self) -> i64 {
        self.net.backbone.output_dim()
    }
}
