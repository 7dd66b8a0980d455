//! Barlow Twins (Zbontar et al., 2021), lightly's `BarlowTwinsLoss`. Each view is standardised per
//! feature over the batch as a batch norm without affine parameters does (`(z − mean)/√(var + ε)`,
//! biased variance, `ε = 1e-5`), `C = ẑ0ᵀ ẑ1 / N` is the `D×D` cross-correlation and
//!
//! `loss = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²`, `λ = 5·10⁻³` by default.
//!
//! Because of the standardisation the loss is invariant to per-feature affine maps of either view
//! with positive scale: `loss(x, x) = loss(x, 2x + 4)` — exactly with `eps = 0`, up to the effect of
//! `ε` on the variance otherwise. Needs `N ≥ 2`.

use super::check_pair;
use selfsup_nn::Result;
use tch::Tensor;

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarlowTwinsLoss {
    /// Weight `λ` of the redundancy-reduction term.
    pub lambda: f64,
    /// `ε` added to the batch variance (1e-5, batch norm's).
    pub eps: f64,
}

impl Default for BarlowTwinsLoss {
    fn default() -> Self {
        BarlowTwinsLoss {
            lambda: 5e-3,
            eps: 1e-5,
        }
    }
}

/// `(z − mean)/√(var + ε)` per feature over the batch, as one native batch-norm op in training mode
/// (lightly's `F.batch_norm(z, None, None, training=True)`): one kernel forward and one backward, instead
/// of the six element-wise ops and their gradients of the formula written out.
fn standardise(z: &Tensor, eps: f64) -> Tensor {
    z.batch_norm(
        None::<&Tensor>,
        None::<&Tensor>,
        None::<&Tensor>,
        None::<&Tensor>,
        true,
        0.0,
        eps,
        false,
    )
}

impl BarlowTwinsLoss {
    /// A loss with weight `λ ≥ 0`.
    pub fn new(lambda: f64) -> Result<Self> {
        selfsup_core::check::non_negative("lambda", lambda)?;
        Ok(BarlowTwinsLoss { lambda, eps: 1e-5 })
    }

    /// The loss of two `N×D` views (`N ≥ 2`).
    pub fn forward(&self, z0: &Tensor, z1: &Tensor) -> Result<Tensor> {
        let (n, _) = check_pair(z0, z1, 2)?;
        let c = standardise(z0, self.eps)
            .tr()
            .mm(&standardise(z1, self.eps))
            / n as f64;
        let diag = c.diagonal(0, 0, 1);
        let on = (-&diag + 1.0).pow_tensor_scalar(2).sum(c.kind());
        let off = c.pow_tensor_scalar(2).sum(c.kind()) - diag.pow_tensor_scalar(2).sum(c.kind());
        Ok(on + off * self.lambda)
    }
}
