//! Small layers with PyTorch's parameter names and initialisation where tch's differ.
//!
//! - [`BatchNorm`]: `weight` (ones), `bias` (zeros), `running_mean`, `running_var` and an int64
//!   `num_batches_tracked`, exactly the five entries of a `torch.nn.BatchNorm{1,2}d` state dict, so a
//!   torchvision checkpoint maps one-to-one onto ours. (tch's own batch norm initialises the weight
//!   uniformly in `[0, 1)` and has no `num_batches_tracked`.) `num_batches_tracked` is kept for name
//!   parity and counted up in training mode; with a fixed momentum it does not change the arithmetic.
//!   Under a group installed with [`crate::collectives::install_sync_batch_norm_group`] (the
//!   trainer does it for `train.sync_batch_norm = true`) it is PyTorch's `SyncBatchNorm`: in
//!   training mode the batch mean and variance are those of the **global** batch (all ranks'
//!   rows), computed with differentiable all-reduces of the per-channel sums, so gradients reach
//!   every rank's rows; see [`BatchNorm::forward_t`].
//! - [`linear`], [`conv2d`], [`conv1d`] with PyTorch's default initialisation ([`TORCH_DEFAULT_INIT`]:
//!   `kaiming_uniform_(a = √5)`, i.e. weights `U(±1/√fan_in)`, biases `U(±1/√fan_in)`). tch's defaults
//!   draw weights `√6` times wider (`U(±√6/√fan_in)`) and start conv biases at zero, which changes every
//!   method's early training compared with the PyTorch references; every layer of the workspace that has
//!   no method-specific init goes through these helpers. [`linear_keyed`] draws the same init from a
//!   keyed host generator instead of libtorch's (evaluation heads that must not touch the caller's
//!   generator).

use crate::Collectives;
use tch::nn::{self, ModuleT};
use tch::{Kind, Tensor};

/// PyTorch's default weight initialisation of `nn.Linear` and `nn.ConvNd`: `kaiming_uniform_` with
/// `a = √5`, a gain of `1/√3`, i.e. `U(±1/√fan_in)`.
pub const TORCH_DEFAULT_INIT: nn::Init = nn::Init::Kaiming {
    dist: nn::init::NormalOrUniform::Uniform,
    fan: nn::init::FanInOut::FanIn,
    non_linearity: nn::init::NonLinearity::ExplicitGain(0.577_350_269_189_625_8),
};

/// PyTorch's default bias initialisation for a layer with `fan_in` inputs: `U(±1/√fan_in)`.
fn torch_bias_init(fan_in: i64) -> nn::Init {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    nn::Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// A linear layer (`weight` `[out, in]`, optional `bias`) with PyTorch's default init.
pub fn linear<'a>(
    p: impl std::borrow::Borrow<nn::Path<'a>>,
    d_in: i64,
    d_out: i64,
    bias: bool,
) -> nn::Linear {
    nn::linear(
        p,
        d_in,
        d_out,
        nn::LinearConfig {
            ws_init: TORCH_DEFAULT_INIT,
            bs_init: Some(torch_bias_init(d_in)),
            bias,
        },
    )
}

