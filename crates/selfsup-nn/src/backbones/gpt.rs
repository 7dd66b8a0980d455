//! A GPT-style Transformer over token ids ([`Gpt`]): the causal decoder of next-token models and, with
//! `causal = false`, the bidirectional encoder of masked-token (BERT-style) models.
//!
//! Architecture (nanoGPT, Karpathy 2022, itself GPT-2): token embedding `wte` plus learned position
//! embedding `wpe`, embedding dropout, `n_layer` pre-LayerNorm blocks
//! `x + drop(c_proj(attn(ln_1(x))))`, `x + drop(c_proj(gelu(c_fc(ln_2(x)))))` (exact erf GELU, MLP
//! width `4 · n_embd`), a final LayerNorm `ln_f`, and an output layer that shares its weight with
//! `wte` (weight tying, Press & Wolf 2017): `logits = ln_f(x) · wteᵀ`. Attention is libtorch's
//! `scaled_dot_product_attention` with `is_causal = true` (decoder) or no mask (encoder) and attention
//! dropout in training. LayerNorm eps is 1e-5; `bias = false` drops every Linear and LayerNorm bias.
//!
//! Initialisation as nanoGPT: every Linear and Embedding weight `N(0, 0.02)`, biases zero, LayerNorm
//! weights one, and the residual projections (`attn.c_proj`, `mlp.c_proj`) `N(0, 0.02/√(2·n_layer))`.
//!
//! Names (nanoGPT's, under the module's path): `wte.weight`, `wpe.weight`, `h.{i}.ln_1.{weight,bias}`,
//! `h.{i}.attn.c_attn.{weight,bias}`, `h.{i}.attn.c_proj`, `h.{i}.ln_2`, `h.{i}.mlp.c_fc`,
//! `h.{i}.mlp.c_proj`, `ln_f`; the tied output layer has no variable of its own.
//!
//! Inputs are checked before any libtorch call ([`Gpt::f_logits`]): `N×L` integer ids with
//! `1 <= L <= block_size` and every id in `[0, vocab_size)`.

use super::{positive_i64, Backbone};
use crate::Result;
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

/// Configuration of a [`Gpt`] (field names as nanoGPT's `GPTConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GptConfig {
    /// Vocabulary size (ids in `[0, vocab_size)`).
    pub vocab_size: i64,
    /// Longest context (positions of `wpe`).
    pub block_size: i64,
    /// Number of blocks.
    pub n_layer: i64,
    /// Attention heads; must divide `n_embd`.
    pub n_head: i64,
    /// Embedding width.
    pub n_embd: i64,
    /// Dropout probability (embeddings, attention weights, residual branches) in training.
    pub dropout: f64,
    /// Biases in the Linear and LayerNorm layers.
    pub bias: bool,
    /// Causal self-attention (decoder, next-token) when true; bidirectional (encoder, MLM) when false.
    pub causal: bool,
}

impl Default for GptConfig {
    /// The small CPU configuration: 4 layers, 4 heads, width 128, context 64, no dropout, no bias.
    fn default() -> Self {
        GptConfig {
            vocab_size: 259,
            block_size: 64,
            n_layer: 4,
            n_head: 4,
            n_embd: 128,
            dropout: 0.0,
            bias: false,
            causal: true,
        }
    }
}

