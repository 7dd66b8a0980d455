//! NT-Xent / InfoNCE (SimCLR, MoCo).
//!
//! **In-batch** ([`NtXentLoss::forward`]): the `2N` normalised views `z = [ẑ0; ẑ1]`, similarities
//! `s = z zᵀ / τ`; the anchor `i` has its pair as the positive and the other `2N − 2` views as
//! negatives: `ℓᵢ = −log(exp(s_{i,p(i)}) / Σ_{k≠i} exp(s_{ik}))`, and the loss is the mean over all `2N`
//! anchors (lightly's `NTXentLoss` without a memory bank). All embeddings equal gives `ln(2N − 1)`.
//!
//! **With negatives** ([`NtXentLoss::forward_with_negatives`]): anchors are the `N` rows of `ẑ0`,
//! the positive of row `i` is `ẑ1ᵢ` and the negatives are the rows of the bank (normalised):
//! `ℓᵢ = −log(exp(ẑ0ᵢ·ẑ1ᵢ/τ) / (exp(ẑ0ᵢ·ẑ1ᵢ/τ) + Σ_m exp(ẑ0ᵢ·b_m/τ)))`, mean over `i` (lightly's
//! `NTXentLoss(memory_bank_size=…)`, MoCo). Equal embeddings and a bank of `M` gives `ln(M + 1)`. The
//! bank is read as given: enqueueing after the loss is the caller's job (see [`crate::MemoryBank`]).

use super::{
    arange, check_2d, check_pair, cross_entropy, eye_mask, normalize, positive_temperature,
};
use selfsup_nn::Result;
use tch::Tensor;

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NtXentLoss {
    /// Temperature `τ` (lightly's default 0.5).
    pub temperature: f64,
}

impl Default for NtXentLoss {
    fn default() -> Self {
        NtXentLoss { temperature: 0.5 }
    }
}

impl NtXentLoss {
    /// A loss with temperature `τ > 0`.
    pub fn new(temperature: f64) -> Result<Self> {
        positive_temperature("temperature", temperature)?;
        Ok(NtXentLoss { temperature })
    }

    /// In-batch NT-Xent of two `N×D` views.
    pub fn forward(&self, out0: &Tensor, out1: &Tensor) -> Result<Tensor> {
        let (n, _) = check_pair(out0, out1, 1)?;
        let z = normalize(&Tensor::cat(&[out0, out1], 0));
        let sim = z.mm(&z.tr()) / self.temperature;
        let sim = sim.masked_fill(&eye_mask(2 * n, out0), f64::NEG_INFINITY);
        let labels = Tensor::cat(&[arange(n, out0) + n, arange(n, out0)], 0);
        Ok(cross_entropy(&sim, &labels))
    }

    /// NT-Xent with the rows of `negatives` (`M×D`, `M ≥ 0`) as the only negatives.
    pub fn forward_with_negatives(
        &self,
        out0: &Tensor,
        out1: &Tensor,
        negatives: &Tensor,
    ) -> Result<Tensor> {
        let (n, d) = check_pair(out0, out1, 1)?;
        let (_, dn) = check_2d("negatives", negatives, 0)?;
        if dn != d {
            return Err(selfsup_core::Error::shape(format!(
                "negatives have width {dn}, the views {d}"
            ))
            .into());
        }
        let z0 = normalize(out0);
        let z1 = normalize(out1);
        let pos = (&z0 * &z1).sum_dim_intlist(1, true, z0.kind());
        let neg = z0.mm(&normalize(&negatives.to_kind(z0.kind())).tr());
        let logits = Tensor::cat(&[pos, neg], 1) / self.temperature;
        let labels = arange(n, out0).zeros_like();
        Ok(cross_entropy(&logits, &labels))
    }
}
