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
    let mut l = MomentsLoop {
        p: std::slice::from_raw_parts_mut(p, n),
        g: std::slice::from_raw_parts(g, n),
        m: std::slice::from_raw_parts_mut(m, n),
        v: std::slice::from_raw_parts_mut(v, n),
        decay: T::of(s.decay.unwrap_or(1.0)),
        l2: T::of(s.l2.unwrap_or(0.0)),
        beta1: T::of(s.beta1),
        beta2: T::of(s.beta2),
        omb1: T::of(1.0 - s.beta1),
        omb2: T::of(1.0 - s.beta2),
    };
    // The options become constants of the loop, as in [`sgd`], so that it vectorises.
    match (s.decay.is_some(), s.l2.is_some()) {
        (true, true) => l.run::<true, true>(),
        (true, false) => l.run::<true, false>(),
        (false, true) => l.run::<false, true>(),
        (false, false) => l.run::<false, false>(),
    }
}

/// The slices and scalars of [`adam_moments`]; `run` is its loop, specialised on which terms apply.
struct MomentsLoop<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
    decay: T,
    l2: T,
    beta1: T,
    beta2: T,
    omb1: T,
    omb2: T,
}

impl<T: Elem> MomentsLoop<'_, T> {
    /// `p ·= decay` (AdamW), `d = g (+ λp)` (Adam's L2), `m = β₁m + (1 − β₁)d`, `v = β₂v + (1 − β₂)d²`.
    fn run<const DECAY: bool, const L2: bool>(&mut self) {
        let n = self.p.len();
        let (p, g, m, v) = (
            &mut self.p[..n],
            &self.g[..n],
            &mut self.m[..n],
            &mut self.v[..n],
        );
        let (decay, l2) = (self.decay, self.l2);
        let (b1, omb1, b2, omb2) = (self.beta1, self.omb1, self.beta2, self.omb2);
        for i in 0..n {
            let mut pi = p[i];
            if DECAY {
                pi = pi * decay;
                p[i] = pi;
            }
            let d = if L2 { g[i] + pi * l2 } else { g[i] };
            m[i] = m[i] * b1 + d * omb1;
            v[i] = v[i] * b2 + (d * d) * omb2;
        }
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
/// The options are resolved once, outside the element loop ([`SgdLoop`]): each combination gets its
/// own branch-free loop, which the compiler vectorises (a loop that tested them per element did not).
///
/// # Safety
/// `p`, `g` and `buf` (when given) address `n` valid, initialised, non-overlapping elements each.
pub(crate) unsafe fn sgd<T: Elem>([p, g]: [*mut T; 2], buf: Option<*mut T>, n: usize, s: &SgdStep) {
    let (p, g) = (
        std::slice::from_raw_parts_mut(p, n),
        std::slice::from_raw_parts(g, n),
    );
    let mut l = SgdLoop {
        p,
        g,
        buf: &mut [],
        l2: T::of(s.l2.unwrap_or(0.0)),
        scale: T::of(s.scale.unwrap_or(1.0)),
        lr: T::of(s.lr),
        mu: T::of(0.0),
        omd: T::of(1.0),
    };
    let (l2, scale) = (s.l2.is_some(), s.scale.is_some());
    match (s.momentum.as_ref(), buf) {
        (Some(m), Some(b)) => {
            l.buf = std::slice::from_raw_parts_mut(b, n);
            (l.mu, l.omd) = (T::of(m.momentum), T::of(1.0 - m.dampening));
            match (m.first, m.nesterov) {
                (true, true) => l.run_with::<true, true, true>(l2, scale),
                (true, false) => l.run_with::<true, true, false>(l2, scale),
                (false, true) => l.run_with::<true, false, true>(l2, scale),
                (false, false) => l.run_with::<true, false, false>(l2, scale),
            }
        }
        _ => l.run_with::<false, false, false>(l2, scale),
    }
}

/// The slices and scalars of one SGD update; `run` is its loop, specialised on which terms apply.
struct SgdLoop<'a, T> {
    p: &'a mut [T],
    g: &'a [T],
    /// The momentum buffer (empty without momentum).
    buf: &'a mut [T],
    l2: T,
    scale: T,
    lr: T,
    mu: T,
    /// `1 − dampening`.
    omd: T,
}

impl<T: Elem> SgdLoop<'_, T> {
    /// [`Self::run`] with the L2 and trust-ratio flags turned into constants too.
    fn run_with<const MOM: bool, const FIRST: bool, const NEST: bool>(
        &mut self,
        l2: bool,
        scale: bool,
    ) {
        match (l2, scale) {
            (true, true) => self.run::<true, true, MOM, FIRST, NEST>(),
            (true, false) => self.run::<true, false, MOM, FIRST, NEST>(),
            (false, true) => self.run::<false, true, MOM, FIRST, NEST>(),
            (false, false) => self.run::<false, false, MOM, FIRST, NEST>(),
        }
    }

    /// The update, each term in the tensor path's order: `d = g (+ λp) (· trust)`, then heavy-ball
    /// (`b = d` on the first step, else `μb + (1 − dampening)d`; `d = b`, or `d + μb` with Nesterov),
    /// then `p −= d · lr`.
    fn run<
        const L2: bool,
        const SCALE: bool,
        const MOM: bool,
        const FIRST: bool,
        const NEST: bool,
    >(
        &mut self,
    ) {
        let n = self.p.len();
        let (p, g) = (&mut self.p[..n], &self.g[..n]);
        let buf = if MOM {
            &mut self.buf[..n]
        } else {
            &mut self.buf[..0]
        };
        let (l2, scale, lr, mu, omd) = (self.l2, self.scale, self.lr, self.mu, self.omd);
        for i in 0..n {
            let mut d = g[i];
            if L2 {
                d = d + p[i] * l2;
            }
            if SCALE {
                d = d * scale;
            }
            if MOM {
                let b = if FIRST { d } else { buf[i] * mu + d * omd };
                buf[i] = b;
                d = if NEST { d + b * mu } else { b };
            }
            p[i] = p[i] - d * lr;
        }
    }
}
