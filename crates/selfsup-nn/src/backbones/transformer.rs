//! Transformers: the Vision Transformer ([`Vit`]) over image patches and a small Transformer encoder
//! over token ids ([`TokenTransformer`]). Both share the pre-norm block of ViT/timm:
//! `x + attn(norm1(x))`, then `x + mlp(norm2(x))` with a GELU MLP of width `mlp_ratio · dim`.
//!
//! Names follow timm's ViT: `patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.{i}.norm1`,
//! `blocks.{i}.attn.qkv`, `blocks.{i}.attn.proj`, `blocks.{i}.norm2`, `blocks.{i}.mlp.fc1`, `.fc2`, `norm`.
//! The ViT's feature is the final-normed class token; the token encoder's is the mean over positions.
//! Presets: `vit_tiny` (dim 192, depth 12, heads 3) and `vit_small` (384, 12, 6) via [`VitConfig::tiny`]
//! / [`VitConfig::small`].

use super::{positive_i64, Backbone};
use crate::layers::linear;
use crate::Result;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::{Kind, Tensor};

/// Configuration of a [`Vit`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VitConfig {
    /// Input side length (square images).
    pub image_size: i64,
    /// Patch side length; must divide `image_size`.
    pub patch_size: i64,
    /// Embedding width.
    pub dim: i64,
    /// Number of blocks.
    pub depth: i64,
    /// Attention heads; must divide `dim`.
    pub heads: i64,
    /// MLP width as a multiple of `dim`.
    pub mlp_ratio: f64,
}

impl Default for VitConfig {
    fn default() -> Self {
        VitConfig::tiny(32, 4)
    }
}

impl VitConfig {
    /// ViT-Tiny: dim 192, depth 12, 3 heads.
    pub fn tiny(image_size: i64, patch_size: i64) -> Self {
        VitConfig {
            image_size,
            patch_size,
            dim: 192,
            depth: 12,
            heads: 3,
            mlp_ratio: 4.0,
        }
    }

    /// ViT-Small: dim 384, depth 12, 6 heads.
    pub fn small(image_size: i64, patch_size: i64) -> Self {
        VitConfig {
            dim: 384,
            heads: 6,
            ..Self::tiny(image_size, patch_size)
        }
    }

    /// Positive sizes; `patch_size` divides `image_size`, `heads` divides `dim`.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        positive_i64("backbone.image_size", self.image_size)?;
        positive_i64("backbone.patch_size", self.patch_size)?;
        positive_i64("backbone.dim", self.dim)?;
        positive_i64("backbone.depth", self.depth)?;
        positive_i64("backbone.heads", self.heads)?;
        selfsup_core::check::positive("backbone.mlp_ratio", self.mlp_ratio)?;
        if self.image_size % self.patch_size != 0 {
            return Err(selfsup_core::Error::config(
                "backbone.patch_size",
                format!(
                    "must divide image_size {}, got {}",
                    self.image_size, self.patch_size
                ),
            ));
        }
        check_heads(self.dim, self.heads)
    }
}

fn check_heads(dim: i64, heads: i64) -> selfsup_core::Result<()> {
    if dim % heads != 0 {
        return Err(selfsup_core::Error::config(
            "backbone.heads",
            format!("must divide dim {dim}, got {heads}"),
        ));
    }
    Ok(())
}

/// Configuration of a [`TokenTransformer`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformerConfig {
    /// Vocabulary size (token ids must lie in `[0, vocab_size)`).
    pub vocab_size: i64,
    /// Longest sequence.
    pub max_len: i64,
    /// Embedding width.
    pub dim: i64,
    /// Number of blocks.
    pub depth: i64,
    /// Attention heads; must divide `dim`.
    pub heads: i64,
    /// MLP width as a multiple of `dim`.
    pub mlp_ratio: f64,
}

impl Default for TransformerConfig {
    fn default() -> Self {
        TransformerConfig {
            vocab_size: 1000,
            max_len: 128,
            dim: 128,
            depth: 2,
            heads: 4,
            mlp_ratio: 4.0,
        }
    }
}

