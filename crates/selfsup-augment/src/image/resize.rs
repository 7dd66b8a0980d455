//! Resampling: nearest, bilinear and bicubic resize, with or without antialiasing, on a whole image or
//! on a rectangle of it (which is how crops are resized without copying the crop first).
//!
//! ## Semantics (torchvision v2 on float tensors = `torch.nn.functional.interpolate`, `align_corners=False`)
//! - **Antialiased bilinear / bicubic** (torchvision's default for float images): a separable filter whose
//!   support grows with the downscaling factor (PIL's algorithm, aten's `_upsample_*_aa`). For output
//!   index `i` and `scale = in / out`: `center = scale·(i + 0.5)`, `support = r·max(scale, 1)` with
//!   `r = 1` (bilinear) or `2` (bicubic), taps `j ∈ [⌊center − support + 0.5⌋, ⌊center + support + 0.5⌋)`
//!   clipped to the image, weight `filter((j − center + 0.5) / max(scale, 1))`, normalised to sum 1.
//!   The bicubic filter uses `a = −0.5`.
//! - **Plain bilinear**: source `s = max(scale·(i + 0.5) − 0.5, 0)`, taps `⌊s⌋` and `min(⌊s⌋ + 1, in − 1)`.
//! - **Plain bicubic**: Keys' cubic with `a = −0.75` on taps `⌊s⌋ − 1 … ⌊s⌋ + 2` clamped to the image.
//! - **Nearest** (PyTorch's legacy `nearest`): source `min(⌊i · scale⌋, in − 1)` computed in `f32`.
//!
//! The width is resampled first, then the height (as aten does); a dimension whose size does not change
//! is not resampled. Weights are computed in `f32` like aten's float kernels, so results agree with
//! torchvision to float rounding. Bicubic results are not clamped (torchvision does not clamp floats).
//!
//! ## Speed
//! Weights are computed once per call for each axis (a handful of taps per output index). Both passes
//! are weighted sums of whole rows (`weighted_rows`: blocks of adjacent outputs accumulated in
//! registers, which the compiler vectorises): the vertical pass directly, the horizontal one on the
//! transposed region, transposed back. Temporaries live in per-thread scratch memory, and
//! `RandomResizedCrop` writes its output into the input's buffer ([`resize_region_owned`]). The sums
//! are the same, term by term and in the same order, as a plain per-pixel loop (unit tests compare the
//! bits), and run through an AVX2 build of the loops where the CPU has it (`simd`).

use super::simd::with_avx2;
use selfsup_core::{Error, ImageF32, Result};
use serde::{Deserialize, Serialize};

/// Interpolation mode (torchvision's `InterpolationMode` names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Nearest neighbour (PyTorch's legacy `nearest`).
    Nearest,
    /// Bilinear (torchvision's default).
    #[default]
    Bilinear,
    /// Bicubic.
    Bicubic,
}

/// Per-output-index taps along one axis: `weights[i * taps .. (i + 1) * taps]` apply to source indices
/// `starts[i] ..`; unused taps have weight 0 and stay in range.
#[derive(Clone, Debug)]
pub(crate) struct AxisWeights {
    pub(crate) taps: usize,
    pub(crate) starts: Vec<usize>,
    pub(crate) weights: Vec<f32>,
}

fn aa_filter_linear(x: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 {
        1.0 - x
    } else {
        0.0
    }
}

fn aa_filter_cubic(x: f32) -> f32 {
    cubic(x, -0.5)
}

/// Keys' cubic convolution kernel with parameter `a`.
fn cubic(x: f32, a: f32) -> f32 {
    let x = x.abs();
    if x < 1.0 {
        ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a
    } else {
        0.0
    }
}

