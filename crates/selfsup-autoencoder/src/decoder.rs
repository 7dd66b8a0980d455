//! Decoders: code (`N×latent`) → reconstruction (`N×shape`).
//!
//! - `mlp`: linear layers with ReLU between them, `latent → widths… → ∏shape`, reshaped. Mirrors an
//!   MLP encoder (its hidden widths reversed) by default; the VAE, whose code comes after the
//!   encoder's output layer, also mirrors that layer (`VaeConfig::decoder_for`).
//! - `conv`: a linear layer to `widths[0]×h₀×w₀`, then one stage per width of ×2 nearest upsampling,
//!   3×3 convolution, batch norm and ReLU, and a final 3×3 convolution to the input channels;
//!   `h₀ = ⌈H/2^k⌉` for `k` stages, and the output is cropped to `H×W`. Mirrors a `conv_net`
//!   encoder (its widths reversed, one upsampling per max-pool) by default. Upsampling + convolution
//!   instead of transposed convolutions avoids checkerboard artefacts (Odena et al. 2016).
//!
//! Parameter names: `decoder.layers.{i}` (mlp); `decoder.fc`, `decoder.blocks.{i}.conv`,
//! `decoder.blocks.{i}.bn`, `decoder.out` (conv).

use crate::common::image_dims;
use selfsup_core::{check, Error};
use selfsup_nn::layers::{conv2d, linear, BatchNorm};
use selfsup_nn::{BackboneConfig, Mlp, MlpConfig, Result};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// Which decoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderKind {
    /// `mlp` for an MLP encoder or vector samples, `conv` otherwise.
    #[default]
    Auto,
    /// Fully connected.
    Mlp,
    /// Upsampling + convolutions (image-like samples only).
    Conv,
}

/// The decoder of the AE, DAE, sparse AE and VAE (`[method.decoder]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecoderConfig {
    /// `auto`, `mlp` or `conv`.
    pub kind: DecoderKind,
    /// Hidden widths (mlp) or channel widths from the deepest stage out (conv); empty = mirror the
    /// encoder (see the module documentation).
    pub widths: Vec<i64>,
}

impl DecoderConfig {
    /// Widths ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        for (i, &w) in self.widths.iter().enumerate() {
            check::at_least(&format!("method.decoder.widths[{i}]"), w.max(0) as usize, 1)?;
        }
        Ok(())
    }

    /// The concrete kind and widths for this encoder and sample shape.
    pub fn resolve(
        &self,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> selfsup_core::Result<(DecoderKind, Vec<i64>)> {
        let kind = match self.kind {
            DecoderKind::Auto => {
                if matches!(backbone, BackboneConfig::Mlp(_)) || image_dims(shape).is_none() {
                    DecoderKind::Mlp
                } else {
                    DecoderKind::Conv
                }
            }
            k => k,
        };
        if kind == DecoderKind::Conv && image_dims(shape).is_none() {
            return Err(Error::config(
                "method.decoder.kind",
                format!("conv needs [C,H,W] or [F,T] samples, got {shape:?}; use mlp"),
            ));
        }
        let widths = if !self.widths.is_empty() {
            self.widths.clone()
        } else {
            match (kind, backbone) {
                (DecoderKind::Mlp, BackboneConfig::Mlp(c)) => {
                    c.hidden.iter().rev().copied().collect()
                }
                (DecoderKind::Mlp, _) => vec![256],
                (DecoderKind::Conv, BackboneConfig::ConvNet(c) | BackboneConfig::AudioCnn(c))
                    if !c.widths.is_empty() =>
                {
                    c.widths.iter().rev().copied().collect()
                }
                _ => vec![128, 64, 32],
            }
        };
        Ok((kind, widths))
    }
}

/// A built decoder.
#[derive(Debug)]
pub(crate) enum Decoder {
    Mlp {
        mlp: Mlp,
        shape: Vec<i64>,
    },
    Conv {
        fc: nn::Linear,
        blocks: Vec<(nn::Conv2D, BatchNorm)>,
        out: nn::Conv2D,
        start: (i64, i64, i64),
        shape: Vec<i64>,
    },
}

impl Decoder {
    /// Builds the decoder under `p` (`decoder.*`).
    pub fn new(
        p: &nn::Path<'_>,
        cfg: &DecoderConfig,
        backbone: &BackboneConfig,
        latent: i64,
        shape: &[i64],
    ) -> Result<Self> {
        cfg.validate()?;
        let (kind, widths) = cfg.resolve(backbone, shape)?;
        Ok(match kind {
            DecoderKind::Conv => {
                let (c, h, w) = image_dims(shape).expect("resolve checked the shape");
                let k = widths.len() as u32;
                let scale = 1i64 << k;
                let (h0, w0) = ((h + scale - 1) / scale, (w + scale - 1) / scale);
                let fc = linear(p / "fc", latent, widths[0] * h0 * w0, true);
                let blocks = (0..widths.len())
                    .map(|i| {
                        let c_out = widths[(i + 1).min(widths.len() - 1)];
                        let b = p / "blocks" / i;
                        (
                            conv2d(&(&b / "conv"), widths[i], c_out, 3, 1, 1, false),
                            BatchNorm::new(&(&b / "bn"), c_out),
                        )
                    })
                    .collect();
                let out = conv2d(&(p / "out"), *widths.last().unwrap(), c, 3, 1, 1, true);
                Decoder::Conv {
                    fc,
                    blocks,
                    out,
                    start: (widths[0], h0, w0),
                    shape: shape.to_vec(),
                }
            }
            _ => {
                let numel = shape.iter().product();
                let mlp = Mlp::new(
                    p,
                    &MlpConfig {
                        input_dim: latent,
                        hidden: widths,
                        output_dim: numel,
                        batch_norm: false,
                    },
                )?;
                Decoder::Mlp {
                    mlp,
                    shape: shape.to_vec(),
                }
            }
        })
    }

    /// Code → output (`N×shape`; logits for BCE).
    pub fn forward_t(&self, z: &Tensor, train: bool) -> Tensor {
        let n = z.size()[0];
        match self {
            Decoder::Mlp { mlp, shape } => {
                let mut s = vec![n];
                s.extend(shape);
                mlp.forward_t(z, train).reshape(s)
            }
            Decoder::Conv {
                fc,
                blocks,
                out,
                start: (c0, h0, w0),
                shape,
            } => {
                let mut x = fc.forward(z).relu().reshape([n, *c0, *h0, *w0]);
                for (conv, bn) in blocks {
                    let s = x.size();
                    x = x.upsample_nearest2d([s[2] * 2, s[3] * 2], None, None);
                    x = bn.forward_t(&conv.forward(&x), train).relu();
                }
                let x = out.forward(&x);
                let (_, h, w) = image_dims(shape).expect("built for an image shape");
                let x = x.narrow(2, 0, h).narrow(3, 0, w);
                let mut s = vec![n];
                s.extend(shape);
                x.reshape(s)
            }
        }
    }
}
