//! Small layers with PyTorch's parameter names and initialisation where tch's differ.
//!
//! - [`BatchNorm`]: `weight` (ones), `bias` (zeros), `running_mean`, `running_var` and an int64
//!   `num_batches_tracked`, exactly the five entries of a `torch.nn.BatchNorm{1,2}d` state dict, so a
//!   torchvision checkpoint maps one-to-one onto ours. (tch's own batch norm initialises the weight
//!   uniformly in `[0, 1)` and has no `num_batches_tracked`.) `num_batches_tracked` is kept for name
//!   parity and counted up in training mode; with a fixed momentum it does not change the arithmetic.
//! - [`conv2d`]/[`conv1d`] helpers with an explicit bias switch.

use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

/// Batch normalisation over dimension 1 (works for `N×C`, `N×C×L` and `N×C×H×W`).
#[derive(Debug)]
pub struct BatchNorm {
    /// Scale (`None` when built without affine parameters).
    pub weight: Option<Tensor>,
    /// Shift (`None` when built without affine parameters).
    pub bias: Option<Tensor>,
    /// Running mean (non-trainable).
    pub running_mean: Tensor,
    /// Running variance (non-trainable).
    pub running_var: Tensor,
    /// Number of training batches seen (non-trainable, int64).
    pub num_batches_tracked: Tensor,
    /// Momentum of the running statistics (PyTorch's convention: `new = (1-m)·old + m·batch`).
    pub momentum: f64,
    /// Added to the variance.
    pub eps: f64,
}

impl BatchNorm {
    /// A batch norm over `c` channels with affine parameters, momentum 0.1 and eps 1e-5 (PyTorch's defaults).
    pub fn new(p: &nn::Path<'_>, c: i64) -> Self {
        Self::with_affine(p, c, true)
    }

    /// A batch norm with or without the affine `weight`/`bias`.
    pub fn with_affine(p: &nn::Path<'_>, c: i64, affine: bool) -> Self {
        let (weight, bias) = if affine {
            (
                Some(p.var("weight", &[c], nn::Init::Const(1.0))),
                Some(p.var("bias", &[c], nn::Init::Const(0.0))),
            )
        } else {
            (None, None)
        };
        let running_mean = p.zeros_no_train("running_mean", &[c]);
        let running_var = p.ones_no_train("running_var", &[c]);
        let num_batches_tracked = p.add(
            "num_batches_tracked",
            Tensor::zeros([], (Kind::Int64, p.device())),
            false,
        );
        BatchNorm {
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

impl ModuleT for BatchNorm {
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if train {
            let mut n = self.num_batches_tracked.shallow_clone();
            tch::no_grad(|| {
                let _ = n.g_add_scalar_(1);
            });
        }
        Tensor::batch_norm(
            xs,
            self.weight.as_ref(),
            self.bias.as_ref(),
            Some(&self.running_mean),
            Some(&self.running_var),
            train,
            self.momentum,
            self.eps,
            false,
        )
    }
}

/// A 2-D convolution (`weight` `[out, in, k, k]`, optional `bias`), PyTorch's default init.
pub fn conv2d(
    p: &nn::Path<'_>,
    c_in: i64,
    c_out: i64,
    k: i64,
    stride: i64,
    padding: i64,
    bias: bool,
) -> nn::Conv2D {
    nn::conv2d(
        p,
        c_in,
        c_out,
        k,
        nn::ConvConfig {
            stride,
            padding,
            bias,
            ..Default::default()
        },
    )
}

/// A 1-D convolution (`weight` `[out, in, k]`, optional `bias`), PyTorch's default init.
pub fn conv1d(
    p: &nn::Path<'_>,
    c_in: i64,
    c_out: i64,
    k: i64,
    stride: i64,
    padding: i64,
    bias: bool,
) -> nn::Conv1D {
    nn::conv1d(
        p,
        c_in,
        c_out,
        k,
        nn::ConvConfig {
            stride,
            padding,
            bias,
            ..Default::default()
        },
    )
}