impl AxisWeights {
    /// Weights that resample `in_size` source values (starting at `offset` in the full axis of length
    /// `full`, only used to keep indices in range) to `out_size` values.
    pub(crate) fn new(
        in_size: usize,
        out_size: usize,
        mode: Interpolation,
        antialias: bool,
    ) -> Self {
        let scale = in_size as f32 / out_size as f32;
        match (mode, antialias) {
            (Interpolation::Nearest, _) => {
                let starts = (0..out_size)
                    .map(|i| ((i as f32 * scale).floor() as usize).min(in_size - 1))
                    .collect();
                AxisWeights {
                    taps: 1,
                    starts,
                    weights: vec![1.0; out_size],
                }
            }
            (Interpolation::Bilinear, false) => {
                let mut starts = Vec::with_capacity(out_size);
                let mut weights = Vec::with_capacity(2 * out_size);
                for i in 0..out_size {
                    let src = (scale * (i as f32 + 0.5) - 0.5).max(0.0);
                    let i0 = (src as usize).min(in_size - 1);
                    let lambda = (src - i0 as f32).clamp(0.0, 1.0);
                    if i0 + 1 < in_size {
                        starts.push(i0);
                        weights.extend_from_slice(&[1.0 - lambda, lambda]);
                    } else if in_size >= 2 {
                        // Last source index: both taps land on it; keep the window in range.
                        starts.push(in_size - 2);
                        weights.extend_from_slice(&[0.0, 1.0]);
                    } else {
                        starts.push(0);
                        weights.extend_from_slice(&[1.0, 0.0]);
                    }
                }
                AxisWeights {
                    taps: 2,
                    starts,
                    weights,
                }
                .fit(in_size)
            }
            (Interpolation::Bicubic, false) => {
                // Taps i0-1..=i0+2 are clamped to the image; fold clamped taps into a dense window.
                let a = -0.75f32;
                let mut rows: Vec<(usize, Vec<(usize, f32)>)> = Vec::with_capacity(out_size);
                for i in 0..out_size {
                    let src = scale * (i as f32 + 0.5) - 0.5;
                    let f = src.floor();
                    let t = src - f;
                    let i0 = f as i64;
                    let c = [
                        cubic(t + 1.0, a),
                        cubic(t, a),
                        cubic(1.0 - t, a),
                        cubic(2.0 - t, a),
                    ];
                    let taps: Vec<(usize, f32)> = (0..4)
                        .map(|k| {
                            let idx = (i0 - 1 + k as i64).clamp(0, in_size as i64 - 1) as usize;
                            (idx, c[k])
                        })
                        .collect();
                    rows.push((0, taps));
                }
                Self::from_sparse(in_size, rows)
            }
            (mode, true) => {
                let (radius, filter): (f32, fn(f32) -> f32) = match mode {
                    Interpolation::Bicubic => (2.0, aa_filter_cubic),
                    _ => (1.0, aa_filter_linear),
                };
                let support = if scale >= 1.0 { radius * scale } else { radius };
                let invscale = if scale >= 1.0 { 1.0 / scale } else { 1.0 };
                // Dense windows of a fixed tap count, written in place (no per-row allocation).
                let taps = ((support * 2.0).ceil() as usize + 1).clamp(1, in_size);
                let mut starts = Vec::with_capacity(out_size);
                let mut weights = vec![0.0f32; out_size * taps];
                for i in 0..out_size {
                    let center = scale * (i as f32 + 0.5);
                    let xmin = ((center - support + 0.5) as i64).max(0) as usize;
                    let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
                    let xmax = xmax.max(xmin).min(xmin + taps);
                    let start = xmin.min(in_size - taps);
                    let w = &mut weights[i * taps..(i + 1) * taps];
                    let mut total = 0.0f32;
                    for j in xmin..xmax {
                        let v = filter((j as f32 - center + 0.5) * invscale);
                        w[j - start] = v;
                        total += v;
                    }
                    if total != 0.0 {
                        w.iter_mut().for_each(|v| *v /= total);
                    }
                    starts.push(start);
                }
                AxisWeights {
                    taps,
                    starts,
                    weights,
                }
            }
        }
    }

