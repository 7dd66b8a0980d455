//! Negative cosine similarity, `−mean_i cos(x0ᵢ, x1ᵢ)` with torch's `cosine_similarity` (eps 1e-8),
//! lightly's `NegativeCosineSimilarity`. BYOL and SimSiam apply it between a prediction and a
//! *detached* target; [`NegativeCosineSimilarity::symmetric`] is their two-view form
//! `½·(D(p0, sg(z1)) + D(p1, sg(z0)))`.

use super::check_pair;
use selfsup_nn::Result;
use tch::Tensor;

/// See the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NegativeCosineSimilarity;

impl NegativeCosineSimilarity {
    /// `−mean cos(x0, x1)` (no stop-gradient).
    pub fn forward(&self, x0: &Tensor, x1: &Tensor) -> Result<Tensor> {
        check_pair(x0, x1, 1)?;
        Ok(-Tensor::cosine_similarity(x0, x1, 1, 1e-8).mean(x0.kind()))
    }

    /// `½·(D(p0, sg(z1)) + D(p1, sg(z0)))` with stop-gradient on the targets.
    pub fn symmetric(&self, p0: &Tensor, p1: &Tensor, z0: &Tensor, z1: &Tensor) -> Result<Tensor> {
        Ok((self.forward(p0, &z1.detach())? + self.forward(p1, &z0.detach())?) * 0.5)
    }
}
