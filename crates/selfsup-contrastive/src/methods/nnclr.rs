//! NNCLR (Dwibedi et al., 2021): each view's projection is replaced by its nearest neighbour in a
//! support set (a FIFO [`crate::MemoryBank`] of past projections), and NT-Xent pulls that neighbour
//! towards the other view's prediction: `½(NTXent(NN(z0), p1) + NTXent(NN(z1), p0))`. Both views look
//! up the support set as it was before the batch; then the projections `z1` are enqueued (as lightly's
//! NNCLR: `NNMemoryBankModule` with `update=False` on view 0, `update=True` on view 1). The support set
//! starts full of random unit vectors, as lightly's memory bank does.
//! Heads: projection `d-2048-2048-256` (BN everywhere, last BN), prediction `256-4096-256` (BN hidden),
//! `τ = 0.1`, support set 98 304 (the paper's).
//!
//! Data parallelism ([`selfsup_nn::DataParallel::Global`]): predictions and neighbours are gathered
//! over the ranks, NT-Xent runs over the global batch, and the gathered projections are enqueued
//! in rank order (every rank's support set stays what one process with the global batch holds).

use super::{embed_with, embedding_std, pos_int, view, Net};
use crate::losses::{nearest_neighbours, NtXentLoss};
use crate::MemoryBank;
use selfsup_core::check;
use selfsup_nn::collectives::{gather, gather_with_grad};
use selfsup_nn::heads::ProjectionHead;
use selfsup_nn::{
    BackboneConfig, Batch, Collectives, DataParallel, Method, Result, StepInfo, StepOutput,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tch::nn::{ModuleT, VarStore};
use tch::Tensor;

/// NNCLR hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NnclrConfig {
    /// NT-Xent temperature (0.1).
    pub temperature: f64,
    /// Support-set size (98304).
    pub memory_bank_size: i64,
    /// Projection hidden width (2048).
    pub hidden_dim: i64,
    /// Projection output width (256).
    pub output_dim: i64,
    /// Predictor hidden width (4096).
    pub predictor_hidden_dim: i64,
}

impl Default for NnclrConfig {
    fn default() -> Self {
        NnclrConfig {
            temperature: 0.1,
            memory_bank_size: 98304,
            hidden_dim: 2048,
            output_dim: 256,
            predictor_hidden_dim: 4096,
        }
    }
}

impl NnclrConfig {
    /// Temperature > 0, sizes ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::positive("method.temperature", self.temperature)?;
        pos_int("method.memory_bank_size", self.memory_bank_size)?;
        pos_int("method.hidden_dim", self.hidden_dim)?;
        pos_int("method.output_dim", self.output_dim)?;
        pos_int("method.predictor_hidden_dim", self.predictor_hidden_dim)
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Nnclr {
    vs: VarStore,
    net: Net,
    predictor: ProjectionHead,
    support: MemoryBank,
    loss: NtXentLoss,
    collectives: Option<Arc<dyn Collectives>>,
}

impl Nnclr {
    /// Builds NNCLR.
    pub fn new(vs: VarStore, c: &NnclrConfig, b: &BackboneConfig, in_ch: i64) -> Result<Self> {
        c.validate()?;
        let root = vs.root();
        let net = Net::build(
            &root,
            b,
            in_ch,
            &[c.hidden_dim, c.hidden_dim, c.output_dim],
            true,
            true,
        )?;
        let predictor = ProjectionHead::new(
            &(&root / "prediction_head"),
            &[c.output_dim, c.predictor_hidden_dim, c.output_dim],
            true,
            false,
        )?;
        let support = MemoryBank::new(
            &(&root / "support_set"),
            c.memory_bank_size,
            c.output_dim,
            true,
        )?;
        let loss = NtXentLoss::new(c.temperature)?;
        Ok(Nnclr {
            vs,
            net,
            predictor,
            support,
            loss,
            collectives: None,
        })
    }
}

impl Method for Nnclr {
    fn name(&self) -> &str {
        "nnclr"
    }

    fn var_store(&self) -> &VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }

    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> Result<StepOutput> {
        let x0 = view(batch, 0, "nnclr", 2)?;
        let x1 = view(batch, 1, "nnclr", 2)?;
        let (h0, z0) = self.net.forward(x0, true);
        let (_, z1) = self.net.forward(x1, true);
        let p0 = self.predictor.forward_t(&z0, true);
        let p1 = self.predictor.forward_t(&z1, true);
        let support = self.support.contents();
        let nn0 = nearest_neighbours(&z0, &support)?;
        let nn1 = nearest_neighbours(&z1, &support)?;
        // Data parallelism: the global batch's rows (predictions with gradient on this rank's
        // rows; neighbours and the enqueued projections detached), in rank order.
        let c = self.collectives.as_deref();
        let (p0, p1) = (gather_with_grad(c, &p0)?, gather_with_grad(c, &p1)?);
        let (nn0, nn1) = (gather_with_grad(c, &nn0)?, gather_with_grad(c, &nn1)?);
        let loss = (self.loss.forward(&nn0, &p1)? + self.loss.forward(&nn1, &p0)?) * 0.5;
        self.support.enqueue(&gather(c, &z1)?)?;
        let z0 = gather(c, &z0)?;
        Ok(
            StepOutput::new(loss, vec![("embedding_std".into(), embedding_std(&z0))])
                .with_features(&h0),
        )
    }

    fn data_parallel(&self) -> DataParallel {
        DataParallel::Global
    }

    fn set_collectives(&mut self, collectives: Arc<dyn Collectives>) {
        self.collectives = Some(collectives);
    }

    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        embed_with(self.net.backbone.as_ref(), x)
    }

    fn embed_dim(&self) -> i64 {
        self.net.backbone.output_dim()
    }
}
