//! The small VGG-like ConvNet: `len(widths)` blocks of conv3×3 (padding 1, no bias) → BN → ReLU →
//! 2×2 max-pool, then a global average pool. The default widths 32-64-128-256 are the 4-block network
//! of the reference benchmark. Max-pooling is skipped once a feature map is smaller than 2×2, so the
//! network also accepts small inputs (28×28 MNIST goes 28→14→7→3→1).
//!
//! `ceil_mode` is `torch.nn.MaxPool2d`'s: with it a pool keeps the odd last row and column of a map
//! (7→4 instead of 7→3), so at 28 px every conv output is pooled (28→14→7→4→2). Without it (the
//! reference network's floor mode, the default) the fourth block's 3×3 outputs pool to the max of
//! their top-left 2×2 (the last row and column reach the feature only through the receptive fields
//! of the others). Even sides (32, 64, 96 px) give the same network either way.
//!
//! Parameter names: `blocks.{i}.conv.weight`, `blocks.{i}.bn.{weight,bias,running_mean,...}`.

use super::{global_avg_pool, positive_i64, Backbone};
use crate::layers::{conv2d, BatchNorm};
use crate::Result;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// Configuration of a [`ConvNet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvNetConfig {
    /// Output channels of each block.
    pub widths: Vec<i64>,
    /// Max-pools round their output size up (`torch.nn.MaxPool2d(ceil_mode=True)`): odd maps keep
    /// their last row and column (default false, the reference network's floor).
    pub ceil_mode: bool,
}

impl Default for ConvNetConfig {
    fn default() -> Self {
        ConvNetConfig {
            widths: vec![32, 64, 128, 256],
            ceil_mode: false,
        }
    }
}

impl ConvNetConfig {
    /// At least one block, every width ≥ 1.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        selfsup_core::check::at_least("backbone.widths (number of blocks)", self.widths.len(), 1)?;
        for (i, &w) in self.widths.iter().enumerate() {
            positive_i64(&format!("backbone.widths[{i}]"), w)?;
        }
        Ok(())
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct ConvNet {
    blocks: Vec<(nn::Conv2D, BatchNorm)>,
    output_dim: i64,
    ceil_mode: bool,
}

impl ConvNet {
    /// Builds the network under `p` for `in_channels` input channels.
    pub fn new(p: &nn::Path<'_>, cfg: &ConvNetConfig, in_channels: i64) -> Result<Self> {
        cfg.validate()?;
        let mut c_in = in_channels;
        let mut blocks = Vec::new();
        for (i, &w) in cfg.widths.iter().enumerate() {
            let b = p / "blocks" / i;
            blocks.push((
                conv2d(&(&b / "conv"), c_in, w, 3, 1, 1, false),
                BatchNorm::new(&(&b / "bn"), w),
            ));
            c_in = w;
        }
        Ok(ConvNet {
            blocks,
            output_dim: c_in,
            ceil_mode: cfg.ceil_mode,
        })
    }
}

impl ConvNet {
    /// The last block's output (after its max-pool), before the global average pool.
    fn feature_map(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = xs.shallow_clone();
        for (conv, bn) in &self.blocks {
            x = bn.forward_t(&conv.forward(&x), train).relu();
            let s = x.size();
            if s[2] >= 2 && s[3] >= 2 {
                x = x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], self.ceil_mode);
            }
        }
        x
    }
}

impl ModuleT for ConvNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        global_avg_pool(&self.feature_map(xs, train))
    }
}

impl Backbone for ConvNet {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }

    fn forward_map_t(&self, xs: &Tensor, train: bool) -> Option<Tensor> {
        Some(self.feature_map(xs, train))
    }
}
