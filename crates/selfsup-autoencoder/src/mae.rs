//! Masked autoencoder (He et al. 2022), following facebookresearch/mae `models_mae.py` step by step,
//! and its audio variant (Audio-MAE, Huang et al. 2022: a non-square patch grid over frequency ×
//! time, mask ratio 0.8), `kind = "mae"`.
//!
//! - [`patchify`] / [`unpatchify`]: `N×C×H×W` ↔ `N×L×(ph·pw·C)`, the patch vector ordered
//!   `(row, column, channel)` as MAE's `einsum('nchpwq->nhwpqc')`; `L = (H/ph)·(W/pw)`.
//! - [`random_masking`]: per-sample shuffle by `argsort` of uniform noise (drawn from libtorch's
//!   generator, which the trainer reseeds each step), keeping the first `int(L·(1−ratio))` patches;
//!   returns the kept tokens, the mask (`1` = removed) and `ids_restore`.
//! - Encoder (`backbone.*`, timm names): patch embedding, fixed 2-D sin-cos position embedding
//!   ([`sincos_pos_embed_2d`], non-trainable), masking, class token, pre-norm blocks, LayerNorm —
//!   on the visible patches only.
//! - Decoder: `decoder_embed`, `mask_token`, unshuffle with `ids_restore`, fixed sin-cos
//!   `decoder_pos_embed`, `decoder_blocks`, `decoder_norm`, `decoder_pred` (to `ph·pw·C`).
//! - Loss ([`masked_mse`]): mean squared error per patch, averaged over the removed patches only;
//!   with `norm_pix_loss` each target patch is standardised by its mean and *unbiased* variance
//!   (`+1e-6`).
//! - Initialisation as MAE: xavier-uniform linear weights and the patch projection (as a matrix),
//!   zero biases, `N(0, 0.02)` class and mask tokens.
//!
//! The encoder is the `vit` backbone's geometry when the backbone is `vit` (its `patch_size`, `dim`,
//! `depth`, `heads`, `mlp_ratio`), else the method's own `patch_size`, `embed_dim`, `depth`,
//! `num_heads`, `mlp_ratio`. `embed` runs the encoder on all patches (no masking) and returns the
//! class token (`pool = "cls"`, MAE's linear probe), the mean patch token (`pool = "mean"`, Audio-MAE's)
//! or both concatenated (`pool = "cls_mean"`, `2·D` features).

use crate::common::{check_shape, image_dims, scalar, view};
use selfsup_core::{check, Error};
use selfsup_nn::backbones::TransformerBlock;
use selfsup_nn::{BackboneConfig, Batch, Method, Result, StepInfo, StepOutput};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, VarStore};
use tch::{Kind, Tensor};

/// Which encoder output `embed` returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// The class token after the final norm.
    #[default]
    Cls,
    /// The mean of the patch tokens after the final norm.
    Mean,
    /// The class token and the mean patch token side by side (`2·D` features).
    ClsMean,
}

/// MAE hyper-parameters (`kind = "mae"`). Defaults: a tiny MAE for 28×28 MNIST (patch 4, 49 patches).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaeConfig {
    /// Fraction of patches removed, in `(0, 1)` (0.75; Audio-MAE 0.8).
    pub mask_ratio: f64,
    /// Standardise each target patch (MAE's `norm_pix_loss`).
    pub norm_pix_loss: bool,
    /// Patch height (frequency bins for spectrograms); ignored when the backbone is `vit`.
    pub patch_size: i64,
    /// Patch width (time frames for spectrograms); absent = `patch_size` (square patches).
    pub patch_width: Option<i64>,
    /// Encoder width (ignored when the backbone is `vit`).
    pub embed_dim: i64,
    /// Encoder blocks (ignored when the backbone is `vit`).
    pub depth: i64,
    /// Encoder heads (ignored when the backbone is `vit`).
    pub num_heads: i64,
    /// MLP width as a multiple of the block width (ignored for the encoder when the backbone is `vit`).
    pub mlp_ratio: f64,
    /// Decoder width.
    pub decoder_embed_dim: i64,
    /// Decoder blocks.
    pub decoder_depth: i64,
    /// Decoder heads.
    pub decoder_num_heads: i64,
    /// What `embed` returns: `cls`, `mean` or `cls_mean` (both, concatenated).
    pub pool: Pool,
}

