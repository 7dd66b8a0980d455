//! Audio encoders. The log-mel encoder is a [`super::ConvNet`] over `N×1×mels×frames` (kind
//! `audio_cnn`); this file holds the raw-waveform encoder [`Conv1dNet`] (kind `conv1d`), in the spirit
//! of M5: a wide strided first convolution, then blocks of conv → BN → ReLU → max-pool 4, and a global
//! average pool over time. Names: `blocks.{i}.conv.weight`, `blocks.{i}.bn.*`.

use super::{global_avg_pool, positive_i64, Backbone};
use crate::layers::{conv1d, BatchNorm};
use crate::Result;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// Configuration of a [`Conv1dNet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conv1dConfig {
    /// Output channels of each block.
    pub widths: Vec<i64>,
    /// Kernel size of the first convolution.
    pub first_kernel: i64,
    /// Stride of the first convolution.
    pub first_stride: i64,
    /// Kernel size of the other convolutions.
    pub kernel: i64,
}

impl Default for Conv1dConfig {
    fn default() -> Self {
        Conv1dConfig {
            widths: vec![32, 32, 64, 64],
            first_kernel: 80,
            first_stride: 4,
            kernel: 3,
        }
    }
}

impl Conv1dConfig {
    /// At least one block; positive sizes.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        selfsup_core::check::at_least("backbone.widths (number of blocks)", self.widths.len(), 1)?;
        for (i, &w) in self.widths.iter().enumerate() {
            positive_i64(&format!("backbone.widths[{i}]"), w)?;
        }
        positive_i64("backbone.first_kernel", self.first_kernel)?;
        positive_i64("backbone.first_stride", self.first_stride)?;
        positive_i64("backbone.kernel", self.kernel)
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct Conv1dNet {
    blocks: Vec<(nn::Conv1D, BatchNorm)>,
    output_dim: i64,
}

impl Conv1dNet {
    /// Builds the network under `p`.
    pub fn new(p: &nn::Path<'_>, cfg: &Conv1dConfig, in_channels: i64) -> Result<Self> {
        cfg.validate()?;
        let mut c_in = in_channels;
        let mut blocks = Vec::new();
        for (i, &w) in cfg.widths.iter().enumerate() {
            let b = p / "blocks" / i;
            let (k, s) = if i == 0 {
                (cfg.first_kernel, cfg.first_stride)
            } else {
                (cfg.kernel, 1)
            };
            blocks.push((
                conv1d(&(&b / "conv"), c_in, w, k, s, k / 2, false),
                BatchNorm::new(&(&b / "bn"), w),
            ));
            c_in = w;
        }
        Ok(Conv1dNet {
            blocks,
            output_dim: c_in,
        })
    }
}

impl ModuleT for Conv1dNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = if xs.dim() == 2 {
            xs.unsqueeze(1)
        } else {
            xs.shallow_clone()
        };
        for (conv, bn) in &self.blocks {
            x = bn.forward_t(&conv.forward(&x), train).relu();
            if x.size()[2] >= 4 {
                x = x.max_pool1d([4], [4], [0], [1], false);
            }
        }
        global_avg_pool(&x)
    }
}

impl Backbone for Conv1dNet {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }
}
