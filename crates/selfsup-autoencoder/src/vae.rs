//! Variational autoencoder (Kingma & Welling 2014) and β-VAE (Higgins et al. 2017), `kind = "vae"`.
//!
//! Encoder = any backbone (`backbone.*`) followed by two linear heads `fc_mu`, `fc_logvar` (read from
//! `relu(h)` when the backbone is an MLP, whose last layer is linear — pytorch/examples' `fc1`+ReLU);
//! `z = μ + ε·exp(½ logvar)` with `ε ~ N(0, I)` drawn from libtorch's generator (which the trainer
//! reseeds from `(seed, step)` every step, so a run replays); decoder = [`crate::decoder`]. With an
//! MLP encoder and no decoder widths given, the decoder mirrors the whole encoder up to the latent
//! heads, the backbone's output width included ([`VaeConfig::decoder_for`]): the encoder 784-400 → 20
//! gets the decoder 20-400-784, as pytorch/examples' VAE (a mirror of the backbone's hidden widths
//! alone would be the single linear layer 20-784, which trains far slower).
//!
//! Loss per batch = `recon + β · kl`, both summed over a sample's elements and averaged over the
//! batch: `recon` is BCE on logits (pytorch/examples' VAE, `reduction="sum"`, divided by `N`) or the
//! summed squared error; `kl = −½ Σ (1 + logvar − μ² − exp(logvar))`, the closed form of
//! `KL(N(μ, σ²) ‖ N(0, I))`. Scalars `recon` and `kl` are logged separately.
//!
//! [`Vae::encode`] (and `embed`) returns `μ`; [`Vae::sample`] decodes draws from the prior;
//! [`Vae::interpolate`] decodes the straight line between the means of two inputs.

use crate::common::{check_shape, in_channels, needs_channel_axis, scalar, view, ReconLoss};
use crate::decoder::{Decoder, DecoderConfig, DecoderKind};
use selfsup_core::check;
use selfsup_nn::layers::linear;
use selfsup_nn::{
    build_backbone, Backbone, BackboneConfig, Batch, Method, Result, StepInfo, StepOutput,
};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, VarStore};
use tch::{Kind, Tensor};

/// VAE / β-VAE hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaeConfig {
    /// Latent width (pytorch/examples: 20).
    pub latent_dim: i64,
    /// Weight β of the KL term (1 = VAE, > 1 = β-VAE).
    pub beta: f64,
    /// Reconstruction: `bce` on logits (default, targets in `[0, 1]`) or `mse` (summed squared error).
    pub recon_loss: ReconLoss,
    /// The decoder (`[method.decoder]`).
    pub decoder: DecoderConfig,
}

impl Default for VaeConfig {
    fn default() -> Self {
        VaeConfig {
            latent_dim: 20,
            beta: 1.0,
            recon_loss: ReconLoss::Bce,
            decoder: DecoderConfig::default(),
        }
    }
}

impl VaeConfig {
    /// `latent_dim ≥ 1`, `beta ≥ 0`, decoder widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        check::at_least("method.latent_dim", self.latent_dim.max(0) as usize, 1)?;
        check::non_negative("method.beta", self.beta)?;
        self.decoder.validate()
    }

    /// The decoder built for `backbone`: `decoder` as configured, except that an MLP encoder with no
    /// decoder widths given is mirrored up to the latent heads — `[output_dim, hidden reversed…]` —
    /// because the VAE's code comes after the backbone's output layer (`fc_mu`), not out of it as
    /// in the plain autoencoder.
    pub fn decoder_for(&self, backbone: &BackboneConfig) -> DecoderConfig {
        match (backbone, self.decoder.kind) {
            (BackboneConfig::Mlp(m), DecoderKind::Auto | DecoderKind::Mlp)
                if self.decoder.widths.is_empty() =>
            {
                DecoderConfig {
                    kind: self.decoder.kind,
                    widths: std::iter::once(m.output_dim)
                        .chain(m.hidden.iter().rev().copied())
                        .collect(),
                }
            }
            _ => self.decoder.clone(),
        }
    }
}

