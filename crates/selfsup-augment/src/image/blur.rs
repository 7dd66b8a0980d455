//! Gaussian blur (torchvision's `GaussianBlur`): a normalised Gaussian kernel
//! `∝ exp(−t² / 2σ²)` for `t = −(k−1)/2 … (k−1)/2`, reflect padding, σ drawn uniformly from a range.
//!
//! torchvision convolves with the 2-D outer-product kernel; the kernel is separable, so this applies the
//! 1-D kernel along rows, then along columns (same function up to float rounding, far fewer operations).
//! Reflect padding is resolved outside the hot loops (each row is padded once; the vertical pass reads
//! through a table of source rows), and both passes are the resampler's `weighted_rows` (blocks of
//! adjacent outputs accumulated in registers, vectorised; AVX2 where the CPU has it). The transform
//! blurs in place, with one per-thread scratch plane.
//!
//! Reflect padding needs the image to be larger than half the kernel in torchvision (it errors
//! otherwise); here reflection continues periodically, so tiny images (even 1×1) are blurred without
//! error.

use super::geometry::{map_index, PaddingMode};
use super::resize::{weighted_rows, with_scratch, Start};
use super::simd::with_avx2;
use selfsup_core::{check, impl_transform, Error, Generator, ImageF32, RandomTransform, Result};

