//! Decoupled contrastive learning (DCL) and its weighted variant DCLW (Yeh et al., 2022; lightly's
//! `DCLLoss` / `DCLWLoss`). For normalised views and temperature `τ`, one direction is
//!
//! `ℓᵢ = −w_i·ẑ0ᵢ·ẑ1ᵢ/τ + log Σ_{j≠i} (exp(ẑ0ᵢ·ẑ0ⱼ/τ) + exp(ẑ0ᵢ·ẑ1ⱼ/τ))`
//!
//! — the positive pair is removed from the denominator — averaged over `i`, and the loss is the mean of
//! the two directions (`out0→out1` and `out1→out0`). DCL has `w = 1`; DCLW weights the positive term by
//! the von Mises–Fisher weight `w_i = 2 − N·softmax_i(ẑ0ᵢ·ẑ1ᵢ/σ)` (computed without gradient, `σ = 0.5`).
//! Needs `N ≥ 2` (with one sample there are no negatives).

use super::{check_pair, eye_mask, normalize, positive_temperature};
use selfsup_nn::Result;
use tch::Tensor;

/// See the module documentation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DclLoss {
    /// Temperature `τ` (default 0.1).
    pub temperature: f64,
    /// `Some(σ)` for DCLW's von Mises–Fisher weighting, `None` for plain DCL.
    pub sigma: Option<f64>,
}

impl Default for DclLoss {
    fn default() -> Self {
        DclLoss {
            temperature: 0.1,
            sigma: None,
        }
    }
}

impl DclLoss {
    /// DCL with temperature `τ`.
    pub fn dcl(temperature: f64) -> Result<Self> {
        positive_temperature("temperature", temperature)?;
        Ok(DclLoss {
            temperature,
            sigma: None,
        })
    }

    /// DCLW with temperature `τ` and weighting width `σ` (lightly: 0.5).
    pub fn dclw(temperature: f64, sigma: f64) -> Result<Self> {
        positive_temperature("temperature", temperature)?;
        positive_temperature("sigma", sigma)?;
        Ok(DclLoss {
            temperature,
            sigma: Some(sigma),
        })
    }

    fn one_direction(&self, z0: &Tensor, z1: &Tensor, n: i64) -> Tensor {
        let t = self.temperature;
        let mask = eye_mask(n, z0);
        let s00 = (z0.mm(&z0.tr()) / t).masked_fill(&mask, f64::NEG_INFINITY);
        let s01 = z0.mm(&z1.tr()) / t;
        let mut pos = -s01.diagonal(0, 0, 1);
        if let Some(sigma) = self.sigma {
            let sim = (z0.detach() * z1.detach()).sum_dim_intlist(1, false, z0.kind()) / sigma;
            let w = -(sim.softmax(0, z0.kind()) * n as f64) + 2.0;
            pos *= w;
        }
        let s01 = s01.masked_fill(&mask, f64::NEG_INFINITY);
        let negs = Tensor::cat(&[s00, s01], 1);
        (pos + negs.logsumexp(1, false)).mean(z0.kind())
    }

    /// The symmetric DCL(W) loss of two `N×D` views (`N ≥ 2`).
    pub fn forward(&self, out0: &Tensor, out1: &Tensor) -> Result<Tensor> {
        let (n, _) = check_pair(out0, out1, 2)?;
        let z0 = normalize(out0);
        let z1 = normalize(out1);
        Ok((self.one_direction(&z0, &z1, n) + self.one_direction(&z1, &z0, n)) * 0.5)
    }
}