    /// Builds dense windows from `(index, weight)` lists (duplicate indices are summed, keeping the
    /// tap order for each index's first appearance).
    fn from_sparse(in_size: usize, rows: Vec<(usize, Vec<(usize, f32)>)>) -> Self {
        let taps = rows
            .iter()
            .map(|(_, t)| {
                let lo = t.iter().map(|x| x.0).min().unwrap_or(0);
                let hi = t.iter().map(|x| x.0).max().unwrap_or(0);
                hi - lo + 1
            })
            .max()
            .unwrap_or(1)
            .min(in_size.max(1));
        let mut starts = Vec::with_capacity(rows.len());
        let mut weights = vec![0.0f32; rows.len() * taps];
        for (i, (_, t)) in rows.iter().enumerate() {
            let lo = t.iter().map(|x| x.0).min().unwrap_or(0);
            let start = lo.min(in_size - taps);
            starts.push(start);
            for &(idx, w) in t {
                weights[i * taps + idx - start] += w;
            }
        }
        AxisWeights {
            taps,
            starts,
            weights,
        }
    }

    /// Shrinks the window when the axis is shorter than the tap count.
    fn fit(self, in_size: usize) -> Self {
        if self.taps <= in_size {
            return self;
        }
        let rows = self
            .starts
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let taps = (0..self.taps)
                    .map(|k| ((s + k).min(in_size - 1), self.weights[i * self.taps + k]))
                    .collect();
                (0, taps)
            })
            .collect();
        Self::from_sparse(in_size, rows)
    }
}

/// Resamples the rectangle `(top, left, height, width)` of `img` to `out_h × out_w`.
///
/// The rectangle must lie inside the image; `img`, the rectangle and the output must be non-empty.
pub fn resize_region(
    img: &ImageF32,
    rect: (usize, usize, usize, usize),
    out_size: (usize, usize),
    mode: Interpolation,
    antialias: bool,
) -> Result<ImageF32> {
    let plan = Plan::new(img, rect, out_size, mode, antialias)?;
    let mut out = vec![0.0f32; plan.c * plan.n_out];
    plan.with_scratch(|scratch| {
        with_avx2(
            #[inline(always)]
            || {
                for (ch, dst) in out.chunks_exact_mut(plan.n_out).enumerate() {
                    plan.horizontal(img.plane(ch), scratch);
                    plan.vertical(scratch, dst);
                }
            },
        )
    });
    ImageF32::new(plan.c, plan.out_h, plan.out_w, out)
}

/// [`resize_region`] on an owned image, writing the result into the image's own buffer when it is
/// not much smaller than the input (no new allocation; used by `RandomResizedCrop`).
///
/// Channel `ch` of the output occupies `ch·n_out .. (ch + 1)·n_out` of the buffer, which for
/// `n_out ≤ h·w` only overlaps input planes `≤ ch`, all already read into the scratch rows.
pub fn resize_region_owned(
    img: ImageF32,
    rect: (usize, usize, usize, usize),
    out_size: (usize, usize),
    mode: Interpolation,
    antialias: bool,
) -> Result<ImageF32> {
    let plan = Plan::new(&img, rect, out_size, mode, antialias)?;
    let (h, w) = (img.height(), img.width());
    let n_in = h * w;
    if plan.n_out > n_in || 2 * plan.n_out < n_in {
        return resize_region(&img, rect, out_size, mode, antialias);
    }
    let mut buf = img.into_data();
    plan.with_scratch(|scratch| {
        with_avx2(
            #[inline(always)]
            || {
                for ch in 0..plan.c {
                    plan.horizontal(&buf[ch * n_in..(ch + 1) * n_in], scratch);
                    plan.vertical(scratch, &mut buf[ch * plan.n_out..(ch + 1) * plan.n_out]);
                }
            },
        )
    });
    buf.truncate(plan.c * plan.n_out);
    ImageF32::new(plan.c, plan.out_h, plan.out_w, buf)
}

/// One resampling job: the checked geometry and both axes' weights (`None` = size unchanged).
struct Plan {
    c: usize,
    w: usize,
    top: usize,
    left: usize,
    height: usize,
    width: usize,
    out_h: usize,
    out_w: usize,
    n_out: usize,
    wx: Option<AxisWeights>,
    wy: Option<AxisWeights>,
}

