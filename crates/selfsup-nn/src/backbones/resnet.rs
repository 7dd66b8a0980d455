//! ResNet-18/34/50 with torchvision's module tree, so parameter and buffer names match a torchvision
//! `state_dict()` one-to-one: `conv1.weight`, `bn1.{weight,bias,running_mean,running_var,num_batches_tracked}`,
//! `layer{1..4}.{i}.conv{1,2[,3]}.weight`, `layer{1..4}.{i}.bn{1,2[,3]}.*`, `layer{k}.0.downsample.{0,1}.*`.
//! The classification layer `fc` is not part of the backbone (features are the 512/2048-d pooled
//! output); a torchvision checkpoint therefore loads with its `fc.*` entries ignored.
//!
//! Stems: `imagenet` = conv 7×7 stride 2 + BN + ReLU + max-pool 3×3 stride 2 (torchvision);
//! `cifar` = conv 3×3 stride 1 + BN + ReLU, no max-pool (the usual SSL CIFAR variant, same names).
//! Bottlenecks put the stride on the 3×3 convolution (torchvision's "ResNet v1.5").
//! Convolutions use Kaiming-normal (fan-out, ReLU) initialisation and BN weight 1 / bias 0, as torchvision.

use super::{global_avg_pool, Backbone};
use crate::layers::BatchNorm;
use crate::Result;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// The stem of a [`ResNet`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stem {
    /// 7×7 stride-2 convolution and 3×3 max-pool (torchvision).
    #[default]
    Imagenet,
    /// 3×3 stride-1 convolution, no max-pool (for 32×32 inputs).
    Cifar,
}

/// Configuration of a [`ResNet`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResNetConfig {
    /// `imagenet` or `cifar`.
    pub stem: Stem,
}

impl ResNetConfig {
    /// Nothing can be out of range today.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        Ok(())
    }
}

/// ResNet depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResNetDepth {
    /// BasicBlock × [2, 2, 2, 2].
    R18,
    /// BasicBlock × [3, 4, 6, 3].
    R34,
    /// Bottleneck × [3, 4, 6, 3].
    R50,
}

fn conv(p: nn::Path<'_>, c_in: i64, c_out: i64, k: i64, stride: i64, padding: i64) -> nn::Conv2D {
    nn::conv2d(
        p,
        c_in,
        c_out,
        k,
        nn::ConvConfig {
            stride,
            padding,
            bias: false,
            ws_init: nn::Init::Kaiming {
                dist: nn::init::NormalOrUniform::Normal,
                fan: nn::init::FanInOut::FanOut,
                non_linearity: nn::init::NonLinearity::ReLU,
            },
            ..Default::default()
        },
    )
}

#[derive(Debug)]
struct Block {
    convs: Vec<(nn::Conv2D, BatchNorm)>,
    downsample: Option<(nn::Conv2D, BatchNorm)>,
}

impl Block {
    fn basic(p: &nn::Path<'_>, c_in: i64, planes: i64, stride: i64) -> Block {
        let convs = vec![
            (
                conv(p / "conv1", c_in, planes, 3, stride, 1),
                BatchNorm::new(&(p / "bn1"), planes),
            ),
            (
                conv(p / "conv2", planes, planes, 3, 1, 1),
                BatchNorm::new(&(p / "bn2"), planes),
            ),
        ];
        let downsample = (stride != 1 || c_in != planes).then(|| {
            (
                conv(p / "downsample" / "0", c_in, planes, 1, stride, 0),
                BatchNorm::new(&(p / "downsample" / "1"), planes),
            )
        });
        Block { convs, downsample }
    }

    fn bottleneck(p: &nn::Path<'_>, c_in: i64, planes: i64, stride: i64) -> Block {
        let out = planes * 4;
        let convs = vec![
            (
                conv(p / "conv1", c_in, planes, 1, 1, 0),
                BatchNorm::new(&(p / "bn1"), planes),
            ),
            (
                conv(p / "conv2", planes, planes, 3, stride, 1),
                BatchNorm::new(&(p / "bn2"), planes),
            ),
            (
                conv(p / "conv3", planes, out, 1, 1, 0),
                BatchNorm::new(&(p / "bn3"), out),
            ),
        ];
        let downsample = (stride != 1 || c_in != out).then(|| {
            (
                conv(p / "downsample" / "0", c_in, out, 1, stride, 0),
                BatchNorm::new(&(p / "downsample" / "1"), out),
            )
        });
        Block { convs, downsample }
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let n = self.convs.len();
        let mut y = x.shallow_clone();
        for (i, (c, bn)) in self.convs.iter().enumerate() {
            y = bn.forward_t(&c.forward(&y), train);
            if i + 1 < n {
                y = y.relu();
            }
        }
        let identity = match &self.downsample {
            Some((c, bn)) => bn.forward_t(&c.forward(x), train),
            None => x.shallow_clone(),
        };
        (y + identity).relu()
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct ResNet {
    conv1: nn::Conv2D,
    bn1: BatchNorm,
    stem: Stem,
    layers: Vec<Vec<Block>>,
    output_dim: i64,
}

impl ResNet {
    /// Builds a ResNet of the given depth under `p` (use the VarStore root for torchvision names).
    pub fn new(
        p: &nn::Path<'_>,
        depth: ResNetDepth,
        cfg: &ResNetConfig,
        in_channels: i64,
    ) -> Result<Self> {
        cfg.validate()?;
        let (conv1, bn1) = match cfg.stem {
            Stem::Imagenet => (
                conv(p / "conv1", in_channels, 64, 7, 2, 3),
                BatchNorm::new(&(p / "bn1"), 64),
            ),
            Stem::Cifar => (
                conv(p / "conv1", in_channels, 64, 3, 1, 1),
                BatchNorm::new(&(p / "bn1"), 64),
            ),
        };
        let (counts, bottleneck) = match depth {
            ResNetDepth::R18 => ([2, 2, 2, 2], false),
            ResNetDepth::R34 => ([3, 4, 6, 3], false),
            ResNetDepth::R50 => ([3, 4, 6, 3], true),
        };
        let expansion = if bottleneck { 4 } else { 1 };
        let mut c_in = 64;
        let mut layers = Vec::new();
        for (li, &count) in counts.iter().enumerate() {
            let planes = 64 << li;
            let lp = p / format!("layer{}", li + 1);
            let mut blocks = Vec::new();
            for bi in 0..count {
                let stride = if bi == 0 && li > 0 { 2 } else { 1 };
                let bp = &lp / bi;
                blocks.push(if bottleneck {
                    Block::bottleneck(&bp, c_in, planes, stride)
                } else {
                    Block::basic(&bp, c_in, planes, stride)
                });
                c_in = planes * expansion;
            }
            layers.push(blocks);
        }
        Ok(ResNet {
            conv1,
            bn1,
            stem: cfg.stem,
            layers,
            output_dim: c_in,
        })
    }
}

impl ModuleT for ResNet {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let mut x = self.bn1.forward_t(&self.conv1.forward(xs), train).relu();
        if self.stem == Stem::Imagenet {
            x = x.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        }
        for layer in &self.layers {
            for b in layer {
                x = b.forward_t(&x, train);
            }
        }
        global_avg_pool(&x)
    }
}

impl Backbone for ResNet {
    fn output_dim(&self) -> i64 {
        self.output_dim
    }
}
