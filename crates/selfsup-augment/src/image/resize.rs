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
//! Weights are computed once per call for each axis (a handful of taps per output index). The vertical
//! pass accumulates whole rows (`out_row += w · in_row`), a loop the compiler vectorises; the horizontal
//! pass is a short dot product per output pixel.

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
    (top, left, height, width): (usize, usize, usize, usize),
    (out_h, out_w): (usize, usize),
    mode: Interpolation,
    antialias: bool,
) -> Result<ImageF32> {
    let (c, h, w) = img.dims();
    if height == 0 || width == 0 || out_h == 0 || out_w == 0 || top + height > h || left + width > w
    {
        return Err(Error::shape(format!(
            "resize: cannot resample region (top {top}, left {left}, {height}x{width}) of a {c}x{h}x{w} image to {out_h}x{out_w}"
        )));
    }
    let n_out = out_h * out_w;
    let mut out = vec![0.0f32; c * n_out];
    // Horizontal pass into a (height × out_w) buffer per channel, unless the width is unchanged.
    let wx = (out_w != width).then(|| AxisWeights::new(width, out_w, mode, antialias));
    let wy = (out_h != height).then(|| AxisWeights::new(height, out_h, mode, antialias));
    let mut tmp = vec![0.0f32; height * out_w];
    for ch in 0..c {
        let plane = img.plane(ch);
        // 1. rows of the region, resampled horizontally (or copied).
        for y in 0..height {
            let src = &plane[(top + y) * w + left..(top + y) * w + left + width];
            let dst = &mut tmp[y * out_w..(y + 1) * out_w];
            match &wx {
                None => dst.copy_from_slice(src),
                Some(ax) => horizontal(src, dst, ax),
            }
        }
        // 2. vertical pass.
        let dst_plane = &mut out[ch * n_out..(ch + 1) * n_out];
        match &wy {
            None => dst_plane.copy_from_slice(&tmp[..n_out]),
            Some(ay) => vertical(&tmp, dst_plane, out_w, ay),
        }
    }
    ImageF32::new(c, out_h, out_w, out)
}

#[inline]
fn horizontal(src: &[f32], dst: &mut [f32], ax: &AxisWeights) {
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
#[inline(always)]
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

#[inline]
fn vertical(src: &[f32], dst: &mut [f32], row_len: usize, ay: &AxisWeights) {
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