/// The normalised 1-D Gaussian kernel of odd size `k` and standard deviation `sigma`.
pub fn gaussian_kernel1d(k: usize, sigma: f32) -> Vec<f32> {
    let half = (k as f64 - 1.0) / 2.0;
    let s = f64::from(sigma);
    let w: Vec<f64> = (0..k)
        .map(|i| {
            let t = i as f64 - half;
            (-(t * t) / (2.0 * s * s)).exp()
        })
        .collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// Blurs every channel with kernel sizes `(kx, ky)` (odd) and standard deviations `(sx, sy)`.
pub fn gaussian_blur(img: &ImageF32, kernel: (usize, usize), sigma: (f32, f32)) -> ImageF32 {
    let mut out = img.clone();
    gaussian_blur_in_place(&mut out, kernel, sigma);
    out
}

/// [`gaussian_blur`] writing the result over its input (one `h × w` scratch plane, no output image).
pub fn gaussian_blur_in_place(img: &mut ImageF32, (kx, ky): (usize, usize), (sx, sy): (f32, f32)) {
    let (c, h, w) = img.dims();
    if img.is_empty() {
        return;
    }
    let kxv = gaussian_kernel1d(kx, sx);
    let kyv = gaussian_kernel1d(ky, sy);
    let (px, py) = (kx / 2, ky / 2);
    // Source columns of the reflected borders (left `px`, then right `px`).
    let border_src: Vec<usize> = (0..px as i64)
        .map(|i| i - px as i64)
        .chain(w as i64..(w + px) as i64)
        .map(|i| map_index(i, w, PaddingMode::Reflect).unwrap_or(0))
        .collect();
    // Start of each padded source row in the horizontally blurred plane.
    let row_start: Vec<usize> = (0..h + 2 * py)
        .map(|i| w * map_index(i as i64 - py as i64, h, PaddingMode::Reflect).unwrap_or(0))
        .collect();
    with_scratch(h * w + w + 2 * px, |scratch| {
        let (hrows, padded) = scratch.split_at_mut(h * w);
        with_avx2(
            #[inline(always)]
            || {
                for ch in 0..c {
                    let plane = img.plane_mut(ch);
                    // Horizontal pass: each row, reflect-padded once, convolved into `hrows`.
                    for (src, dst) in plane.chunks_exact(w).zip(hrows.chunks_exact_mut(w)) {
                        let (left, rest) = padded.split_at_mut(px);
                        let (mid, right) = rest.split_at_mut(w);
                        mid.copy_from_slice(src);
                        for (p, &s) in left.iter_mut().chain(right.iter_mut()).zip(&border_src) {
                            *p = src[s];
                        }
                        weighted_rows(dst, &kxv, |j| &padded[j..], Start::Zero, true);
                    }
                    // Vertical pass: output row `y` reads blurred rows `row_start[y .. y + ky]`.
                    for (y, dst) in plane.chunks_exact_mut(w).enumerate() {
                        let rows = &row_start[y..y + ky];
                        weighted_rows(dst, &kyv, |j| &hrows[rows[j]..], Start::Zero, true);
                    }
                }
            },
        );
    });
}

/// Blurs with a Gaussian whose σ is drawn uniformly from `sigma` (torchvision's `GaussianBlur`).
#[derive(Clone, Debug)]
pub struct GaussianBlur {
    kernel_size: (usize, usize),
    sigma: (f64, f64),
}

impl GaussianBlur {
    /// Square odd `kernel_size`, σ range `(lo, hi)` with `0 < lo ≤ hi` (torchvision default `(0.1, 2.0)`).
    pub fn new(kernel_size: usize, sigma: (f64, f64)) -> Result<Self> {
        Self::with_sizes((kernel_size, kernel_size), sigma)
    }

    /// Kernel size `(kx, ky)` (width, height; both odd and ≥ 1).
    pub fn with_sizes(kernel_size: (usize, usize), sigma: (f64, f64)) -> Result<Self> {
        for (i, k) in [kernel_size.0, kernel_size.1].into_iter().enumerate() {
            if k == 0 || k % 2 == 0 {
                return Err(Error::config(
                    format!("gaussian_blur.kernel_size[{i}]"),
                    format!("must be an odd number >= 1, got {k}"),
                ));
            }
        }
        check::interval("gaussian_blur.sigma", sigma, 0.0, f64::MAX)?;
        check::positive("gaussian_blur.sigma[0]", sigma.0)?;
        Ok(GaussianBlur { kernel_size, sigma })
    }

    /// The odd kernel size closest to 10% of the image size (the SimCLR paper's rule), at least 3.
    pub fn simclr_kernel_size(image_size: usize) -> usize {
        let k = (image_size as f64 * 0.1) as usize;
        (if k % 2 == 0 { k + 1 } else { k }).max(3)
    }
}

impl RandomTransform<ImageF32> for GaussianBlur {
    type Params = f32;
    fn transform_name(&self) -> &str {
        "GaussianBlur"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<f32> {
        Ok(rng.uniform(self.sigma.0, self.sigma.1) as f32)
    }
    fn apply_with(&self, mut img: ImageF32, sigma: &f32) -> Result<ImageF32> {
        gaussian_blur_in_place(&mut img, self.kernel_size, (*sigma, *sigma));
        Ok(img)
    }
}
impl_transform!(GaussianBlur => ImageF32);

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain float64 2-D convolution with numpy-style reflect padding (independent reference).
    fn reference(img: &ImageF32, k: usize, sigma: f64) -> Vec<f64> {
        let (c, h, w) = img.dims();
        let half = (k as f64 - 1.0) / 2.0;
        let g: Vec<f64> = (0..k)
            .map(|i| (-((i as f64 - half).powi(2)) / (2.0 * sigma * sigma)).exp())
            .collect();
        let s: f64 = g.iter().sum();
        let refl = |i: i64, n: i64| -> usize {
            let mut i = i;
            while i < 0 || i >= n {
                i = if i < 0 { -i } else { 2 * (n - 1) - i };
            }
            i as usize
        };
        let mut out = vec![0.0; c * h * w];
        let p = (k / 2) as i64;
        for ch in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0.0;
                    for dy in 0..k {
                        for dx in 0..k {
                            let sy = refl(y as i64 + dy as i64 - p, h as i64);
                            let sx = refl(x as i64 + dx as i64 - p, w as i64);
                            acc += g[dy] * g[dx] / (s * s) * f64::from(img.get(ch, sy, sx));
                        }
                    }
                    out[(ch * h + y) * w + x] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn matches_a_float64_2d_convolution() {
        let data: Vec<f32> = (0..3 * 9 * 7)
            .map(|i| ((i * 37) % 101) as f32 / 100.0)
            .collect();
        let img = ImageF32::new(3, 9, 7, data).unwrap();
        for (k, s) in [(3, 0.5), (5, 1.3), (7, 2.0)] {
            let ours = gaussian_blur(&img, (k, k), (s as f32, s as f32));
            for (a, b) in ours.data().iter().zip(reference(&img, k, s)) {
                assert!((f64::from(*a) - b).abs() < 1e-5, "k={k}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn tiny_images_do_not_panic() {
        let one = ImageF32::new(3, 1, 1, vec![0.2, 0.4, 0.6]).unwrap();
        let out = gaussian_blur(&one, (5, 5), (1.0, 1.0));
        for (a, b) in out.data().iter().zip(one.data()) {
            assert!((a - b).abs() < 1e-6);
        }
        assert!(GaussianBlur::new(4, (0.1, 2.0)).is_err());
        assert!(GaussianBlur::new(3, (0.0, 2.0)).is_err());
        assert_eq!(GaussianBlur::simclr_kernel_size(224), 23);
        assert_eq!(GaussianBlur::simclr_kernel_size(32), 3);
        assert_eq!(GaussianBlur::simclr_kernel_size(96), 9);
    }
}
