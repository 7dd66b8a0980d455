//! VICReg (Bardes et al., 2022), lightly's `VICRegLoss`:
//!
//! - invariance `I = mean((z0 − z1)²)` (mean over all `N·D` entries);
//! - variance `V = ½ Σ_{v∈{0,1}} mean_j max(0, 1 − √(Var_j(z_v) + ε))` (unbiased variance, `ε = 1e-4`);
//! - covariance `C = Σ_v Σ_{i≠j} Cov(z_v)_{ij}² / D`, `Cov = (z − z̄)ᵀ(z − z̄)/(N − 1)`;
//!
//! `loss = λ I + μ V + ν C` with `λ = 25, μ = 25, ν = 1` by default. Needs `N ≥ 2`.

use super::check_pair;
use selfsup_nn::Result;
use tch::Tensor;

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VicRegLoss {
    /// Invariance weight `λ`.
    pub lambda: f64,
    /// Variance weight `μ`.
    pub mu: f64,
    /// Covariance weight `ν`.
    pub nu: f64,
    /// `ε` inside the square root of the variance term.
    pub eps: f64,
}

impl Default for VicRegLoss {
    fn default() -> Self {
        VicRegLoss {
            lambda: 25.0,
            mu: 25.0,
            nu: 1.0,
            eps: 1e-4,
        }
    }
}

impl VicRegLoss {
    /// A loss with the given non-negative weights and `ε > 0`.
    pub fn new(lambda: f64, mu: f64, nu: f64, eps: f64) -> Result<Self> {
        use selfsup_core::check::{non_negative, positive};
        non_negative("lambda", lambda)?;
        non_negative("mu", mu)?;
        non_negative("nu", nu)?;
        positive("eps", eps)?;
        Ok(VicRegLoss {
            lambda,
            mu,
            nu,
            eps,
        })
    }

    fn variance(&self, z: &Tensor) -> Tensor {
        let std = (z.var_dim(0, true, false) + self.eps).sqrt();
        (-std + 1.0).relu().mean(z.kind())
    }

    fn covariance(z: &Tensor, n: i64, d: i64) -> Tensor {
        let zc = z - z.mean_dim(0, true, z.kind());
        let cov = zc.tr().mm(&zc) / (n - 1) as f64;
        let k = z.kind();
        (cov.pow_tensor_scalar(2).sum(k) - cov.diagonal(0, 0, 1).pow_tensor_scalar(2).sum(k))
            / d as f64
    }

    /// The loss of two `N×D` views (`N ≥ 2`).
    pub fn forward(&self, z0: &Tensor, z1: &Tensor) -> Result<Tensor> {
        let (n, d) = check_pair(z0, z1, 2)?;
        let k = z0.kind();
        let inv = (z0 - z1).pow_tensor_scalar(2).mean(k);
        let var = (self.variance(z0) + self.variance(z1)) * 0.5;
        let cov = Self::covariance(z0, n, d) + Self::covariance(z1, n, d);
        Ok(inv * self.lambda + var * self.mu + cov * self.nu)
    }
}
