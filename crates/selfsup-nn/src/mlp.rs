//! The multi-layer perceptron: a backbone for vector data and the shape of most projection heads.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, ModuleT};
use tch::Tensor;

/// Configuration of an [`Mlp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MlpConfig {
    /// Input width.
    pub input_dim: i64,
    /// Hidden widths, in order.
    pub hidden: Vec<i64>,
    /// Output width.
    pub output_dim: i64,
    /// Batch norm after each hidden linear layer.
    pub batch_norm: bool,
}

impl Default for MlpConfig {
    fn default() -> Self {
        MlpConfig {
            input_dim: 784,
            hidden: vec![256],
            output_dim: 128,
            batch_norm: false,
        }
    }
}

impl MlpConfig {
    /// Checks widths are positive.
    pub fn validate(&self) -> selfsup_core::Result<()> {
        use selfsup_core::check::at_least;
        at_least("mlp.input_dim", self.input_dim.max(0) as usize, 1)?;
        at_least("mlp.output_dim", self.output_dim.max(0) as usize, 1)?;
        for (i, &h) in self.hidden.iter().enumerate() {
            at_least(&format!("mlp.hidden[{i}]"), h.max(0) as usize, 1)?;
        }
        Ok(())
    }
}

/// Linear → (BN) → ReLU blocks, then a final linear layer. Parameter names: `layers.{i}.weight`,
/// `bns.{i}.running_mean`, ...
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<nn::Linear>,
    bns: Vec<Option<nn::BatchNorm>>,
    output_dim: i64,
}

impl Mlp {
    /// Builds the MLP under `p`.
    pub fn new(p: &nn::Path<'_>, cfg: &MlpConfig) -> crate::Result<Self> {
        cfg.validate()?;
        let mut widths = vec![cfg.input_dim];
        widths.extend(&cfg.hidden);
        widths.push(cfg.output_dim);
        let n = widths.len() - 1;
        let mut layers = Vec::with_capacity(n);
        let mut bns = Vec::with_capacity(n);
        for i in 0..n {
            layers.push(crate::layers::linear(
                p / "layers" / i,
                widths[i],
                widths[i + 1],
                true,
            ));
            let hidden = i + 1 < n;
            bns.push(
                (hidden && cfg.batch_norm)
                    .then(|| nn::batch_norm1d(p / "bns" / i, widths[i + 1], Default::default())),
            );
        }
        Ok(Mlp {
            layers,
            bns,
            output_dim: cfg.output_dim,
        })
    }

    /// Output width.
    pub fn output_dim(&self) -> i64 {
        self.output_dim
    }
}

impl ModuleT for Mlp {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        let n = self.layers.len();
        let mut x = xs.flatten(1, -1);
        for i in 0..n {
            x = self.layers[i].forward(&x);
            if i + 1 < n {
                if let Some(bn) = &self.bns[i] {
                    x = bn.forward_t(&x, train);
                }
                x = x.relu();
            }
        }
        x
    }
}
