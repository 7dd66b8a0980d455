//! Single-pass CPU kernels for the optimizers' element-wise updates (what `torch.optim`'s `fused=True`
//! does): one loop over a parameter, its gradient and its state buffers, instead of a dozen tensor ops
//! that each read and write the whole parameter and allocate temporaries.
//!
//! Each kernel performs the *same* floating-point operations, in the same order and at the same
//! precision, as the tensor-op path of [`crate::optim`] (every scalar is cast to the element type once,
//! as libtorch casts a scalar operand; no fused multiply-add). The one operation libtorch computes
//! differently from Rust, `sqrt` (its vectorised kernel is not correctly rounded in every case), stays
//! a libtorch call between Adam's two passes. So the two paths give bit-identical parameters and state —
//! `tests/optim.rs` checks it — and a run's figures do not depend on which path ran.
//!
//! A kernel applies only when every tensor involved is a contiguous CPU tensor of one floating kind
//! (`f32` or `f64`) and the same number of elements ([`cpu_slices`]); otherwise the caller uses the
//! tensor ops (CUDA, half precision, or exotic layouts). Elements are independent, so the result does not
//! depend on the thread count.

#![allow(unsafe_code)] // raw element access of tensors checked by `cpu_slices`; see each `# Safety`

use std::ops::{Add, Div, Mul, Sub};
use tch::{Device, Kind, Tensor};

/// A floating element type the kernels run on.
pub(crate) trait Elem:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    /// The tensor kind holding this type.
    const KIND: Kind;
    /// `x` cast to the element type (how libtorch casts a scalar operand).
    fn of(x: f64) -> Self;
}

impl Elem for f32 {
    const KIND: Kind = Kind::Float;
    fn of(x: f64) -> Self {
        x as f32
    }
}

impl Elem for f64 {
    const KIND: Kind = Kind::Double;
    fn of(x: f64) -> Self {
        x
    }
}

/// Raw element pointers of `tensors` when all are contiguous CPU tensors of kind `T::KIND` with the
/// same number of elements, else `None`. The tensors must not share storage (a parameter, its gradient
/// and its own state buffers never do).
pub(crate) fn cpu_slices<T: Elem, const N: usize>(
    tensors: [&Tensor; N],
) -> Option<([*mut T; N], usize)> {
    let n = tensors[0].numel();
    let mut ptrs = [std::ptr::null_mut(); N];
    for (slot, t) in ptrs.iter_mut().zip(tensors) {
        if t.device() != Device::Cpu || t.kind() != T::KIND || !t.is_contiguous() || t.numel() != n
        {
            return None;
        }
        *slot = t.data_ptr() as *mut T;
    }
    Some((ptrs, n))
}

/// The scalars of one Adam/AdamW update of one parameter.
pub(crate) struct AdamStep {
    /// AdamW's decoupled decay factor `1 − lr·λ` (`None`: no decoupled decay).
    pub decay: Option<f64>,
    /// Adam's L2 term `λ` added to the gradient (`None`: none).
    pub l2: Option<f64>,
    pub beta1: f64,
    pub beta2: f64,
    /// `√(1 − β₂ᵗ)`.
    pub bias2_sqrt: f64,
    pub eps: f64,
    /// `lr / (1 − β₁ᵗ)`.
    pub step_size: f64,
}