impl TransformerConfig {
    /// Positive sizes; `heads` divides `dim`.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        positive_i64("backbone.vocab_size", self.vocab_size)?;
        positive_i64("backbone.max_len", self.max_len)?;
        positive_i64("backbone.dim", self.dim)?;
        positive_i64("backbone.depth", self.depth)?;
        positive_i64("backbone.heads", self.heads)?;
        selfsup_core::check::positive("backbone.mlp_ratio", self.mlp_ratio)?;
        check_heads(self.dim, self.heads)
    }
}

/// timm's pre-norm Transformer block (`norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`,
/// `mlp.fc2`): `x + attn(norm1(x))`, then `x + mlp(norm2(x))`, LayerNorm eps 1e-6, GELU MLP. Shared by
/// the ViT, the token encoder and the masked autoencoder (which builds its linears with its own init).
#[derive(Debug)]
pub struct TransformerBlock {
    norm1: nn::LayerNorm,
    qkv: nn::Linear,
    proj: nn::Linear,
    norm2: nn::LayerNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
    heads: i64,
}

impl TransformerBlock {
    /// A block whose linears start from PyTorch's default initialisation.
    pub fn new(p: &nn::Path<'_>, dim: i64, heads: i64, mlp_ratio: f64) -> TransformerBlock {
        Self::with_linear(p, dim, heads, mlp_ratio, |p, i, o| linear(p, i, o, true))
    }

    /// A block whose linears are made by `make_linear(path, in, out)` (e.g. Xavier-uniform as MAE).
    pub fn with_linear(
        p: &nn::Path<'_>,
        dim: i64,
        heads: i64,
        mlp_ratio: f64,
        make_linear: impl Fn(nn::Path<'_>, i64, i64) -> nn::Linear,
    ) -> TransformerBlock {
        let ln = nn::LayerNormConfig {
            eps: 1e-6,
            ..Default::default()
        };
        let hidden = ((dim as f64) * mlp_ratio).round().max(1.0) as i64;
        TransformerBlock {
            norm1: nn::layer_norm(p / "norm1", vec![dim], ln),
            qkv: make_linear(p / "attn" / "qkv", dim, 3 * dim),
            proj: make_linear(p / "attn" / "proj", dim, dim),
            norm2: nn::layer_norm(p / "norm2", vec![dim], ln),
            fc1: make_linear(p / "mlp" / "fc1", dim, hidden),
            fc2: make_linear(p / "mlp" / "fc2", hidden, dim),
            heads,
        }
    }

    /// `N×L×dim` → `N×L×dim`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let s = x.size();
        let (n, l, d) = (s[0], s[1], s[2]);
        let h = self.heads;
        let qkv = self
            .qkv
            .forward(&self.norm1.forward(x))
            .reshape([n, l, 3, h, d / h])
            .permute([2, 0, 3, 1, 4]);
        let a = Tensor::scaled_dot_product_attention(
            &qkv.get(0),
            &qkv.get(1),
            &qkv.get(2),
            None::<Tensor>,
            0.0,
            false,
            None::<f64>,
            false,
        )
        .transpose(1, 2)
        .reshape([n, l, d]);
        let x = x + self.proj.forward(&a);
        let m = self
            .fc2
            .forward(&self.fc1.forward(&self.norm2.forward(&x)).gelu("none"));
        x + m
    }
}

/// The Vision Transformer; see the module documentation.
#[derive(Debug)]
pub struct Vit {
    patch: nn::Conv2D,
    cls_token: Tensor,
    pos_embed: Tensor,
    blocks: Vec<TransformerBlock>,
    norm: nn::LayerNorm,
    dim: i64,
}

