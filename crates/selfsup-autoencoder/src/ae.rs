//! The deterministic autoencoders: plain (`ae`), denoising (`dae`) and sparse (`sparse_ae`) share one
//! model, [`Autoencoder`]: encoder = any backbone from [`selfsup_nn::build_backbone`] (`backbone.*`),
//! code = the backbone's features (their sigmoid for the KL-sparse AE), decoder = [`crate::decoder`]
//! (`decoder.*`).
//!
//! - `ae`: input and target are `views[0]`.
//! - `dae`: input is `views[0]` (the corrupted view), target is `views[1]` (the clean one); the
//!   loader makes both (see [`crate::dae`]).
//! - `sparse_ae`: as `ae`, plus the penalty of [`crate::sparse`].
//!
//! Scalars: `recon` always, `sparsity` (unweighted penalty) for the sparse AE.

use crate::common::{check_shape, in_channels, needs_channel_axis, scalar, view, ReconLoss};
use crate::decoder::{Decoder, DecoderConfig};
use crate::sparse::{kl_sparsity_of_codes, l1_penalty, SparsityPenalty};
use selfsup_nn::{
    build_backbone, Backbone, BackboneConfig, Batch, Method, Result, StepInfo, StepOutput,
};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

/// Plain autoencoder (`kind = "ae"`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AeConfig {
    /// Reconstruction loss: `mse` (default) or `bce` (targets in `[0, 1]`).
    pub recon_loss: ReconLoss,
    /// The decoder (`[method.decoder]`).
    pub decoder: DecoderConfig,
}

impl AeConfig {
    /// Checks the decoder.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        self.decoder.validate()
    }
}

/// How the model is trained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Mode {
    Plain,
    Denoising,
    Sparse {
        penalty: SparsityPenalty,
        weight: f64,
        rho: f64,
    },
}

/// Plain, denoising or sparse autoencoder; see the module documentation.
#[derive(Debug)]
pub struct Autoencoder {
    vs: VarStore,
    name: &'static str,
    encoder: Box<dyn Backbone>,
    decoder: Decoder,
    shape: Vec<i64>,
    add_channel: bool,
    recon: ReconLoss,
    mode: Mode,
}

impl Autoencoder {
    pub(crate) fn new(
        vs: VarStore,
        name: &'static str,
        cfg: &AeConfig,
        mode: Mode,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> Result<Self> {
        crate::common::check_backbone_geometry(backbone, shape)?;
        let root = vs.root();
        let encoder = build_backbone(&(&root / "backbone"), backbone, in_channels(shape))?;
        let decoder = Decoder::new(
            &(&root / "decoder"),
            &cfg.decoder,
            backbone,
            encoder.output_dim(),
            shape,
        )?;
        Ok(Autoencoder {
            add_channel: needs_channel_axis(backbone, shape),
            vs,
            name,
            encoder,
            decoder,
            shape: shape.to_vec(),
            recon: cfg.recon_loss,
            mode,
        })
    }

    fn code(&self, x: &Tensor, train: bool) -> Tensor {
        let x = if self.add_channel {
            x.unsqueeze(1)
        } else {
            x.shallow_clone()
        };
        let h = self.encoder.forward_t(&x, train);
        match self.mode {
            Mode::Sparse {
                penalty: SparsityPenalty::Kl,
                ..
            } => h.sigmoid(),
            _ => h,
        }
    }

    /// Encoder features (the code) of `x` (`N×shape`), eval mode, no gradient.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        check_shape(x, &self.shape, self.name)?;
        Ok(tch::no_grad(|| self.code(x, false)))
    }

    /// The reconstruction of `x` in input space (`N×shape`), eval mode, no gradient.
    pub fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        check_shape(x, &self.shape, self.name)?;
        Ok(tch::no_grad(|| {
            self.recon
                .to_values(&self.decoder.forward_t(&self.code(x, false), false))
        }))
    }

    /// The input (`views[0]`) and the target (`views[1]` for the DAE, else `views[0]`), shape-checked.
    fn input_and_target<'b>(&self, batch: &'b Batch) -> Result<(&'b Tensor, &'b Tensor)> {
        let denoising = self.mode == Mode::Denoising;
        let need = if denoising { 2 } else { 1 };
        let x = view(batch, 0, self.name, need)?;
        let target = if denoising {
            view(batch, 1, self.name, need)?
        } else {
            x
        };
        check_shape(x, &self.shape, self.name)?;
        check_shape(target, &self.shape, self.name)?;
        Ok((x, target))
    }

    /// The sample shape the model was built for.
    pub fn input_shape(&self) -> &[i64] {
        &self.shape
    }
}

impl Method for Autoencoder {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
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
        let (x, target) = self.input_and_target(batch)?;
        let z = self.code(x, true);
        let out = self.decoder.forward_t(&z, true);
        let recon = self.recon.mean(&out, target);
        let mut scalars = vec![("recon".to_string(), scalar(&recon))];
        let loss = match self.mode {
            Mode::Sparse {
                penalty,
                weight,
                rho,
            } => {
                let pen = match penalty {
                    SparsityPenalty::L1 => l1_penalty(&z),
                    SparsityPenalty::Kl => kl_sparsity_of_codes(&z, rho),
                };
                scalars.push(("sparsity".to_string(), scalar(&pen)));
                &recon + pen * weight
            }
            _ => recon,
        };
        Ok(StepOutput::new(loss, scalars))
    }
    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        self.encode(x)
    }
    fn embed_dim(&self) -> i64 {
        self.encoder.output_dim()
    }
    fn reconstruct(&self, x: &Tensor) -> Result<Option<Tensor>> {
        Autoencoder::reconstruct(self, x).map(Some)
    }
    /// `val_recon` (and `val_sparsity`) of a held-out batch, eval mode, no gradient.
    fn evaluate(&mut self, batch: &Batch) -> Result<Vec<(String, f64)>> {
        let (x, target) = self.input_and_target(batch)?;
        tch::no_grad(|| {
            let z = self.code(x, false);
            let out = self.decoder.forward_t(&z, false);
            let mut m = vec![(
                "val_recon".to_string(),
                scalar(&self.recon.mean(&out, target)),
            )];
            if let Mode::Sparse { penalty, rho, .. } = self.mode {
                let pen = match penalty {
                    SparsityPenalty::L1 => l1_penalty(&z),
                    SparsityPenalty::Kl => kl_sparsity_of_codes(&z, rho),
                };
                m.push(("val_sparsity".to_string(), scalar(&pen)));
            }
            Ok(m)
        })
    }
}