/// `KL(N(μ, exp(logvar)) ‖ N(0, I))` summed over the latent and averaged over the batch:
/// `−½ (1/N) Σ (1 + logvar − μ² − exp(logvar))`.
pub fn gaussian_kl(mu: &Tensor, logvar: &Tensor) -> Tensor {
    let n = mu.size()[0].max(1) as f64;
    let terms = logvar + 1.0 - mu.square() - logvar.exp();
    terms.sum(mu.kind()) * (-0.5 / n)
}

/// The VAE loss terms `(recon, kl)` of decoder output `out` for `target` (see the module doc).
pub fn vae_loss_terms(
    recon: ReconLoss,
    out: &Tensor,
    target: &Tensor,
    mu: &Tensor,
    logvar: &Tensor,
) -> (Tensor, Tensor) {
    (recon.sum_per_sample(out, target), gaussian_kl(mu, logvar))
}

/// The VAE; see the module documentation.
#[derive(Debug)]
pub struct Vae {
    vs: VarStore,
    encoder: Box<dyn Backbone>,
    relu_features: bool,
    fc_mu: nn::Linear,
    fc_logvar: nn::Linear,
    decoder: Decoder,
    shape: Vec<i64>,
    add_channel: bool,
    recon: ReconLoss,
    beta: f64,
    latent_dim: i64,
}

impl Vae {
    /// Builds the VAE for samples of `shape` in `vs`.
    pub fn new(
        vs: VarStore,
        cfg: &VaeConfig,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> Result<Self> {
        cfg.validate()?;
        crate::common::check_backbone_geometry(backbone, shape)?;
        let root = vs.root();
        let encoder = build_backbone(&(&root / "backbone"), backbone, in_channels(shape))?;
        let d = encoder.output_dim();
        let fc_mu = linear(&root / "fc_mu", d, cfg.latent_dim, true);
        let fc_logvar = linear(&root / "fc_logvar", d, cfg.latent_dim, true);
        let decoder = Decoder::new(
            &(&root / "decoder"),
            &cfg.decoder_for(backbone),
            backbone,
            cfg.latent_dim,
            shape,
        )?;
        Ok(Vae {
            relu_features: matches!(backbone, BackboneConfig::Mlp(_)),
            add_channel: needs_channel_axis(backbone, shape),
            vs,
            encoder,
            fc_mu,
            fc_logvar,
            decoder,
            shape: shape.to_vec(),
            recon: cfg.recon_loss,
            beta: cfg.beta,
            latent_dim: cfg.latent_dim,
        })
    }

    /// `(μ, logvar)` of `x`.
    fn posterior(&self, x: &Tensor, train: bool) -> (Tensor, Tensor) {
        let x = if self.add_channel {
            x.unsqueeze(1)
        } else {
            x.shallow_clone()
        };
        let mut h = self.encoder.forward_t(&x, train);
        if self.relu_features {
            h = h.relu();
        }
        (self.fc_mu.forward(&h), self.fc_logvar.forward(&h))
    }

    /// The posterior mean `μ` of `x` (`N×latent_dim`), eval mode, no gradient.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        check_shape(x, &self.shape, "vae")?;
        Ok(tch::no_grad(|| self.posterior(x, false).0))
    }

    /// `(μ, logvar)` of `x`, eval mode, no gradient.
    pub fn encode_distribution(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        check_shape(x, &self.shape, "vae")?;
        Ok(tch::no_grad(|| self.posterior(x, false)))
    }

    /// Decodes codes `z` (`N×latent_dim`) into input space (sigmoid applied for BCE).
    pub fn decode(&self, z: &Tensor) -> Result<Tensor> {
        let s = z.size();
        if s.len() != 2 || s[1] != self.latent_dim {
            return Err(selfsup_core::Error::shape(format!(
                "vae decodes N×{} codes, got {s:?}",
                self.latent_dim
            ))
            .into());
        }
        Ok(tch::no_grad(|| {
            self.recon.to_values(&self.decoder.forward_t(z, false))
        }))
    }