impl Default for MaeConfig {
    fn default() -> Self {
        MaeConfig {
            mask_ratio: 0.75,
            norm_pix_loss: false,
            patch_size: 4,
            patch_width: None,
            embed_dim: 128,
            depth: 4,
            num_heads: 4,
            mlp_ratio: 4.0,
            decoder_embed_dim: 64,
            decoder_depth: 2,
            decoder_num_heads: 4,
            pool: Pool::Cls,
        }
    }
}

fn pos(field: &str, v: i64) -> selfsup_core::Result<()> {
    check::at_least(field, v.max(0) as usize, 1)
}

/// The concrete encoder geometry of an MAE.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaeGeometry {
    /// Channels.
    pub channels: i64,
    /// Patch height and width.
    pub patch: (i64, i64),
    /// Patch grid (rows, columns).
    pub grid: (i64, i64),
    /// Encoder width, depth, heads, MLP ratio.
    pub dim: i64,
    /// Encoder blocks.
    pub depth: i64,
    /// Encoder heads.
    pub heads: i64,
    /// Encoder MLP ratio.
    pub mlp_ratio: f64,
}

impl MaeGeometry {
    /// Number of patches `L`.
    pub fn num_patches(&self) -> i64 {
        self.grid.0 * self.grid.1
    }
}

impl MaeConfig {
    /// The Audio-MAE preset: mask ratio 0.8, patches of `patch_freq × patch_time` over a log-mel.
    pub fn audio(patch_freq: i64, patch_time: i64) -> Self {
        MaeConfig {
            mask_ratio: 0.8,
            patch_size: patch_freq,
            patch_width: Some(patch_time),
            ..Default::default()
        }
    }

    /// Ranges of every field (geometry against the samples is [`MaeConfig::geometry`]).
    pub fn validate(&self) -> selfsup_core::Result<()> {
        if !(self.mask_ratio > 0.0 && self.mask_ratio < 1.0) {
            return Err(Error::config(
                "method.mask_ratio",
                format!("must lie in (0, 1), got {}", self.mask_ratio),
            ));
        }
        pos("method.patch_size", self.patch_size)?;
        if let Some(w) = self.patch_width {
            pos("method.patch_width", w)?;
        }
        pos("method.embed_dim", self.embed_dim)?;
        pos("method.depth", self.depth)?;
        pos("method.num_heads", self.num_heads)?;
        check::positive("method.mlp_ratio", self.mlp_ratio)?;
        pos("method.decoder_embed_dim", self.decoder_embed_dim)?;
        check::at_least(
            "method.decoder_depth",
            self.decoder_depth.max(0) as usize,
            0,
        )?;
        pos("method.decoder_num_heads", self.decoder_num_heads)?;
        divisible(
            "method.embed_dim",
            self.embed_dim,
            4,
            "divisible by 4 (2-D sin-cos table)",
        )?;
        divisible(
            "method.decoder_embed_dim",
            self.decoder_embed_dim,
            4,
            "divisible by 4 (2-D sin-cos table)",
        )?;
        divisible(
            "method.num_heads",
            self.embed_dim,
            self.num_heads,
            "a divisor of embed_dim",
        )?;
        divisible(
            "method.decoder_num_heads",
            self.decoder_embed_dim,
            self.decoder_num_heads,
            "a divisor of decoder_embed_dim",
        )?;
        Ok(())
    }

