//! Heads: the projection / prediction MLPs of the SSL methods and a linear classifier.
//!
//! [`ProjectionHead`] is `Linear → [BN] → ReLU` for every hidden layer, then a final `Linear → [BN]`.
//! Linear layers followed by BN have no bias (as in lightly's heads). The shapes each method uses:
//!
//! | method | dims | hidden BN | last BN |
//! | --- | --- | --- | --- |
//! | SimCLR | 512-2048-128 | no (v1) | no |
//! | MoCo v2 | 512-2048-128 | no | no |
//! | BYOL / NNCLR projection | 512-4096-256 | yes | no |
//! | SimSiam projection | 2048-2048-2048-2048 | yes | yes |
//! | Barlow Twins / VICReg | 2048-8192-8192-8192 | yes | no |
//!
//! Names: `layers.{i}.weight/bias`, `bns.{i}.*` (hidden BN after layer `i`), `last_bn.*`.

use crate::layers::BatchNorm;
use crate::Result;
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// See the module documentation.
#[derive(Debug)]
pub struct ProjectionHead {
    layers: Vec<nn::Linear>,
    bns: Vec<Option<BatchNorm>>,
    last_bn: Option<BatchNorm>,
    output_dim: i64,
}

impl ProjectionHead {
    /// A head with widths `dims = [input, hidden..., output]` (at least two entries).
    pub fn new(p: &nn::Path<'_>, dims: &[i64], hidden_bn: bool, last_bn: bool) -> Result<Self> {
        selfsup_core::check::at_least("head.dims (number of widths)", dims.len(), 2)?;
        for (i, &d) in dims.iter().enumerate() {
            selfsup_core::check::at_least(&format!("head.dims[{i}]"), d.max(0) as usize, 1)?;
        }
        let n = dims.len() - 1;
        let mut layers = Vec::new();
        let mut bns = Vec::new();
        for i in 0..n {
            let hidden = i + 1 < n;
            let bn = if hidden { hidden_bn } else { last_bn };
            layers.push(crate::layers::linear(
                p / "layers" / i,
                dims[i],
                dims[i + 1],
                !bn,
            ));
            bns.push((hidden && hidden_bn).then(|| BatchNorm::new(&(p / "bns" / i), dims[i + 1])));
        }
        let last_bn = last_bn.then(|| BatchNorm::new(&(p / "last_bn"), dims[n]));
        Ok(ProjectionHead {
            layers,
            bns,
            last_bn,
            output_dim: dims[n],
        })
    }

    /// Output width.
    pub fn output_dim(&self) -> i64 {
        self.output_dim
    }
}

impl ModuleT for ProjectionHead {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let n = self.layers.len();
        let mut x = xs.shallow_clone();
        for i in 0..n {
            x = self.layers[i].forward(&x);
            if i + 1 < n {
                if let Some(bn) = &self.bns[i] {
                    x = bn.forward_t(&x, train);
                }
                x = x.relu();
            }
        }
        match &self.last_bn {
            Some(bn) => bn.forward_t(&x, train),
            None => x,
        }
    }
}

/// A linear classifier (`fc.weight`, `fc.bias`) for linear probes and fine-tuning.
#[derive(Debug)]
pub struct LinearClassifier {
    fc: nn::Linear,
}

impl LinearClassifier {
    /// `input_dim` features → `num_classes` logits.
    pub fn new(p: &nn::Path<'_>, input_dim: i64, num_classes: i64) -> Result<Self> {
        selfsup_core::check::at_least("classifier.input_dim", input_dim.max(0) as usize, 1)?;
        selfsup_core::check::at_least("classifier.num_classes", num_classes.max(0) as usize, 1)?;
        Ok(LinearClassifier {
            fc: crate::layers::linear(p / "fc", input_dim, num_classes, true),
        })
    }
}

impl Module for LinearClassifier {
    fn forward(&self, xs: &Tensor) -> Tensor {
        self.fc.forward(&xs.flatten(1, -1))
    }
}