    /// The reconstruction of `x` from its posterior mean (deterministic).
    pub fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        let mu = self.encode(x)?;
        self.decode(&mu)
    }

    /// Latent width.
    pub fn latent_dim(&self) -> i64 {
        self.latent_dim
    }

    /// `n` samples from the model: `z ~ N(0, I)` drawn from libtorch's generator (seed it with
    /// `tch::manual_seed` for a reproducible set, or draw `z` yourself and call [`Vae::decode`]),
    /// decoded.
    pub fn sample(&self, n: i64) -> Result<Tensor> {
        let z = Tensor::randn([n.max(0), self.latent_dim], (Kind::Float, self.vs.device()));
        self.decode(&z)
    }

    /// Decodes `steps` evenly spaced points from `μ(a)` to `μ(b)` (both ends included) for single
    /// samples `a`, `b` (shape = the sample shape, or a batch of one): `steps×shape`.
    pub fn interpolate(&self, a: &Tensor, b: &Tensor, steps: i64) -> Result<Tensor> {
        check::at_least("steps", steps.max(0) as usize, 2)?;
        let one = |x: &Tensor| {
            if x.dim() == self.shape.len() {
                x.unsqueeze(0)
            } else {
                x.shallow_clone()
            }
        };
        let (a, b) = (one(a), one(b));
        if a.size()[0] != 1 || b.size()[0] != 1 {
            return Err(
                selfsup_core::Error::shape("interpolate takes one sample at each end").into(),
            );
        }
        let (za, zb) = (self.encode(&a)?, self.encode(&b)?);
        let t = Tensor::linspace(0.0, 1.0, steps, (Kind::Float, za.device())).unsqueeze(1);
        let z = &za * (-&t + 1.0) + &zb * &t;
        self.decode(&z)
    }

    /// The KL weight β.
    pub fn beta(&self) -> f64 {
        self.beta
    }
}

impl Method for Vae {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "vae"
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> Result<StepOutput> {
        let x = view(batch, 0, "vae", 1)?;
        check_shape(x, &self.shape, "vae")?;
        let (mu, logvar) = self.posterior(x, true);
        let eps = Tensor::randn_like(&mu);
        let z = &mu + eps * (&logvar * 0.5).exp();
        let out = self.decoder.forward_t(&z, true);
        let (recon, kl) = vae_loss_terms(self.recon, &out, x, &mu, &logvar);
        let scalars = vec![
            ("recon".to_string(), scalar(&recon)),
            ("kl".to_string(), scalar(&kl)),
        ];
        Ok(StepOutput::new(recon + kl * self.beta, scalars))
    }
    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        self.encode(x)
    }
    fn embed_dim(&self) -> i64 {
        self.latent_dim
    }
    fn reconstruct(&self, x: &Tensor) -> Result<Option<Tensor>> {
        Vae::reconstruct(self, x).map(Some)
    }
    /// `val_recon`, `val_kl` and `val_loss` (the negative ELBO with β) of a held-out batch, eval mode,
    /// no gradient, with one reparameterised draw from libtorch's generator.
    fn evaluate(&mut self, batch: &Batch) -> Result<Vec<(String, f64)>> {
        let x = view(batch, 0, "vae", 1)?;
        check_shape(x, &self.shape, "vae")?;
        tch::no_grad(|| {
            let (mu, logvar) = self.posterior(x, false);
            let z = &mu + Tensor::randn_like(&mu) * (&logvar * 0.5).exp();
            let out = self.decoder.forward_t(&z, false);
            let (recon, kl) = vae_loss_terms(self.recon, &out, x, &mu, &logvar);
            let (r, k) = (scalar(&recon), scalar(&kl));
            Ok(vec![
                ("val_recon".to_string(), r),
                ("val_kl".to_string(), k),
                ("val_loss".to_string(), r + self.beta * k),
            ])
        })
    }
}