impl GptConfig {
    /// Positive sizes; `n_head` divides `n_embd`; `dropout` in `[0, 1)`.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        positive_i64("backbone.vocab_size", self.vocab_size)?;
        positive_i64("backbone.block_size", self.block_size)?;
        positive_i64("backbone.n_layer", self.n_layer)?;
        positive_i64("backbone.n_head", self.n_head)?;
        positive_i64("backbone.n_embd", self.n_embd)?;
        if self.n_embd % self.n_head != 0 {
            return Err(selfsup_core::Error::config(
                "backbone.n_head",
                format!("must divide n_embd {}, got {}", self.n_embd, self.n_head),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(selfsup_core::Error::config(
                "backbone.dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            ));
        }
        Ok(())
    }

    /// Number of trainable parameters (the tied output layer counted once, as nanoGPT reports with
    /// `non_embedding = False`).
    pub fn num_params(&self) -> i64 {
        let d = self.n_embd;
        let b = i64::from(self.bias);
        let block = 2 * d * (1 + b)          // ln_1, ln_2
            + d * 3 * d + 3 * d * b          // c_attn
            + d * d + d * b                  // attn.c_proj
            + d * 4 * d + 4 * d * b          // c_fc
            + 4 * d * d + d * b; // mlp.c_proj
        self.vocab_size * d + self.block_size * d + self.n_layer * block + d * (1 + b)
    }
}

#[derive(Debug)]
struct Linear {
    ws: Tensor,
    bs: Option<Tensor>,
}

impl Linear {
    fn new(p: nn::Path<'_>, i: i64, o: i64, bias: bool, std: f64) -> Linear {
        let ws = p.var(
            "weight",
            &[o, i],
            nn::Init::Randn {
                mean: 0.0,
                stdev: std,
            },
        );
        let bs = bias.then(|| p.var("bias", &[o], nn::Init::Const(0.0)));
        Linear { ws, bs }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.ws, self.bs.as_ref())
    }
}

#[derive(Debug)]
struct LayerNorm {
    ws: Tensor,
    bs: Option<Tensor>,
    dim: i64,
}

impl LayerNorm {
    fn new(p: nn::Path<'_>, dim: i64, bias: bool) -> LayerNorm {
        let ws = p.var("weight", &[dim], nn::Init::Const(1.0));
        let bs = bias.then(|| p.var("bias", &[dim], nn::Init::Const(0.0)));
        LayerNorm { ws, bs, dim }
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm([self.dim], Some(&self.ws), self.bs.as_ref(), 1e-5, true)
    }
}

#[derive(Debug)]
struct Block {
    ln_1: LayerNorm,
    c_attn: Linear,
    attn_proj: Linear,
    ln_2: LayerNorm,
    c_fc: Linear,
    mlp_proj: Linear,
    n_head: i64,
    dropout: f64,
    causal: bool,
}

impl Block {
    fn new(p: &nn::Path<'_>, cfg: &GptConfig) -> Block {
        let d = cfg.n_embd;
        let std = 0.02;
        let proj_std = 0.02 / ((2 * cfg.n_layer) as f64).sqrt();
        Block {
            ln_1: LayerNorm::new(p / "ln_1", d, cfg.bias),
            c_attn: Linear::new(p / "attn" / "c_attn", d, 3 * d, cfg.bias, std),
            attn_proj: Linear::new(p / "attn" / "c_proj", d, d, cfg.bias, proj_std),
            ln_2: LayerNorm::new(p / "ln_2", d, cfg.bias),
            c_fc: Linear::new(p / "mlp" / "c_fc", d, 4 * d, cfg.bias, std),
            mlp_proj: Linear::new(p / "mlp" / "c_proj", 4 * d, d, cfg.bias, proj_std),
            n_head: cfg.n_head,
            dropout: cfg.dropout,
            causal: cfg.causal,
        }
    }

    fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let s = x.size();
        let (n, l, d) = (s[0], s[1], s[2]);
        let h = self.n_head;
        let qkv = self
            .c_attn
            .forward(&self.ln_1.forward(x))
            .reshape([n, l, 3, h, d / h])
            .permute([2, 0, 3, 1, 4]);
        let p = if train { self.dropout } else { 0.0 };
        let a = Tensor::scaled_dot_product_attention(
            &qkv.get(0),
            &qkv.get(1),
            &qkv.get(2),
            None::<Tensor>,
            p,
            self.causal,
            None::<f64>,
            false,
        )
        .transpose(1, 2)
        .reshape([n, l, d]);
        let x = x + self.attn_proj.forward(&a).dropout(p, train);
        let m = self
            .mlp_proj
            .forward(&self.c_fc.forward(&self.ln_2.forward(&x)).gelu("none"))
            .dropout(p, train);
        x + m
    }
}

/// A GPT-style Transformer with a tied language-model head; see the module documentation.
#[derive(Debug)]
pub struct Gpt {
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    cfg: GptConfig,
}

impl Gpt {
    /// Builds the model under `p`.
    pub fn new(p: &nn::Path<'_>, cfg: &GptConfig) -> Result<Self> {
        cfg.validate()?;
        let init = nn::Init::Randn {
            mean: 0.0,
            stdev: 0.02,
        };
        let wte = (p / "wte").var("weight", &[cfg.vocab_size, cfg.n_embd], init);
        let wpe = (p / "wpe").var("weight", &[cfg.block_size, cfg.n_embd], init);
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::new(&(p / "h" / i), cfg))
            .collect();
        let ln_f = LayerNorm::new(p / "ln_f", cfg.n_embd, cfg.bias);
        Ok(Gpt {
            wte,
            wpe,
            blocks,
            ln_f,
            cfg: cfg.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GptConfig {
        &self.cfg
    }

    /// The token embedding (also the output layer's weight), `vocab_size × n_embd`.
    pub fn wte(&self) -> &Tensor {
        &self.wte
    }

    /// Checks that `idx` is `N×L` integer ids with `1 <= L <= block_size` and ids in range.
    pub fn check_input(&self, idx: &Tensor) -> Result<()> {
        let s = idx.size();
        if s.len() != 2 || s[0] < 1 || s[1] < 1 {
            return Err(selfsup_core::Error::shape(format!(
                "token ids must be N×L with N, L >= 1, got shape {s:?}"
            ))
            .into());
        }
        if !matches!(
            idx.kind(),
            Kind::Int64 | Kind::Int | Kind::Int16 | Kind::Int8 | Kind::Uint8
        ) {
            return Err(selfsup_core::Error::shape(format!(
                "token ids must be integers, got {:?}",
                idx.kind()
            ))
            .into());
        }
        if s[1] > self.cfg.block_size {
            return Err(selfsup_core::Error::shape(format!(
                "sequence length {} exceeds the model's context block_size = {}",
                s[1], self.cfg.block_size
            ))
            .into());
        }
        let lo = idx.f_min()?.f_int64_value(&[])?;
        let hi = idx.f_max()?.f_int64_value(&[])?;
        if lo < 0 || hi >= self.cfg.vocab_size {
            return Err(selfsup_core::Error::shape(format!(
                "token ids must lie in [0, {}), got ids in [{lo}, {hi}]",
                self.cfg.vocab_size
            ))
            .into());
        }
        Ok(())
    }

    /// Final-normed hidden states `N×L×n_embd` (inputs unchecked; see [`Gpt::check_input`]).
    pub fn hidden(&self, idx: &Tensor, train: bool) -> Tensor {
        let l = idx.size()[1];
        let idx = idx.to_kind(Kind::Int64);
        let p = if train { self.cfg.dropout } else { 0.0 };
        let mut x = (Tensor::embedding(&self.wte, &idx, -1, false, false)
            + self.wpe.narrow(0, 0, l))
        .dropout(p, train);
        for b in &self.blocks {
            x = b.forward(&x, train);
        }
        self.ln_f.forward(&x)
    }

    /// Logits `N×L×vocab_size` through the tied output layer (inputs unchecked).
    pub fn logits(&self, idx: &Tensor, train: bool) -> Tensor {
        self.hidden(idx, train).linear(&self.wte, None::<Tensor>)
    }

    /// [`Gpt::logits`] after [`Gpt::check_input`].
    pub fn f_logits(&self, idx: &Tensor, train: bool) -> Result<Tensor> {
        self.check_input(idx)?;
        Ok(self.logits(idx, train))
    }

    /// Sequence features `N×n_embd`: the last position's hidden state for a causal model (the only
    /// one that has seen the whole sequence), the mean over positions for a bidirectional one.
    pub fn features(&self, idx: &Tensor, train: bool) -> Tensor {
        let h = self.hidden(idx, train);
        if self.cfg.causal {
            h.select(1, -1)
        } else {
            h.mean_dim(1, false, Kind::Float)
        }
    }
}

impl ModuleT for Gpt {
    /// [`Gpt::features`].
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        self.features(xs, train)
    }
}

impl Backbone for Gpt {
    fn output_dim(&self) -> i64 {
        self.cfg.n_embd
    }
}