impl Plan {
    fn new(
        img: &ImageF32,
        (top, left, height, width): (usize, usize, usize, usize),
        (out_h, out_w): (usize, usize),
        mode: Interpolation,
        antialias: bool,
    ) -> Result<Self> {
        let (c, h, w) = img.dims();
        if height == 0
            || width == 0
            || out_h == 0
            || out_w == 0
            || top + height > h
            || left + width > w
        {
            return Err(Error::shape(format!(
                "resize: cannot resample region (top {top}, left {left}, {height}x{width}) of a {c}x{h}x{w} image to {out_h}x{out_w}"
            )));
        }
        Ok(Plan {
            c,
            w,
            top,
            left,
            height,
            width,
            out_h,
            out_w,
            n_out: out_h * out_w,
            wx: (out_w != width).then(|| AxisWeights::new(width, out_w, mode, antialias)),
            wy: (out_h != height).then(|| AxisWeights::new(height, out_h, mode, antialias)),
        })
    }

    /// Lengths of the per-channel buffers `(tmp, region_t, out_t)` (reused across channels).
    fn scratch_lens(&self) -> (usize, usize, usize) {
        let (tmp, transposed) = (self.height * self.out_w, self.wx.is_some());
        if transposed {
            (tmp, self.height * self.width, self.height * self.out_w)
        } else {
            (tmp, 0, 0)
        }
    }

    /// Runs `f` with this plan's buffers, carved out of the thread's scratch memory.
    fn with_scratch<R>(&self, f: impl FnOnce(&mut Scratch<'_>) -> R) -> R {
        let (a, b, c) = self.scratch_lens();
        with_scratch(a + b + c, |buf| {
            let (tmp, rest) = buf.split_at_mut(a);
            let (region_t, out_t) = rest.split_at_mut(b);
            f(&mut Scratch {
                tmp,
                region_t,
                out_t,
            })
        })
    }

    /// 1. Rows of the region of `plane`, resampled horizontally (or copied), into `scratch.tmp`.
    ///
    /// The horizontal pass runs on the transposed region, where it becomes a weighted sum of whole
    /// rows (vectorised, like the vertical pass) instead of a short gather per output pixel; the
    /// result is transposed back. Each output is the same sum in the same order as the direct form
    /// (`tests::horizontal_direct`), so the values are identical.
    #[inline(always)]
    fn horizontal(&self, plane: &[f32], scratch: &mut Scratch<'_>) {
        let (height, width, out_w) = (self.height, self.width, self.out_w);
        let region = &plane[self.top * self.w + self.left..];
        let rows = region
            .chunks(self.w)
            .zip(scratch.tmp.chunks_exact_mut(out_w));
        let ax = match &self.wx {
            None => {
                rows.for_each(|(row, dst)| dst.copy_from_slice(&row[..width]));
                return;
            }
            Some(ax) if ax.taps == 1 => {
                // Nearest: a gather (torchvision copies the source value).
                for (row, dst) in rows {
                    for (o, &s) in dst.iter_mut().zip(&ax.starts) {
                        *o = row[s];
                    }
                }
                return;
            }
            Some(ax) => ax,
        };
        let region_t = &mut scratch.region_t[..width * height];
        transpose(region, self.w, height, width, region_t);
        let out_t = &mut scratch.out_t[..out_w * height];
        let t = ax.taps;
        // The direct form's sums: two taps are `a·w0 + b·w1`, more taps accumulate from 0.
        let start = if t == 2 { Start::FirstTap } else { Start::Zero };
        for (x, dst) in out_t.chunks_exact_mut(height).enumerate() {
            let s = ax.starts[x];
            let rows = &region_t[s * height..(s + t) * height];
            weighted_rows(
                dst,
                &ax.weights[x * t..(x + 1) * t],
                |k| &rows[k * height..],
                start,
                start == Start::Zero,
            );
        }
        transpose(out_t, height, out_w, height, scratch.tmp);
    }

    /// 2. Vertical pass from `scratch.tmp` into the output plane `dst`.
    #[inline(always)]
    fn vertical(&self, scratch: &Scratch<'_>, dst: &mut [f32]) {
        let tmp = &*scratch.tmp;
        match &self.wy {
            None => dst.copy_from_slice(&tmp[..self.n_out]),
            Some(ay) => {
                let (t, n) = (ay.taps, self.out_w);
                for (y, row) in dst.chunks_exact_mut(n).enumerate() {
                    let s = ay.starts[y];
                    let rows = &tmp[s * n..(s + t) * n];
                    weighted_rows(
                        row,
                        &ay.weights[y * t..(y + 1) * t],
                        |k| &rows[k * n..],
                        Start::FirstTap,
                        true,
                    );
                }
            }
        }
    }
}

/// Per-channel buffers of a [`Plan`] (stale contents on entry: every pass writes all it reads).
struct Scratch<'a> {
    /// The horizontally resampled region, `height × out_w`.
    tmp: &'a mut [f32],
    /// The region transposed, `width × height`.
    region_t: &'a mut [f32],
    /// The horizontal result transposed, `out_w × height`.
    out_t: &'a mut [f32],
}