/// The first pass of an Adam/AdamW update, in place: AdamW's decay of `p`, then the moments `m`, `v`
/// from the gradient `g`. The square root of `v` is then taken by libtorch (its vectorised `sqrt` is
/// not the correctly rounded one, so the kernel leaves it to the same libtorch call the tensor path
/// makes) and [`adam_apply`] finishes the update.
///
/// # Safety
/// The four pointers address `n` valid, initialised, non-overlapping elements each.
pub(crate) unsafe fn adam_moments<T: Elem>([p, g, m, v]: [*mut T; 4], n: usize, s: &AdamStep) {
    let (p, g) = (
        std::slice::from_raw_parts_mut(p, n),
        std::slice::from_raw_parts(g, n),
    );
    let (m, v) = (
        std::slice::from_raw_parts_mut(m, n),
        std::slice::from_raw_parts_mut(v, n),
    );
    let (b1, omb1) = (T::of(s.beta1), T::of(1.0 - s.beta1));
    let (b2, omb2) = (T::of(s.beta2), T::of(1.0 - s.beta2));
    let decay = s.decay.map(T::of);
    let l2 = s.l2.map(T::of);
    for i in 0..n {
        let mut pi = p[i];
        if let Some(f) = decay {
            pi = pi * f;
            p[i] = pi;
        }
        let d = match l2 {
            Some(l) => g[i] + pi * l,
            None => g[i],
        };
        m[i] = m[i] * b1 + d * omb1;
        v[i] = v[i] * b2 + (d * d) * omb2;
    }
}

/// The second pass of an Adam/AdamW update: `p −= (m / (√v / √(1 − β₂ᵗ) + ε)) · step_size`, with
/// `sqrt_v` the element-wise square root of the updated `v`.
///
/// # Safety
/// The three pointers address `n` valid, initialised elements each; `p` overlaps neither other.
pub(crate) unsafe fn adam_apply<T: Elem>([p, m, sqrt_v]: [*mut T; 3], n: usize, s: &AdamStep) {
    let p = std::slice::from_raw_parts_mut(p, n);
    let (m, r) = (
        std::slice::from_raw_parts(m, n),
        std::slice::from_raw_parts(sqrt_v, n),
    );
    let (bc2, eps, step) = (T::of(s.bias2_sqrt), T::of(s.eps), T::of(s.step_size));
    for i in 0..n {
        p[i] = p[i] - (m[i] / (r[i] / bc2 + eps)) * step;
    }
}

/// Heavy-ball momentum of one SGD/LARS update (`torch.optim.SGD`).
pub(crate) struct MomentumStep {
    /// The buffer does not exist yet: it starts as the first direction.
    pub first: bool,
    pub momentum: f64,
    pub dampening: f64,
    pub nesterov: bool,
}

/// The scalars of one SGD/LARS update of one parameter.
pub(crate) struct SgdStep {
    /// L2 weight decay added to the gradient (`None`: none).
    pub l2: Option<f64>,
    /// LARS' trust ratio applied to `g + λp` (`None`: none).
    pub scale: Option<f64>,
    pub lr: f64,
    pub momentum: Option<MomentumStep>,
}

/// One SGD/LARS update in place: `p`, its gradient `g`, and the momentum buffer `buf` (required with
/// momentum, ignored without; any initial content when `first`).
///
/// # Safety
/// `p`, `g` and `buf` (when given) address `n` valid, initialised, non-overlapping elements each.
pub(crate) unsafe fn sgd<T: Elem>([p, g]: [*mut T; 2], buf: Option<*mut T>, n: usize, s: &SgdStep) {
    let (p, g) = (
        std::slice::from_raw_parts_mut(p, n),
        std::slice::from_raw_parts(g, n),
    );
    let (l2, scale, lr) = (s.l2.map(T::of), s.scale.map(T::of), T::of(s.lr));
    let mut mom = match (s.momentum.as_ref(), buf) {
        (Some(m), Some(b)) => Some((
            std::slice::from_raw_parts_mut(b, n),
            m.first,
            T::of(m.momentum),
            T::of(1.0 - m.dampening),
            m.nesterov,
        )),
        _ => None,
    };
    for i in 0..n {
        let mut d = g[i];
        if let Some(l) = l2 {
            d = d + p[i] * l;
        }
        if let Some(q) = scale {
            d = d * q;
        }
        if let Some((buf, first, mu, omd, nesterov)) = mom.as_mut() {
            let b = if *first { d } else { buf[i] * *mu + d * *omd };
            buf[i] = b;
            d = if *nesterov { d + b * *mu } else { b };
        }
        p[i] = p[i] - d * lr;
    }
}