    /// The encoder geometry for samples of `shape` (`[C,H,W]` or `[F,T]`), or a config error naming
    /// the field: patch sizes must divide the sample's sides, at least one patch must be removed.
    pub fn geometry(
        &self,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> selfsup_core::Result<MaeGeometry> {
        self.validate()?;
        let Some((c, h, w)) = image_dims(shape) else {
            return Err(Error::config(
                "method.kind",
                format!("mae needs [C,H,W] images or [F,T] spectrograms, got samples of shape {shape:?}"),
            ));
        };
        let (patch, dim, depth, heads, mlp_ratio, field) = match backbone {
            BackboneConfig::Vit(v) => {
                v.validate()?;
                if v.image_size != h || v.image_size != w {
                    return Err(Error::config(
                        "backbone.image_size",
                        format!("is {} but the samples are {h}×{w}", v.image_size),
                    ));
                }
                divisible(
                    "backbone.dim",
                    v.dim,
                    4,
                    "divisible by 4 (2-D sin-cos table)",
                )?;
                (
                    (v.patch_size, v.patch_size),
                    v.dim,
                    v.depth,
                    v.heads,
                    v.mlp_ratio,
                    "backbone.patch_size",
                )
            }
            _ => (
                (self.patch_size, self.patch_width.unwrap_or(self.patch_size)),
                self.embed_dim,
                self.depth,
                self.num_heads,
                self.mlp_ratio,
                "method.patch_size",
            ),
        };
        if h % patch.0 != 0 {
            return Err(Error::config(
                field,
                format!("patch height {} must divide the sample height {h}", patch.0),
            ));
        }
        if w % patch.1 != 0 {
            let f = if field == "method.patch_size" && self.patch_width.is_some() {
                "method.patch_width"
            } else {
                field
            };
            return Err(Error::config(
                f,
                format!("patch width {} must divide the sample width {w}", patch.1),
            ));
        }
        let g = MaeGeometry {
            channels: c,
            patch,
            grid: (h / patch.0, w / patch.1),
            dim,
            depth,
            heads,
            mlp_ratio,
        };
        let l = g.num_patches();
        if l - len_keep(l, self.mask_ratio) < 1 {
            return Err(Error::config(
                "method.mask_ratio",
                format!("{} removes no patch of the {l}", self.mask_ratio),
            ));
        }
        if self.norm_pix_loss && patch.0 * patch.1 * c < 2 {
            return Err(Error::config(
                "method.norm_pix_loss",
                "needs patches of at least 2 values (unbiased variance)",
            ));
        }
        Ok(g)
    }
}

fn divisible(field: &str, v: i64, by: i64, what: &str) -> selfsup_core::Result<()> {
    if by <= 0 || v % by != 0 {
        return Err(Error::config(
            field,
            format!("must be {what} (value {v}, divisor {by})"),
        ));
    }
    Ok(())
}

/// `int(L · (1 − ratio))`, as MAE computes it (float64 product, truncated).
pub fn len_keep(l: i64, mask_ratio: f64) -> i64 {
    (l as f64 * (1.0 - mask_ratio)) as i64
}

/// `N×C×H×W` → `N×L×(ph·pw·C)` (MAE's `patchify` for `(ph, pw)` patches).
pub fn patchify(imgs: &Tensor, patch: (i64, i64)) -> Result<Tensor> {
    let s = imgs.size();
    let (ph, pw) = patch;
    if s.len() != 4 || ph < 1 || pw < 1 || s[2] % ph != 0 || s[3] % pw != 0 {
        return Err(Error::shape(format!(
            "patchify needs N×C×H×W with H, W divisible by the patch {ph}×{pw}, got {s:?}"
        ))
        .into());
    }
    let (n, c, gh, gw) = (s[0], s[1], s[2] / ph, s[3] / pw);
    Ok(imgs
        .reshape([n, c, gh, ph, gw, pw])
        .permute([0, 2, 4, 3, 5, 1])
        .reshape([n, gh * gw, ph * pw * c]))
}

/// `N×L×(ph·pw·C)` → `N×C×H×W` for a `grid` of `(rows, columns)` patches (MAE's `unpatchify`).
pub fn unpatchify(
    x: &Tensor,
    patch: (i64, i64),
    grid: (i64, i64),
    channels: i64,
) -> Result<Tensor> {
    let s = x.size();
    let (ph, pw) = patch;
    let (gh, gw) = grid;
    if s.len() != 3 || s[1] != gh * gw || s[2] != ph * pw * channels {
        return Err(Error::shape(format!(
            "unpatchify needs N×{}×{} for a {gh}×{gw} grid of {ph}×{pw}×{channels} patches, got {s:?}",
            gh * gw,
            ph * pw * channels
        ))
        .into());
    }
    Ok(x.reshape([s[0], gh, gw, ph, pw, channels])
        .permute([0, 5, 1, 3, 2, 4])
        .reshape([s[0], channels, gh * ph, gw * pw]))
}

/// MAE's `random_masking` with the uniform `noise` (`N×L`) given: `(x_masked, mask, ids_restore)`,
/// `x_masked` = the `int(L(1−ratio))` tokens of lowest noise in ascending noise order, `mask` = 1
/// for removed patches (in the original order), `ids_restore` = the inverse permutation.
pub fn random_masking(x: &Tensor, mask_ratio: f64, noise: &Tensor) -> (Tensor, Tensor, Tensor) {
    let s = x.size();
    let (n, l, d) = (s[0], s[1], s[2]);
    let keep = len_keep(l, mask_ratio);
    let ids_shuffle = noise.argsort(1, false);
    let ids_restore = ids_shuffle.argsort(1, false);
    let ids_keep = ids_shuffle.narrow(1, 0, keep);
    let x_masked = x.gather(1, &ids_keep.unsqueeze(-1).repeat([1, 1, d]), false);
    let opts = (x.kind(), x.device());
    let mask = Tensor::cat(
        &[
            Tensor::zeros([n, keep], opts),
            Tensor::ones([n, l - keep], opts),
        ],
        1,
    )
    .gather(1, &ids_restore, false);
    (x_masked, mask, ids_restore)
}

/// MAE's `forward_loss` on patchified targets: per-patch MSE averaged over the removed patches
/// (`mask` = 1); with `norm_pix_loss` each target patch is `(t − mean) / √(var_unbiased + 1e-6)`.
pub fn masked_mse(target: &Tensor, pred: &Tensor, mask: &Tensor, norm_pix_loss: bool) -> Tensor {
    let target = if norm_pix_loss {
        normalize_patches(target)
    } else {
        target.shallow_clone()
    };
    let per_patch = (pred - target).square().mean_dim(-1, false, pred.kind());
    (per_patch * mask).sum(pred.kind()) / mask.sum(pred.kind())
}

/// Per-patch standardisation of `norm_pix_loss`.
pub fn normalize_patches(t: &Tensor) -> Tensor {
    let mean = t.mean_dim(-1, true, t.kind());
    let var = t.var_dim(-1, true, true);
    (t - mean) / (var + 1e-6).sqrt()
}

/// 1-D sin-cos table of MAE's `get_1d_sincos_pos_embed_from_grid`: `ω_k = 1/10000^(k/(D/2))`,
/// `[sin(p·ω), cos(p·ω)]`.
fn sincos_1d(dim: usize, pos: f64, out: &mut Vec<f64>) {
    let half = dim / 2;
    let omega = |k: usize| 1.0 / 10000f64.powf(k as f64 / half as f64);
    out.extend((0..half).map(|k| (pos * omega(k)).sin()));
    out.extend((0..half).map(|k| (pos * omega(k)).cos()));
}

/// MAE's `get_2d_sincos_pos_embed` generalised to a `rows × cols` grid: row-major over the grid,
/// the first `D/2` values encode the column index and the last `D/2` the row index (MAE's
/// `meshgrid(grid_w, grid_h)` order), with a leading zero row for the class token when `cls_token`.
/// Computed in float64 (`(1 + rows·cols) × D` values, row-major). `dim` must be divisible by 4.
pub fn sincos_pos_embed_2d(dim: usize, rows: usize, cols: usize, cls_token: bool) -> Vec<f64> {
    let mut out = Vec::with_capacity((rows * cols + 1) * dim);
    if cls_token {
        out.extend(std::iter::repeat_n(0.0, dim));
    }
    for i in 0..rows {
        for j in 0..cols {
            sincos_1d(dim / 2, j as f64, &mut out);
            sincos_1d(dim / 2, i as f64, &mut out);
        }
    }
    out
}

fn xavier(fan_in: i64, fan_out: i64) -> nn::Init {
    let b = (6.0 / (fan_in + fan_out) as f64).sqrt();
    nn::Init::Uniform { lo: -b, up: b }
}

/// A linear layer initialised as MAE's `_init_weights` (xavier-uniform weight, zero bias).
fn xlinear<'a>(p: nn::Path<'a>, d_in: i64, d_out: i64) -> nn::Linear {
    nn::linear(
        p,
        d_in,
        d_out,
        nn::LinearConfig {
            ws_init: xavier(d_in, d_out),
            bs_init: Some(nn::Init::Const(0.0)),
            bias: true,
        },
    )
}