/// [`linear`] with its initial weights and bias (`U(±1/√d_in)`, PyTorch's default) drawn from `rng`
/// on the host and copied in: libtorch's global generator is neither reseeded nor advanced, so the
/// layer is the same for the same generator whatever ran before, and the caller's own draws are not
/// disturbed.
pub fn linear_keyed<'a>(
    p: impl std::borrow::Borrow<nn::Path<'a>>,
    d_in: i64,
    d_out: i64,
    bias: bool,
    rng: &mut selfsup_core::Generator,
) -> crate::Result<nn::Linear> {
    let zero = nn::Init::Const(0.0);
    let l = nn::linear(
        p,
        d_in,
        d_out,
        nn::LinearConfig {
            ws_init: zero,
            bs_init: Some(zero),
            bias,
        },
    );
    let bound = (1.0 / (d_in.max(1) as f64).sqrt()) as f32;
    let mut fill = |t: &Tensor| -> crate::Result<()> {
        let v: Vec<f32> = (0..t.numel())
            .map(|_| rng.uniform_f32(-bound, bound))
            .collect();
        let src = Tensor::from_slice(&v)
            .f_view(t.size().as_slice())?
            .f_to_device(t.device())?;
        let mut dst = t.shallow_clone();
        tch::no_grad(|| dst.f_copy_(&src))?;
        Ok(())
    };
    fill(&l.ws)?;
    if let Some(b) = &l.bs {
        fill(b)?;
    }
    Ok(l)
}

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

    /// `SyncBatchNorm`'s training forward over the ranks of `c`, PyTorch's formulas with the
    /// global batch: with `N` the number of values per channel over all ranks,
    /// `mean = Σx / N`, `var = Σ(x − mean)² / N` (biased, used to normalise),
    /// `y = (x − mean) / √(var + eps) · weight + bias`, and the running statistics
    /// `running_mean ← (1 − m)·running_mean + m·mean`,
    /// `running_var ← (1 − m)·running_var + m·var·N/(N − 1)` (unbiased). The two sums are
    /// differentiable all-reduces ([`Collectives::all_reduce_sum_with_grad`]), so the gradient of
    /// every rank's use of the global statistics flows back into every rank's rows. The variance
    /// is taken around the global mean (two collectives, not `E[x²] − E[x]²`), and the layer
    /// computes in float64 and rounds its output back, for the single-process kernel's precision
    /// (which accumulates its statistics in double) whatever the split over ranks.
    fn forward_sync(&self, xs: &Tensor, c: &dyn Collectives) -> crate::Result<Tensor> {
        let size = xs.size();
        let ch = size[1];
        let dims: Vec<i64> = (0..size.len() as i64).filter(|d| *d != 1).collect();
        let mut shape = vec![1i64; size.len()];
        shape[1] = ch;
        let local_n = (xs.numel() as i64 / ch.max(1)) as f64;
        // In float64 throughout (rounded back at the end), as ATen's CPU kernel accumulates the
        // statistics in double: the result is the exact global-batch value to float rounding,
        // whatever the split over ranks.
        let xd = xs.to_kind(Kind::Double);
        // Σx per channel and the local count, one collective.
        let sum = xd.f_sum_dim_intlist(dims.as_slice(), false, Kind::Double)?;
        let count = Tensor::from_slice(&[local_n]);
        let s = c.all_reduce_sum_with_grad(&Tensor::f_cat(&[sum, count], 0)?)?;
        let n = s.double_value(&[ch]);
        let mean = s.narrow(0, 0, ch) / n;
        let centred = &xd - mean.view(shape.as_slice());
        let sq = centred
            .square()
            .f_sum_dim_intlist(dims.as_slice(), false, Kind::Double)?;
        let var = c.all_reduce_sum_with_grad(&sq)? / n;
        let y = centred * (&var + self.eps).rsqrt().view(shape.as_slice());
        // New tensors, not `*=`/`+=`: an in-place op would overwrite what autograd keeps for backward.
        let y = match &self.weight {
            Some(w) => y * w.to_kind(Kind::Double).view(shape.as_slice()),
            None => y,
        };
        let y = match &self.bias {
            Some(b) => y + b.to_kind(Kind::Double).view(shape.as_slice()),
            None => y,
        };
        tch::no_grad(|| -> crate::Result<()> {
            let m = self.momentum;
            let unbiased = &var * (n / (n - 1.0).max(1.0));
            let kind = self.running_mean.kind();
            let new_mean = self.running_mean.to_kind(Kind::Double) * (1.0 - m) + mean.detach() * m;
            let new_var =
                self.running_var.to_kind(Kind::Double) * (1.0 - m) + unbiased.detach() * m;
            self.running_mean
                .shallow_clone()
                .f_copy_(&new_mean.to_kind(kind))?;
            self.running_var
                .shallow_clone()
                .f_copy_(&new_var.to_kind(kind))?;
            Ok(())
        })?;
        Ok(y.to_kind(xs.kind()))
    }
}

impl ModuleT for BatchNorm {
    /// `torch.nn.BatchNorm{1,2}d`'s forward; in training mode under a SyncBatchNorm group
    /// ([`crate::collectives::install_sync_batch_norm_group`]) it computes the global batch's
    /// statistics instead (`SyncBatchNorm`). A failed collective there is recorded for the trainer
    /// ([`crate::collectives::take_sync_batch_norm_error`]) and the layer falls back to the local
    /// batch's statistics for this call.
    fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if train {
            let mut n = self.num_batches_tracked.shallow_clone();
            tch::no_grad(|| {
                let _ = n.g_add_scalar_(1);
            });
            if let Some(c) = crate::collectives::sync_batch_norm_group() {
                match self.forward_sync(xs, c.as_ref()) {
                    Ok(y) => return y,
                    Err(e) => crate::collectives::record_sync_batch_norm_error(e),
                }
            }
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
            ws_init: TORCH_DEFAULT_INIT,
            bs_init: torch_bias_init(c_in * k * k),
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
            ws_init: TORCH_DEFAULT_INIT,
            bs_init: torch_bias_init(c_in * k),
            ..Default::default()
        },
    )
}