impl Vit {
    /// Builds the ViT under `p`.
    pub fn new(p: &nn::Path<'_>, cfg: &VitConfig, in_channels: i64) -> Result<Self> {
        cfg.validate()?;
        let n_patches = (cfg.image_size / cfg.patch_size).pow(2);
        let patch = nn::conv2d(
            p / "patch_embed" / "proj",
            in_channels,
            cfg.dim,
            cfg.patch_size,
            nn::ConvConfig {
                stride: cfg.patch_size,
                ws_init: crate::layers::TORCH_DEFAULT_INIT,
                bs_init: nn::Init::Uniform {
                    lo: -1.0 / ((in_channels * cfg.patch_size * cfg.patch_size) as f64).sqrt(),
                    up: 1.0 / ((in_channels * cfg.patch_size * cfg.patch_size) as f64).sqrt(),
                },
                ..Default::default()
            },
        );
        let init = nn::Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        };
        let cls_token = p.var("cls_token", &[1, 1, cfg.dim], init);
        let pos_embed = p.var("pos_embed", &[1, n_patches + 1, cfg.dim], init);
        let blocks = (0..cfg.depth)
            .map(|i| TransformerBlock::new(&(p / "blocks" / i), cfg.dim, cfg.heads, cfg.mlp_ratio))
            .collect();
        let norm = nn::layer_norm(
            p / "norm",
            vec![cfg.dim],
            nn::LayerNormConfig {
                eps: 1e-6,
                ..Default::default()
            },
        );
        Ok(Vit {
            patch,
            cls_token,
            pos_embed,
            blocks,
            norm,
            dim: cfg.dim,
        })
    }
}

impl ModuleT for Vit {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let x = self.patch.forward(xs).flatten(2, -1).transpose(1, 2);
        let n = x.size()[0];
        let cls = self.cls_token.expand([n, 1, self.dim], false);
        let mut x = Tensor::cat(&[cls, x], 1) + &self.pos_embed;
        for b in &self.blocks {
            x = b.forward(&x);
        }
        self.norm.forward(&x).select(1, 0)
    }
}

impl Backbone for Vit {
    fn output_dim(&self) -> i64 {
        self.dim
    }
}

/// A Transformer encoder over token ids (`N×L`, int64, `L ≤ max_len`), mean-pooled over positions.
/// Names: `embed.weight`, `pos_embed`, `blocks.{i}.…`, `norm`.
#[derive(Debug)]
pub struct TokenTransformer {
    embed: nn::Embedding,
    pos_embed: Tensor,
    blocks: Vec<TransformerBlock>,
    norm: nn::LayerNorm,
    dim: i64,
}

impl TokenTransformer {
    /// Builds the encoder under `p`.
    pub fn new(p: &nn::Path<'_>, cfg: &TransformerConfig) -> Result<Self> {
        cfg.validate()?;
        let embed = nn::embedding(p / "embed", cfg.vocab_size, cfg.dim, Default::default());
        let pos_embed = p.var(
            "pos_embed",
            &[1, cfg.max_len, cfg.dim],
            nn::Init::Randn {
                mean: 0.0,
                stdev: 0.02,
            },
        );
        let blocks = (0..cfg.depth)
            .map(|i| TransformerBlock::new(&(p / "blocks" / i), cfg.dim, cfg.heads, cfg.mlp_ratio))
            .collect();
        let norm = nn::layer_norm(p / "norm", vec![cfg.dim], Default::default());
        Ok(TokenTransformer {
            embed,
            pos_embed,
            blocks,
            norm,
            dim: cfg.dim,
        })
    }
}

impl ModuleT for TokenTransformer {
    fn forward_t(&self, xs: &Tensor, _train: bool) -> Tensor {
        let l = xs.size()[1];
        let mut x = self.embed.forward(&xs.to_kind(Kind::Int64)) + self.pos_embed.narrow(1, 0, l);
        for b in &self.blocks {
            x = b.forward(&x);
        }
        self.norm.forward(&x).mean_dim(1, false, Kind::Float)
    }
}

impl Backbone for TokenTransformer {
    fn output_dim(&self) -> i64 {
        self.dim
    }
}