fn layer_norm(p: nn::Path<'_>, dim: i64) -> nn::LayerNorm {
    nn::layer_norm(
        p,
        vec![dim],
        nn::LayerNormConfig {
            eps: 1e-6,
            ..Default::default()
        },
    )
}

/// The masked autoencoder; see the module documentation.
#[derive(Debug)]
pub struct Mae {
    vs: VarStore,
    g: MaeGeometry,
    shape: Vec<i64>,
    mask_ratio: f64,
    norm_pix_loss: bool,
    pool: Pool,
    patch_w: Tensor,
    patch_b: Tensor,
    cls_token: Tensor,
    pos_embed: Tensor,
    blocks: Vec<TransformerBlock>,
    norm: nn::LayerNorm,
    decoder_embed: nn::Linear,
    mask_token: Tensor,
    decoder_pos_embed: Tensor,
    decoder_blocks: Vec<TransformerBlock>,
    decoder_norm: nn::LayerNorm,
    decoder_pred: nn::Linear,
}

/// What one masked forward pass produced.
#[derive(Debug)]
pub struct MaeOutput {
    /// Predicted patches `N×L×(ph·pw·C)` (standardised patches when `norm_pix_loss`).
    pub pred: Tensor,
    /// `N×L`, 1 = removed.
    pub mask: Tensor,
    /// The loss on the removed patches.
    pub loss: Tensor,
}

