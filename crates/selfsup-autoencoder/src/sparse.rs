//! Sparse autoencoder penalties on the code `z` (`N×K`):
//!
//! - **L1** (activity regularisation): `λ · (1/N) Σₙ Σⱼ |zₙⱼ|`, on the encoder's features as they are.
//! - **KL sparsity** (Ng, *Sparse autoencoder* lecture notes, 2011): the code is `σ(h)`, the mean
//!   activation of unit `j` over the batch is `ρ̂ⱼ = (1/N) Σₙ zₙⱼ`, and the penalty is
//!   `β · Σⱼ [ρ log(ρ/ρ̂ⱼ) + (1−ρ) log((1−ρ)/(1−ρ̂ⱼ))]`, pulling every unit's mean activation to `ρ`.
//!
//! The reconstruction term of these models is the per-element mean (see [`crate::ReconLoss`]); Ng's
//! `β = 3` goes with a summed `½‖x−x̂‖²`, which is `D/2` times larger, hence the smaller default `β`.

use crate::ae::AeConfig;
use crate::common::ReconLoss;
use crate::decoder::DecoderConfig;
use selfsup_core::{check, Error};
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// Which sparsity penalty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SparsityPenalty {
    /// `l1_weight · mean_n Σⱼ |zₙⱼ|`.
    L1,
    /// `beta · Σⱼ KL(ρ ‖ ρ̂ⱼ)` on sigmoid codes.
    #[default]
    Kl,
}

/// Sparse autoencoder (`kind = "sparse_ae"`): a plain autoencoder plus a sparsity penalty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SparseAeConfig {
    /// Reconstruction loss: `mse` (default) or `bce`.
    pub recon_loss: ReconLoss,
    /// The decoder (`[method.decoder]`).
    pub decoder: DecoderConfig,
    /// `l1` or `kl`.
    pub penalty: SparsityPenalty,
    /// λ of the L1 penalty.
    pub l1_weight: f64,
    /// Target mean activation ρ of the KL penalty, in `(0, 1)`.
    pub rho: f64,
    /// Weight β of the KL penalty.
    pub beta: f64,
}

impl Default for SparseAeConfig {
    fn default() -> Self {
        SparseAeConfig {
            recon_loss: ReconLoss::default(),
            decoder: DecoderConfig::default(),
            penalty: SparsityPenalty::Kl,
            l1_weight: 1e-4,
            rho: 0.05,
            beta: 0.01,
        }
    }
}

impl SparseAeConfig {
    /// `l1_weight ≥ 0`, `0 < rho < 1`, `beta ≥ 0`.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        self.ae().validate()?;
        check::non_negative("method.l1_weight", self.l1_weight)?;
        check::non_negative("method.beta", self.beta)?;
        if !(self.rho > 0.0 && self.rho < 1.0) {
            return Err(Error::config(
                "method.rho",
                format!("must lie in (0, 1), got {}", self.rho),
            ));
        }
        Ok(())
    }

    /// The autoencoder part.
    pub fn ae(&self) -> AeConfig {
        AeConfig {
            recon_loss: self.recon_loss,
            decoder: self.decoder.clone(),
        }
    }
}

/// `(1/N) Σₙ Σⱼ |zₙⱼ|` (without the weight).
pub fn l1_penalty(z: &Tensor) -> Tensor {
    let n = z.size()[0].max(1) as f64;
    z.abs().sum(z.kind()) / n
}

/// `Σⱼ KL(ρ ‖ ρ̂ⱼ)` for mean activations `rho_hat` (`K`) in `(0, 1)` (clamped to `[1e-6, 1−1e-6]`
/// so an all-zero unit gives a large finite value, not infinity), without the weight.
pub fn kl_sparsity(rho_hat: &Tensor, rho: f64) -> Tensor {
    let r = rho_hat.clamp(1e-6, 1.0 - 1e-6);
    let kl = (r.log().neg() + rho.ln()) * rho
        + ((-&r + 1.0).log().neg() + (1.0 - rho).ln()) * (1.0 - rho);
    kl.sum(kl.kind())
}

/// The KL penalty of sigmoid codes `z` (`N×K`): `Σⱼ KL(ρ ‖ meanₙ zₙⱼ)`, without the weight.
pub fn kl_sparsity_of_codes(z: &Tensor, rho: f64) -> Tensor {
    kl_sparsity(&z.mean_dim(0, false, z.kind()), rho)
}