/// Scratch memory kept per thread up to this many values (4 MiB); larger requests get a fresh buffer.
const SCRATCH_KEEP: usize = 1 << 20;

thread_local! {
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` values of this thread's scratch memory (contents unspecified).
///
/// Transforms allocate and free their temporaries once per image otherwise; for images of a few
/// hundred KiB that churn makes the allocator hand memory back to the kernel and fault it in again
/// on every call, which cost about as much as the arithmetic.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    if len > SCRATCH_KEEP {
        return f(&mut vec![0.0; len]);
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        // Already in use further up this thread's stack.
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Transposes the `rows × cols` matrix `src` (row stride `stride`) into `dst` (`cols × rows`,
/// `dst[c·rows + r] = src[r·stride + c]`) in 4 × 4 tiles (four 4-value reads, four 4-value
/// writes); the ragged edges go one value at a time.
#[inline(always)]
fn transpose(src: &[f32], stride: usize, rows: usize, cols: usize, dst: &mut [f32]) {
    let row = |r: usize| &src[r * stride..r * stride + cols];
    let (rows4, cols4) = (rows - rows % 4, cols - cols % 4);
    for r in (0..rows4).step_by(4) {
        let quads = row(r)
            .chunks_exact(4)
            .zip(row(r + 1).chunks_exact(4))
            .zip(row(r + 2).chunks_exact(4))
            .zip(row(r + 3).chunks_exact(4));
        for (q, (((a, b), c), d)) in quads.enumerate() {
            let (Ok(a), Ok(b), Ok(c), Ok(d)) = (
                <&[f32; 4]>::try_from(a),
                <&[f32; 4]>::try_from(b),
                <&[f32; 4]>::try_from(c),
                <&[f32; 4]>::try_from(d),
            ) else {
                continue;
            };
            let tile = [
                [a[0], b[0], c[0], d[0]],
                [a[1], b[1], c[1], d[1]],
                [a[2], b[2], c[2], d[2]],
                [a[3], b[3], c[3], d[3]],
            ];
            for (j, t) in tile.iter().enumerate() {
                let at = (4 * q + j) * rows + r;
                dst[at..at + 4].copy_from_slice(t);
            }
        }
    }
    for r in 0..rows {
        let from = if r < rows4 { cols4 } else { 0 };
        for (c, &v) in row(r).iter().enumerate().skip(from) {
            dst[c * rows + r] = v;
        }
    }
}

/// How [`weighted_rows`] starts each sum.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// `0 + Σ_k w_k·row_k`.
    Zero,
    /// `w_0·row_0 + Σ_{k≥1} w_k·row_k`.
    FirstTap,
}

/// `dst[i] = Σ_k weights[k] · row(k)[i]`, summed in tap order from `start` (`skip_zeros` leaves out
/// taps of weight 0 after the first). `row(k)` must be at least `dst.len()` long.
///
/// Leaving out a zero tap does not change a sum that starts from `+0` (for finite values): the tap
/// adds `±0`, and such a sum is never `−0`. The Gaussian kernels of small σ and the antialiasing
/// windows (one padding tap of three when upsampling) have such taps.
///
/// Outputs are produced 32 (then 16, 4, 1) at a time with the accumulators in registers, a shape the
/// compiler vectorises, instead of re-reading and re-writing the output row once per tap. Shared by
/// both resampling passes and the Gaussian blur.
#[inline(always)]
pub(crate) fn weighted_rows<'a>(
    dst: &mut [f32],
    weights: &[f32],
    row: impl Fn(usize) -> &'a [f32],
    start: Start,
    skip_zeros: bool,
) {
    #[inline(always)]
    fn block<'a, const L: usize>(
        dst: &mut [f32],
        i0: usize,
        weights: &[f32],
        row: &impl Fn(usize) -> &'a [f32],
        start: Start,
        skip_zeros: bool,
    ) {
        let lanes = |k: usize| row(k).get(i0..i0 + L).map(<&[f32; L]>::try_from);
        let mut acc = [0.0f32; L];
        let first = match start {
            Start::Zero => 0,
            Start::FirstTap => {
                if let (Some(Ok(src)), Some(&w0)) = (lanes(0), weights.first()) {
                    for (a, &v) in acc.iter_mut().zip(src) {
                        *a = v * w0;
                    }
                }
                1
            }
        };
        for (k, &wk) in weights.iter().enumerate().skip(first) {
            if skip_zeros && wk == 0.0 {
                continue;
            }
            let Some(Ok(src)) = lanes(k) else {
                continue;
            };
            for (a, &v) in acc.iter_mut().zip(src) {
                *a += v * wk;
            }
        }
        if let Some(d) = dst.get_mut(i0..i0 + L) {
            d.copy_from_slice(&acc);
        }
    }
    let n = dst.len();
    let mut i = 0;
    while i + 32 <= n {
        block::<32>(dst, i, weights, &row, start, skip_zeros);
        i += 32;
    }
    while i + 16 <= n {
        block::<16>(dst, i, weights, &row, start, skip_zeros);
        i += 16;
    }
    while i + 4 <= n {
        block::<4>(dst, i, weights, &row, start, skip_zeros);
        i += 4;
    }
    while i < n {
        block::<1>(dst, i, weights, &row, start, skip_zeros);
        i += 1;
    }
}

/// Resizes the whole image to `(out_h, out_w)`.
pub fn resize(
    img: &ImageF32,
    size: (usize, usize),
    mode: Interpolation,
    antialias: bool,
) -> Result<ImageF32> {
    let (c, h, w) = img.dims();
    if h == 0 || w == 0 {
        return Err(Error::shape(format!(
            "resize: input image is empty ({c}x{h}x{w})"
        )));
    }
    if size == (h, w) {
        return Ok(img.clone());
    }
    resize_region(img, (0, 0, h, w), size, mode, antialias)
}

/// torchvision's output size for `Resize(size)` with a single int: the shorter edge becomes `size`
/// and the longer one `⌊size · long / short⌋`.
pub fn smaller_edge_size(h: usize, w: usize, size: usize) -> (usize, usize) {
    if w <= h {
        (((size * h) as f64 / w as f64) as usize, size)
    } else {
        (size, ((size * w) as f64 / h as f64) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct horizontal pass (a short dot product per output pixel), the reference for the
    /// transposed one.
    fn horizontal_direct(src: &[f32], dst: &mut [f32], ax: &AxisWeights) {
        let t = ax.taps;
        match t {
            1 => {
                for (o, &s) in dst.iter_mut().zip(&ax.starts) {
                    *o = src[s];
                }
            }
            2 => {
                for ((o, &s), w) in dst
                    .iter_mut()
                    .zip(&ax.starts)
                    .zip(ax.weights.chunks_exact(2))
                {
                    *o = src[s] * w[0] + src[s + 1] * w[1];
                }
            }
            3 => horizontal_n::<3>(src, dst, ax),
            4 => horizontal_n::<4>(src, dst, ax),
            5 => horizontal_n::<5>(src, dst, ax),
            6 => horizontal_n::<6>(src, dst, ax),
            7 => horizontal_n::<7>(src, dst, ax),
            8 => horizontal_n::<8>(src, dst, ax),
            _ => {
                for ((o, &s), w) in dst
                    .iter_mut()
                    .zip(&ax.starts)
                    .zip(ax.weights.chunks_exact(t))
                {
                    let window = &src[s..s + t];
                    let mut acc = 0.0f32;
                    for k in 0..t {
                        acc += window[k] * w[k];
                    }
                    *o = acc;
                }
            }
        }
    }

    /// The horizontal dot products with a compile-time tap count (unrolled, no bounds checks inside).
    fn horizontal_n<const N: usize>(src: &[f32], dst: &mut [f32], ax: &AxisWeights) {
        for ((o, &s), w) in dst
            .iter_mut()
            .zip(&ax.starts)
            .zip(ax.weights.chunks_exact(N))
        {
            let (Some(win), Ok(w)) = (
                src.get(s..s + N)
                    .and_then(|x| <&[f32; N]>::try_from(x).ok()),
                <&[f32; N]>::try_from(w),
            ) else {
                continue;
            };
            let mut acc = 0.0f32;
            for k in 0..N {
                acc += win[k] * w[k];
            }
            *o = acc;
        }
    }

    /// The direct vertical pass (one sweep over the output row per tap), the reference for
    /// `weighted_rows`.
    fn vertical_direct(src: &[f32], dst: &mut [f32], row_len: usize, ay: &AxisWeights) {
        let t = ay.taps;
        for (y, row) in dst.chunks_exact_mut(row_len).enumerate() {
            let s = ay.starts[y];
            let w = &ay.weights[y * t..(y + 1) * t];
            let r0 = &src[s * row_len..(s + 1) * row_len];
            let w0 = w[0];
            for (o, &v) in row.iter_mut().zip(r0) {
                *o = v * w0;
            }
            for k in 1..t {
                let wk = w[k];
                if wk == 0.0 {
                    continue;
                }
                let rk = &src[(s + k) * row_len..(s + k + 1) * row_len];
                for (o, &v) in row.iter_mut().zip(rk) {
                    *o += v * wk;
                }
            }
        }
    }

    /// The former two-pass loop over the direct forms.
    fn resize_region_direct(
        img: &ImageF32,
        (top, left, height, width): (usize, usize, usize, usize),
        (out_h, out_w): (usize, usize),
        mode: Interpolation,
        antialias: bool,
    ) -> Vec<f32> {
        let (c, _, w) = img.dims();
        let n_out = out_h * out_w;
        let mut out = vec![0.0f32; c * n_out];
        let wx = (out_w != width).then(|| AxisWeights::new(width, out_w, mode, antialias));
        let wy = (out_h != height).then(|| AxisWeights::new(height, out_h, mode, antialias));
        let mut tmp = vec![0.0f32; height * out_w];
        for ch in 0..c {
            let plane = img.plane(ch);
            for y in 0..height {
                let src = &plane[(top + y) * w + left..(top + y) * w + left + width];
                let dst = &mut tmp[y * out_w..(y + 1) * out_w];
                match &wx {
                    None => dst.copy_from_slice(src),
                    Some(ax) => horizontal_direct(src, dst, ax),
                }
            }
            let dst_plane = &mut out[ch * n_out..(ch + 1) * n_out];
            match &wy {
                None => dst_plane.copy_from_slice(&tmp[..n_out]),
                Some(ay) => vertical_direct(&tmp, dst_plane, out_w, ay),
            }
        }
        out
    }

    #[test]
    fn transposed_passes_match_the_direct_passes_bit_for_bit() {
        let (h, w) = (37, 53);
        let data: Vec<f32> = (0..3 * h * w)
            .map(|i| ((i * 7919) % 1009) as f32 / 1008.0 - 0.25)
            .collect();
        let img = ImageF32::new(3, h, w, data).unwrap();
        let regions = [(0, 0, h, w), (3, 5, 20, 31), (10, 0, 1, 7), (0, 40, 37, 1)];
        let sizes = [(37, 53), (64, 96), (9, 5), (1, 1), (40, 17), (20, 31)];
        for mode in [
            Interpolation::Nearest,
            Interpolation::Bilinear,
            Interpolation::Bicubic,
        ] {
            for aa in [false, true] {
                for &rect in &regions {
                    for &size in &sizes {
                        let ours = resize_region(&img, rect, size, mode, aa).unwrap();
                        let direct = resize_region_direct(&img, rect, size, mode, aa);
                        let owned = resize_region_owned(img.clone(), rect, size, mode, aa).unwrap();
                        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        assert_eq!(
                            bits(ours.data()),
                            bits(&direct),
                            "{mode:?} {aa} {rect:?} {size:?}"
                        );
                        assert_eq!(owned, ours, "{mode:?} {aa} {rect:?} {size:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn weights_sum_to_one_and_stay_in_range() {
        for mode in [
            Interpolation::Nearest,
            Interpolation::Bilinear,
            Interpolation::Bicubic,
        ] {
            for aa in [false, true] {
                for (i, o) in [
                    (1, 5),
                    (5, 1),
                    (7, 3),
                    (3, 7),
                    (224, 32),
                    (32, 224),
                    (2, 2),
                    (100, 99),
                ] {
                    let ax = AxisWeights::new(i, o, mode, aa);
                    for (k, &s) in ax.starts.iter().enumerate() {
                        assert!(s + ax.taps <= i, "{mode:?} {aa} {i}->{o}");
                        let sum: f32 = ax.weights[k * ax.taps..(k + 1) * ax.taps].iter().sum();
                        assert!((sum - 1.0).abs() < 1e-5, "{mode:?} {aa} {i}->{o}: {sum}");
                    }
                }
            }
        }
    }

    #[test]
    fn constant_image_stays_constant() {
        let img = ImageF32::new(2, 5, 7, vec![0.25; 70]).unwrap();
        for mode in [
            Interpolation::Nearest,
            Interpolation::Bilinear,
            Interpolation::Bicubic,
        ] {
            for aa in [false, true] {
                let r = resize(&img, (3, 11), mode, aa).unwrap();
                assert_eq!(r.dims(), (2, 3, 11));
                assert!(r.data().iter().all(|v| (v - 0.25).abs() < 1e-6));
            }
        }
    }

    #[test]
    fn halving_with_antialias_averages_pairs() {
        // Closed form: scale 2, support 2 → taps at distance 0.5 and 1.5 from the centre, weights
        // 0.5·(1 - 0.25)… = [1/8, 3/8, 3/8, 1/8] in the interior.
        let img = ImageF32::new(1, 1, 8, (0..8).map(|v| v as f32).collect()).unwrap();
        let r = resize(&img, (1, 4), Interpolation::Bilinear, true).unwrap();
        let expect_interior = |j: usize| {
            let x = 2.0 * j as f32;
            (x - 1.0) / 8.0 + 3.0 * x / 8.0 + 3.0 * (x + 1.0) / 8.0 + (x + 2.0) / 8.0
        };
        assert!((r.data()[1] - expect_interior(1)).abs() < 1e-6);
        assert!((r.data()[2] - expect_interior(2)).abs() < 1e-6);
        // border: taps 0,1,2 with weights 3/8,3/8,1/8 renormalised by 7/8.
        assert!((r.data()[0] - (0.0 * 3.0 + 1.0 * 3.0 + 2.0) / 7.0).abs() < 1e-6);
    }

    #[test]
    fn bad_regions_are_errors() {
        let img = ImageF32::zeros(3, 4, 4);
        assert!(resize_region(&img, (2, 0, 3, 4), (2, 2), Interpolation::Bilinear, true).is_err());
        assert!(resize(&img, (0, 3), Interpolation::Bilinear, true).is_err());
        assert!(resize(
            &ImageF32::zeros(3, 0, 4),
            (2, 2),
            Interpolation::Bilinear,
            true
        )
        .is_err());
    }

    #[test]
    fn smaller_edge_matches_torchvision_rule() {
        assert_eq!(smaller_edge_size(480, 640, 256), (256, 341));
        assert_eq!(smaller_edge_size(640, 480, 256), (341, 256));
    }
}