impl Mae {
    /// Builds the MAE for samples of `shape` (`[C,H,W]` or `[F,T]`).
    pub fn new(
        vs: VarStore,
        cfg: &MaeConfig,
        backbone: &BackboneConfig,
        shape: &[i64],
    ) -> Result<Self> {
        let g = cfg.geometry(backbone, shape)?;
        let root = vs.root();
        let enc = &root / "backbone";
        let (ph, pw) = g.patch;
        let fan_in = g.channels * ph * pw;
        let proj = &enc / "patch_embed" / "proj";
        let patch_w = proj.var(
            "weight",
            &[g.dim, g.channels, ph, pw],
            xavier(fan_in, g.dim),
        );
        let bb = 1.0 / (fan_in as f64).sqrt();
        let patch_b = proj.var("bias", &[g.dim], nn::Init::Uniform { lo: -bb, up: bb });
        let tok = nn::Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        };
        let cls_token = enc.var("cls_token", &[1, 1, g.dim], tok);
        let (rows, cols) = (g.grid.0 as usize, g.grid.1 as usize);
        let table = |d: i64| {
            Tensor::from_slice(&sincos_pos_embed_2d(d as usize, rows, cols, true))
                .to_kind(Kind::Float)
                .reshape([1, g.num_patches() + 1, d])
                .to_device(vs.device())
        };
        let pos_embed = enc.add("pos_embed", table(g.dim), false);
        let blocks = (0..g.depth)
            .map(|i| {
                TransformerBlock::with_linear(
                    &(&enc / "blocks" / i),
                    g.dim,
                    g.heads,
                    g.mlp_ratio,
                    xlinear,
                )
            })
            .collect();
        let norm = layer_norm(&enc / "norm", g.dim);
        let dd = cfg.decoder_embed_dim;
        let decoder_embed = xlinear(&root / "decoder_embed", g.dim, dd);
        let mask_token = root.var("mask_token", &[1, 1, dd], tok);
        let decoder_pos_embed = root.add("decoder_pos_embed", table(dd), false);
        let decoder_blocks = (0..cfg.decoder_depth)
            .map(|i| {
                TransformerBlock::with_linear(
                    &(&root / "decoder_blocks" / i),
                    dd,
                    cfg.decoder_num_heads,
                    cfg.mlp_ratio,
                    xlinear,
                )
            })
            .collect();
        let decoder_norm = layer_norm(&root / "decoder_norm", dd);
        let decoder_pred = xlinear(&root / "decoder_pred", dd, ph * pw * g.channels);
        Ok(Mae {
            g,
            shape: shape.to_vec(),
            mask_ratio: cfg.mask_ratio,
            norm_pix_loss: cfg.norm_pix_loss,
            pool: cfg.pool,
            patch_w,
            patch_b,
            cls_token,
            pos_embed,
            blocks,
            norm,
            decoder_embed,
            mask_token,
            decoder_pos_embed,
            decoder_blocks,
            decoder_norm,
            decoder_pred,
            vs,
        })
    }

    /// The geometry (patch, grid, encoder sizes).
    pub fn geometry(&self) -> &MaeGeometry {
        &self.g
    }

    /// The mask ratio.
    pub fn mask_ratio(&self) -> f64 {
        self.mask_ratio
    }

    fn as_images(&self, x: &Tensor) -> Tensor {
        if self.shape.len() == 2 {
            x.unsqueeze(1)
        } else {
            x.shallow_clone()
        }
    }

    /// Patch tokens with position embeddings, `N×L×D`.
    fn embed_patches(&self, imgs: &Tensor) -> Tensor {
        let (ph, pw) = self.g.patch;
        imgs.conv2d(
            &self.patch_w,
            Some(&self.patch_b),
            [ph, pw],
            [0, 0],
            [1, 1],
            1,
        )
        .flatten(2, -1)
        .transpose(1, 2)
            + self.pos_embed.narrow(1, 1, self.g.num_patches())
    }

    fn encode_tokens(&self, x: Tensor) -> Tensor {
        let n = x.size()[0];
        let cls =
            (&self.cls_token + self.pos_embed.narrow(1, 0, 1)).expand([n, 1, self.g.dim], false);
        let mut x = Tensor::cat(&[cls, x], 1);
        for b in &self.blocks {
            x = b.forward(&x);
        }
        self.norm.forward(&x)
    }

    fn decode_tokens(&self, latent: &Tensor, ids_restore: &Tensor) -> Tensor {
        let x = self.decoder_embed.forward(latent);
        let s = x.size();
        let (n, lv, d) = (s[0], s[1], s[2]);
        let l = ids_restore.size()[1];
        let mask_tokens = self.mask_token.repeat([n, l + 1 - lv, 1]);
        let x_ = Tensor::cat(&[x.narrow(1, 1, lv - 1), mask_tokens], 1).gather(
            1,
            &ids_restore.unsqueeze(-1).repeat([1, 1, d]),
            false,
        );
        let mut x = Tensor::cat(&[x.narrow(1, 0, 1), x_], 1) + &self.decoder_pos_embed;
        for b in &self.decoder_blocks {
            x = b.forward(&x);
        }
        let x = self.decoder_pred.forward(&self.decoder_norm.forward(&x));
        x.narrow(1, 1, l)
    }

    /// One masked forward pass of `x` (`N×shape`) with the uniform `noise` (`N×L`) deciding the mask.
    pub fn forward_with_noise(&self, x: &Tensor, noise: &Tensor, train: bool) -> Result<MaeOutput> {
        check_shape(x, &self.shape, "mae")?;
        let n = x.size()[0];
        let l = self.g.num_patches();
        if noise.size() != [n, l] {
            return Err(
                Error::shape(format!("mae noise must be {n}×{l}, got {:?}", noise.size())).into(),
            );
        }
        let _ = train;
        let imgs = self.as_images(x);
        let tokens = self.embed_patches(&imgs);
        let (kept, mask, ids_restore) = random_masking(&tokens, self.mask_ratio, noise);
        let latent = self.encode_tokens(kept);
        let pred = self.decode_tokens(&latent, &ids_restore);
        let target = patchify(&imgs, self.g.patch)?;
        let loss = masked_mse(&target, &pred, &mask, self.norm_pix_loss);
        Ok(MaeOutput { pred, mask, loss })
    }

    /// One masked forward pass with noise from libtorch's generator.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<MaeOutput> {
        let n = x.size().first().copied().unwrap_or(0);
        let noise = Tensor::rand([n, self.g.num_patches()], (Kind::Float, x.device()));
        self.forward_with_noise(x, &noise, train)
    }

    /// Encoder features of all patches (no masking), eval mode, no gradient: `N×D` (`N×2D` for
    /// `pool = "cls_mean"`).
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        check_shape(x, &self.shape, "mae")?;
        Ok(tch::no_grad(|| {
            let t = self.encode_tokens(self.embed_patches(&self.as_images(x)));
            let mean = || {
                t.narrow(1, 1, self.g.num_patches())
                    .mean_dim(1, false, Kind::Float)
            };
            match self.pool {
                Pool::Cls => t.select(1, 0),
                Pool::Mean => mean(),
                Pool::ClsMean => Tensor::cat(&[t.select(1, 0), mean()], 1),
            }
        }))
    }

    /// For pictures: `(masked input, reconstruction, original)` in input space (`N×shape` each),
    /// with a mask from libtorch's generator. The reconstruction pastes the visible patches of the
    /// input over the prediction (MAE's demo); `norm_pix_loss` predictions are un-normalised with each
    /// target patch's mean and variance. Masked patches of the first picture are zero.
    pub fn reconstruct_masked(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let n = x.size().first().copied().unwrap_or(0);
        let noise = Tensor::rand([n, self.g.num_patches()], (Kind::Float, x.device()));
        self.reconstruct_masked_with_noise(x, &noise)
    }

    /// Patches per sample (`L`): the width of the masking noise of
    /// [`Mae::reconstruct_masked_with_noise`].
    pub fn num_patches(&self) -> i64 {
        self.g.num_patches()
    }

    /// [`Mae::reconstruct_masked`] with the masking noise given (`N×L`, see [`random_masking`]), so
    /// that a caller can draw it from its own keyed generator instead of libtorch's.
    pub fn reconstruct_masked_with_noise(
        &self,
        x: &Tensor,
        noise: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        tch::no_grad(|| {
            let out = self.forward_with_noise(x, noise, false)?;
            let imgs = self.as_images(x);
            let target = patchify(&imgs, self.g.patch)?;
            let pred = if self.norm_pix_loss {
                let mean = target.mean_dim(-1, true, Kind::Float);
                let var = target.var_dim(-1, true, true);
                &out.pred * (var + 1e-6).sqrt() + mean
            } else {
                out.pred.shallow_clone()
            };
            let m = out.mask.unsqueeze(-1);
            let masked = &target * (-&m + 1.0);
            let pasted = &masked + &pred * &m;
            let back = |t: &Tensor| -> Result<Tensor> {
                let img = unpatchify(t, self.g.patch, self.g.grid, self.g.channels)?;
                Ok(img.reshape(x.size()))
            };
            Ok((back(&masked)?, back(&pasted)?, x.shallow_clone()))
        })
    }

    /// The reconstruction of `x` in input space (see [`Mae::reconstruct_masked`]).
    pub fn reconstruct(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.reconstruct_masked(x)?.1)
    }
}

impl Method for Mae {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "mae"
    }
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vs
    }
    fn step(&mut self, batch: &Batch, _info: &StepInfo) -> Result<StepOutput> {
        let x = view(batch, 0, "mae", 1)?;
        let out = self.forward(x, true)?;
        let scalars = vec![("recon".to_string(), scalar(&out.loss))];
        Ok(StepOutput::new(out.loss, scalars))
    }
    fn embed(&self, x: &Tensor) -> Result<Tensor> {
        self.encode(x)
    }
    fn embed_dim(&self) -> i64 {
        match self.pool {
            Pool::ClsMean => 2 * self.g.dim,
            Pool::Cls | Pool::Mean => self.g.dim,
        }
    }
    /// The prediction with the visible patches of the input pasted in (see
    /// [`Mae::reconstruct_masked`]).
    fn reconstruct(&self, x: &Tensor) -> Result<Option<Tensor>> {
        Mae::reconstruct(self, x).map(Some)
    }
    /// `val_recon`: the masked-patch loss of a held-out batch (mask from libtorch's generator),
    /// no gradient.
    fn evaluate(&mut self, batch: &Batch) -> Result<Vec<(String, f64)>> {
        let x = view(batch, 0, "mae", 1)?;
        let out = tch::no_grad(|| self.forward(x, false))?;
        Ok(vec![("val_recon".to_string(), scalar(&out.loss))])
    }
}
