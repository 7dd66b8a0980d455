//! Photometric transforms: colour jitter (brightness, contrast, saturation, hue in random order),
//! greyscale, solarize, posterize, equalize, autocontrast, sharpness, and `Normalize`.
//!
//! ## Semantics (torchvision v2, float path, values in `[0, 1]`)
//! - grey = `0.2989·R + 0.587·G + 0.114·B` (computed in `f32` in that order).
//! - `blend(a, b, f) = clamp(a·f + b·(1 − f), 0, 1)`; brightness = `clamp(x·f)`, contrast blends with
//!   the mean of the grey image, saturation with the per-pixel grey.
//! - hue: RGB → HSV (PIL's formulation as torchvision writes it), `h ← (h + f) mod 1`, HSV → RGB.
//! - solarize: `x ≥ t ? 1 − x : x`; posterize(bits): `⌊x·2^b⌋` clamped to `2^b − 1`, divided by `2^b`;
//!   equalize: PIL's histogram LUT on `⌊x·255.999⌋`, back as `/255`; autocontrast: per-channel min–max
//!   stretch; sharpness: blend with a 3×3 smoothing kernel (1s, 5 in the centre, /13) on the interior.
//!
//! ## Speed
//! Jitter, greyscale and `Normalize` work in place without temporaries (the grey value is computed per
//! pixel where it is used); hue is branch-free so its loops vectorise; these loops run through an
//! AVX2 build where the CPU has it (`simd`), with results identical to the bit either way.
//!
//! ## Channel policy
//! Images with 3 or more channels are RGB (extra channels, e.g. alpha, are left untouched); images with
//! 1 or 2 channels are grey: saturation, hue and greyscale are then no-ops and contrast uses the mean
//! of all values, exactly as torchvision treats 1-channel images.

use super::simd::with_avx2;
use selfsup_core::{
    check, impl_transform, Error, Generator, Image, ImageF32, RandomTransform, Result,
};
use serde::{Deserialize, Serialize};

#[inline]
fn grey_px(r: f32, g: f32, b: f32) -> f32 {
    r * 0.2989 + g * 0.587 + b * 0.114
}

fn is_rgb<T: Copy + Default>(img: &Image<T>) -> bool {
    img.channels() >= 3
}

/// The per-pixel grey plane of an RGB image (`None` for grey images).
pub fn grey_plane(img: &ImageF32) -> Option<Vec<f32>> {
    if !is_rgb(img) {
        return None;
    }
    let (r, g, b) = (img.plane(0), img.plane(1), img.plane(2));
    Some(
        r.iter()
            .zip(g)
            .zip(b)
            .map(|((&r, &g), &b)| grey_px(r, g, b))
            .collect(),
    )
}

/// Colour channels a colour op touches: the first three for RGB(+extra), all for grey images.
pub(crate) fn colour_channels<T: Copy + Default>(img: &Image<T>) -> usize {
    if is_rgb(img) {
        3
    } else {
        img.channels()
    }
}

/// `clamp(x · f, 0, 1)` on the colour channels.
pub fn adjust_brightness(mut img: ImageF32, f: f32) -> ImageF32 {
    let n = img.height() * img.width() * colour_channels(&img);
    let values = &mut img.data_mut()[..n];
    with_avx2(
        #[inline(always)]
        || {
            values
                .iter_mut()
                .for_each(|v| *v = (*v * f).clamp(0.0, 1.0))
        },
    );
    img
}

/// Blends the colour channels with a constant: `clamp(x·f + m·(1 − f), 0, 1)`.
fn blend_with_const(img: &mut ImageF32, m: f32, f: f32) {
    let n = img.height() * img.width() * colour_channels(img);
    let mg = m * (1.0 - f);
    let values = &mut img.data_mut()[..n];
    with_avx2(
        #[inline(always)]
        || {
            values
                .iter_mut()
                .for_each(|v| *v = (*v * f + mg).clamp(0.0, 1.0))
        },
    );
}

/// Blends with the mean of the grey image (mean of all values for grey images).
///
/// The mean is accumulated in `f64` (in 8 interleaved partial sums), then rounded to `f32`.
pub fn adjust_contrast(mut img: ImageF32, f: f32) -> ImageF32 {
    if img.is_empty() {
        return img;
    }
    let mean = if is_rgb(&img) {
        let n = img.height() * img.width();
        let (r, g, b) = (&img.plane(0)[..n], &img.plane(1)[..n], &img.plane(2)[..n]);
        with_avx2(
            #[inline(always)]
            || grey_mean(r, g, b),
        )
    } else {
        let d = img.data();
        let mut acc = [0.0f64; LANES];
        let chunks = d.chunks_exact(LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for k in 0..LANES {
                acc[k] += f64::from(c[k]);
            }
        }
        rest.iter().fold(fold_lanes(acc), |t, &v| t + f64::from(v)) / d.len() as f64
    } as f32;
    blend_with_const(&mut img, mean, f);
    img
}

/// Mean of the grey image of equal-length planes `r, g, b`.
#[inline(always)]
fn grey_mean(r: &[f32], g: &[f32], b: &[f32]) -> f64 {
    let n = r.len();
    let mut acc = [0.0f64; LANES];
    let chunks = r
        .chunks_exact(LANES)
        .zip(g.chunks_exact(LANES))
        .zip(b.chunks_exact(LANES));
    for ((r, g), b) in chunks {
        for k in 0..LANES {
            acc[k] += f64::from(grey_px(r[k], g[k], b[k]));
        }
    }
    let tail = n - n % LANES;
    let mut total = fold_lanes(acc);
    for i in tail..n {
        total += f64::from(grey_px(r[i], g[i], b[i]));
    }
    total / n as f64
}

/// Partial sums of the contrast mean (lane `k` adds values `k, k + LANES, …`, so the loop vectorises).
const LANES: usize = 8;

fn fold_lanes(a: [f64; LANES]) -> f64 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// Blends with the per-pixel grey image (no-op for grey images).
pub fn adjust_saturation(mut img: ImageF32, f: f32) -> ImageF32 {
    if !is_rgb(&img) {
        return img;
    }
    let g1 = 1.0 - f;
    let (r, g, b) = rgb_planes_mut(&mut img);
    with_avx2(
        #[inline(always)]
        || {
            for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
                let o = grey_px(*r, *g, *b) * g1;
                *r = (*r * f + o).clamp(0.0, 1.0);
                *g = (*g * f + o).clamp(0.0, 1.0);
                *b = (*b * f + o).clamp(0.0, 1.0);
            }
        },
    );
    img
}

/// The first three planes of an RGB image, mutably (callers check [`is_rgb`]).
fn rgb_planes_mut(img: &mut ImageF32) -> (&mut [f32], &mut [f32], &mut [f32]) {
    let n = img.height() * img.width();
    let data = img.data_mut();
    let (r, rest) = data.split_at_mut(n);
    let (g, rest) = rest.split_at_mut(n);
    (r, g, &mut rest[..n])
}

/// Rotates the hue by `f ∈ [−0.5, 0.5]` turns (no-op for grey images; other values are taken modulo 1).
pub fn adjust_hue(mut img: ImageF32, f: f32) -> ImageF32 {
    if !is_rgb(&img) {
        return img;
    }
    let f = if (-0.5..=0.5).contains(&f) {
        f
    } else {
        let r = f - f.floor();
        if r > 0.5 {
            r - 1.0
        } else {
            r
        }
    };
    let (r, g, b) = rgb_planes_mut(&mut img);
    // Two passes, RGB → (6h, s, v) in place, then back: each loop body is short enough for several
    // iterations to overlap (one fused body is one long dependency chain per pixel).
    with_avx2(
        #[inline(always)]
        || {
            for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
                (*r, *g, *b) = shifted_hsv(*r, *g, *b, f);
            }
            for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
                (*r, *g, *b) = hsv_to_rgb(*r, *g, *b);
            }
        },
    );
    img
}

/// One pixel of [`adjust_hue`]: [`shifted_hsv`] then [`hsv_to_rgb`].
#[cfg(test)]
pub(crate) fn hue_shift_px(r: f32, g: f32, b: f32, f: f32) -> (f32, f32, f32) {
    let (h6, s, v) = shifted_hsv(r, g, b, f);
    hsv_to_rgb(h6, s, v)
}

/// torchvision's `_rgb_to_hsv` and hue shift for one pixel, in `f32`: `(6·h', s, v)` with `h'` the
/// shifted hue in `[0, 1]`.
///
/// This and [`hsv_to_rgb`] are written without branches (every case is computed and the right one
/// selected), so the loops over an image vectorise; the arithmetic is the same, operation for
/// operation, as the case-by-case form (`tests::branch_free_hue_matches_…` checks every output bit).
#[inline(always)]
fn shifted_hsv(r: f32, g: f32, b: f32, f: f32) -> (f32, f32, f32) {
    // Plain comparisons (one `maxps`/`minps` each) rather than `f32::max`, whose NaN rule costs a
    // blend per call; the images are finite.
    let max = |a: f32, b: f32| if a > b { a } else { b };
    let min = |a: f32, b: f32| if a < b { a } else { b };
    let maxc = max(max(r, g), b);
    let minc = min(min(r, g), b);
    let eqc = maxc == minc;
    let range = maxc - minc;
    let s = range / if eqc { 1.0 } else { maxc };
    let div = if eqc { 1.0 } else { range };
    // torchvision: rc, gc, bc = (maxc − channel) / div, and h = bc − gc (max is r), rc + 2 − bc (g),
    // gc + 4 − rc (b). Each case needs two of the three quotients, so pick the numerators first:
    // h = (maxc − x1) / div + offset − (maxc − x2) / div, with `+ 0.0` exact for r (bc ≥ +0).
    let (x1, x2, offset) = if maxc == r {
        (b, g, 0.0)
    } else if maxc == g {
        (r, b, 2.0)
    } else {
        (g, r, 4.0)
    };
    let h = ((maxc - x1) / div + offset) - (maxc - x2) / div;
    // torchvision: (h / 6 + 1) fmod 1, then (h + f) remainder 1. Both arguments stay within one period of
    // [0, 1), so a single conditional subtraction/addition gives the same value (exactly: x − 1 is exact
    // for x ∈ [1, 2)) without the slow library calls.
    let h = h * (1.0f32 / 6.0) + 1.0;
    let h = if h >= 1.0 { h - 1.0 } else { h };
    let h = h + f;
    let h = if h < 0.0 {
        h + 1.0
    } else if h >= 1.0 {
        h - 1.0
    } else {
        h
    };
    (h * 6.0, s, maxc)
}

/// torchvision's `_hsv_to_rgb` for one pixel from `(6·h, s, v)`.
#[inline(always)]
fn hsv_to_rgb(h6: f32, s: f32, v: f32) -> (f32, f32, f32) {
    // k = ⌊h6⌋ for h6 ∈ [0, 6] (6 only when h + f + 1 rounds to 1): adding and removing 2²³ rounds to
    // the nearest integer (exactly, in f32), one down-step fixes a round-up. (A float → int cast would
    // not vectorise.) Sector `k = 6` is sector 0 (torchvision's `i % 6`); `h6 − k` is its `f`.
    const ROUND: f32 = 8_388_608.0;
    let nearest = (h6 + ROUND) - ROUND;
    let k = if nearest > h6 { nearest - 1.0 } else { nearest };
    let fr = h6 - k;
    let sxf = s * fr;
    let one_minus_s = 1.0 - s;
    let q = ((1.0 - sxf) * v).clamp(0.0, 1.0);
    let t = ((sxf + one_minus_s) * v).clamp(0.0, 1.0);
    let p = (one_minus_s * v).clamp(0.0, 1.0);
    // Sectors 0…5: r = (v, q, p, p, t, v), g = (t, v, v, q, p, p), b = (p, p, t, v, v, q): each
    // channel is v, p or x, where x is q in odd sectors and t in even ones.
    let x = if k == 1.0 || k == 3.0 || k == 5.0 {
        q
    } else {
        t
    };
    let within = |lo: f32, hi: f32| k >= lo && k < hi;
    let nr = if within(2.0, 4.0) {
        p
    } else if within(1.0, 5.0) {
        x
    } else {
        v
    };
    let ng = if within(1.0, 3.0) {
        v
    } else if within(4.0, 6.0) {
        p
    } else {
        x
    };
    let nb = if within(3.0, 5.0) {
        v
    } else if within(2.0, 6.0) {
        x
    } else {
        p
    };
    (nr, ng, nb)
}

/// Replaces the first three channels by the grey image (no-op for grey images), keeping the channel count.
pub fn to_grayscale_keep_channels(mut img: ImageF32) -> ImageF32 {
    if is_rgb(&img) {
        let (r, g, b) = rgb_planes_mut(&mut img);
        with_avx2(
            #[inline(always)]
            || {
                for ((r, g), b) in r.iter_mut().zip(g.iter_mut()).zip(b.iter_mut()) {
                    let y = grey_px(*r, *g, *b);
                    (*r, *g, *b) = (y, y, y);
                }
            },
        );
    }
    img
}

/// A one-channel grey image (torchvision's `Grayscale(num_output_channels=1)`).
pub fn to_grayscale(img: &ImageF32) -> ImageF32 {
    match grey_plane(img) {
        Some(g) => ImageF32::new(1, img.height(), img.width(), g).expect("size"),
        None => {
            let n = img.height() * img.width();
            ImageF32::new(
                1,
                img.height(),
                img.width(),
                img.data()[..n.min(img.data().len())].to_vec(),
            )
            .unwrap_or_else(|_| ImageF32::zeros(1, img.height(), img.width()))
        }
    }
}

/// `x ≥ threshold ? 1 − x : x` on the colour channels.
pub fn solarize(mut img: ImageF32, threshold: f32) -> ImageF32 {
    let n = img.height() * img.width() * colour_channels(&img);
    for v in &mut img.data_mut()[..n] {
        if *v >= threshold {
            *v = 1.0 - *v;
        }
    }
    img
}

/// Keeps `bits` bits per value: `clamp(⌊x·2^bits⌋, 0, 2^bits − 1) / 2^bits`.
pub fn posterize(mut img: ImageF32, bits: u8) -> ImageF32 {
    let levels = (1u32 << bits.min(8)) as f32;
    let inv = 1.0 / levels;
    let n = img.height() * img.width() * colour_channels(&img);
    for v in &mut img.data_mut()[..n] {
        *v = (*v * levels).floor().clamp(0.0, levels - 1.0) * inv;
    }
    img
}

/// Histogram equalisation per channel (PIL's LUT on 8-bit values, as torchvision v2).
pub fn equalize(mut img: ImageF32) -> ImageF32 {
    for c in 0..colour_channels(&img) {
        let plane = img.plane_mut(c);
        let q: Vec<u8> = plane
            .iter()
            .map(|&v| (v * (255.0 + 1.0 - 1e-3)).clamp(0.0, 255.0) as u8)
            .collect();
        // Without a LUT (one occupied level, or too few pixels) torchvision returns the input as is,
        // through the 8-bit round trip.
        let lut = equalize_lut(&q).unwrap_or(IDENTITY_LUT);
        for (v, &u) in plane.iter_mut().zip(&q) {
            *v = f32::from(lut[u as usize]) / 255.0;
        }
    }
    img
}

/// The identity 8-bit lookup table.
pub(crate) const IDENTITY_LUT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut k = 0;
    while k < 256 {
        t[k] = k as u8;
        k += 1;
    }
    t
};

/// PIL's / torchvision's equalisation LUT of one 8-bit plane: `None` when it leaves the plane as is
/// (the step `(n − count of the largest occupied level) / 255` is 0).
pub(crate) fn equalize_lut(plane: &[u8]) -> Option<[u8; 256]> {
    let mut hist = [0usize; 256];
    for &v in plane {
        hist[v as usize] += 1;
    }
    // Count of the largest occupied bin = the last non-zero histogram entry.
    let last = hist.iter().rposition(|&h| h > 0).unwrap_or(0);
    let step = (plane.len() - hist[last]) / 255;
    if step == 0 {
        return None;
    }
    let mut lut = [0u8; 256];
    let mut cum = 0usize;
    for k in 1..256 {
        cum += hist[k - 1];
        lut[k] = ((cum + step / 2) / step).min(255) as u8;
    }
    Some(lut)
}

/// Stretches each channel to `[0, 1]` (`(x − min) / (max − min)`; constant channels are left as is).
pub fn autocontrast(mut img: ImageF32) -> ImageF32 {
    for c in 0..colour_channels(&img) {
        let plane = img.plane_mut(c);
        if plane.is_empty() {
            continue;
        }
        let lo = plane.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = plane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (lo, inv_scale) = if hi == lo {
            (0.0, 1.0)
        } else {
            (lo, (hi - lo) * 1.0)
        };
        for v in plane.iter_mut() {
            *v = ((*v - lo) / inv_scale).clamp(0.0, 1.0);
        }
    }
    img
}

/// Sharpness: blends the interior with a 3×3 smoothed copy (`f = 0` blurs, `1` is the identity, `> 1` sharpens).
pub fn adjust_sharpness(mut img: ImageF32, f: f32) -> ImageF32 {
    let (_, h, w) = img.dims();
    if img.is_empty() || h <= 2 || w <= 2 {
        return img;
    }
    let (a, b) = (1.0f32 / 13.0, 5.0f32 / 13.0);
    let alpha = 1.0 - f;
    for c in 0..colour_channels(&img) {
        let src = img.plane(c).to_vec();
        let plane = img.plane_mut(c);
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let at = |yy: usize, xx: usize| src[yy * w + xx];
                let mut blur = 0.0f32;
                for dy in 0..3 {
                    for dx in 0..3 {
                        let k = if dy == 1 && dx == 1 { b } else { a };
                        blur += at(y + dy - 1, x + dx - 1) * k;
                    }
                }
                let v = src[y * w + x];
                plane[y * w + x] = v + (blur - v) * alpha;
            }
        }
        for v in plane.iter_mut() {
            *v = v.clamp(0.0, 1.0);
        }
    }
    img
}

/// A factor range `[lo, hi]` drawn uniformly; `None` when the op is disabled.
pub type FactorRange = Option<(f64, f64)>;

/// torchvision's `_check_input`: a single value `x` means `[max(0, 1 − x), 1 + x]`; the op is disabled
/// when the range is the single point `1`.
fn jitter_range(field: &str, x: f64) -> Result<FactorRange> {
    check::non_negative(field, x)?;
    let r = ((1.0 - x).max(0.0), 1.0 + x);
    Ok(if r == (1.0, 1.0) { None } else { Some(r) })
}

/// Randomly changes brightness, contrast, saturation and hue, in a random order
/// (torchvision's `ColorJitter`).
#[derive(Clone, Debug)]
pub struct ColorJitter {
    brightness: FactorRange,
    contrast: FactorRange,
    saturation: FactorRange,
    hue: FactorRange,
}

/// One draw of [`ColorJitter`]: the order of the four ops (0 brightness, 1 contrast, 2 saturation,
/// 3 hue) and each enabled op's factor.
#[derive(Clone, Debug, PartialEq)]
pub struct ColorJitterParams {
    /// A permutation of `0..4`.
    pub order: [u8; 4],
    /// Brightness factor.
    pub brightness: Option<f32>,
    /// Contrast factor.
    pub contrast: Option<f32>,
    /// Saturation factor.
    pub saturation: Option<f32>,
    /// Hue shift in turns.
    pub hue: Option<f32>,
}

impl ColorJitter {
    /// Strengths as torchvision's single values: factors in `[max(0, 1 − x), 1 + x]`, hue in `[−h, h]`
    /// with `h ≤ 0.5`.
    pub fn new(brightness: f64, contrast: f64, saturation: f64, hue: f64) -> Result<Self> {
        check::in_range("color_jitter.hue", hue, 0.0, 0.5)?;
        Ok(ColorJitter {
            brightness: jitter_range("color_jitter.brightness", brightness)?,
            contrast: jitter_range("color_jitter.contrast", contrast)?,
            saturation: jitter_range("color_jitter.saturation", saturation)?,
            hue: if hue == 0.0 { None } else { Some((-hue, hue)) },
        })
    }

    /// Explicit ranges (`None` disables an op); factor ranges must be within `[0, ∞)`, hue within
    /// `[−0.5, 0.5]`.
    pub fn with_ranges(
        brightness: FactorRange,
        contrast: FactorRange,
        saturation: FactorRange,
        hue: FactorRange,
    ) -> Result<Self> {
        for (f, r) in [
            ("color_jitter.brightness", brightness),
            ("color_jitter.contrast", contrast),
            ("color_jitter.saturation", saturation),
        ] {
            if let Some(r) = r {
                check::interval(f, r, 0.0, f64::MAX)?;
            }
        }
        if let Some(h) = hue {
            check::interval("color_jitter.hue", h, -0.5, 0.5)?;
        }
        Ok(ColorJitter {
            brightness,
            contrast,
            saturation,
            hue,
        })
    }

    /// The configured ranges `(brightness, contrast, saturation, hue)`.
    pub fn ranges(&self) -> [FactorRange; 4] {
        [self.brightness, self.contrast, self.saturation, self.hue]
    }

    /// Applies fixed parameters (the pure half).
    pub fn apply_params(img: ImageF32, p: &ColorJitterParams) -> ImageF32 {
        let mut img = img;
        for &op in &p.order {
            img = match op {
                0 => match p.brightness {
                    Some(f) => adjust_brightness(img, f),
                    None => img,
                },
                1 => match p.contrast {
                    Some(f) => adjust_contrast(img, f),
                    None => img,
                },
                2 => match p.saturation {
                    Some(f) => adjust_saturation(img, f),
                    None => img,
                },
                _ => match p.hue {
                    Some(f) => adjust_hue(img, f),
                    None => img,
                },
            };
        }
        img
    }
}

impl RandomTransform<ImageF32> for ColorJitter {
    type Params = ColorJitterParams;
    fn transform_name(&self) -> &str {
        "ColorJitter"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<ColorJitterParams> {
        let perm = rng.permutation(4);
        let mut order = [0u8; 4];
        for (o, p) in order.iter_mut().zip(perm) {
            *o = p as u8;
        }
        let mut draw = |r: FactorRange| r.map(|(lo, hi)| rng.uniform(lo, hi) as f32);
        let brightness = draw(self.brightness);
        let contrast = draw(self.contrast);
        let saturation = draw(self.saturation);
        let hue = draw(self.hue);
        Ok(ColorJitterParams {
            order,
            brightness,
            contrast,
            saturation,
            hue,
        })
    }
    fn apply_with(&self, img: ImageF32, p: &ColorJitterParams) -> Result<ImageF32> {
        Ok(Self::apply_params(img, p))
    }
}
impl_transform!(ColorJitter => ImageF32);

macro_rules! coin_transform {
    ($(#[$doc:meta])* $name:ident, $field:literal, |$img:ident, $s:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            pub(crate) p: f64,
        }
        impl $name {
            /// Applies with probability `p ∈ [0, 1]`.
            pub fn new(p: f64) -> Result<Self> {
                check::probability(concat!($field, ".p"), p)?;
                Ok($name { p })
            }
        }
        impl RandomTransform<ImageF32> for $name {
            type Params = bool;
            fn transform_name(&self) -> &str {
                stringify!($name)
            }
            fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<bool> {
                Ok(rng.bernoulli(self.p))
            }
            fn apply_with(&self, $img: ImageF32, on: &bool) -> Result<ImageF32> {
                #[allow(unused_variables)]
                let $s = self;
                Ok(if *on { $body } else { $img })
            }
        }
        impl_transform!($name => ImageF32);
    };
}

coin_transform!(
    /// Converts to grey with probability `p`, keeping the channel count (torchvision's `RandomGrayscale`).
    RandomGrayscale, "random_grayscale", |img, s| to_grayscale_keep_channels(img)
);
coin_transform!(
    /// Histogram-equalises with probability `p` (torchvision's `RandomEqualize`).
    RandomEqualize, "random_equalize", |img, s| equalize(img)
);
coin_transform!(
    /// Autocontrasts with probability `p` (torchvision's `RandomAutocontrast`).
    RandomAutocontrast, "random_autocontrast", |img, s| autocontrast(img)
);

/// Solarizes with probability `p` (torchvision's `RandomSolarize`).
#[derive(Clone, Debug)]
pub struct RandomSolarize {
    pub(crate) threshold: f32,
    pub(crate) p: f64,
}

impl RandomSolarize {
    /// `threshold ∈ [0, 1]`, `p ∈ [0, 1]`.
    pub fn new(threshold: f64, p: f64) -> Result<Self> {
        check::in_range("random_solarize.threshold", threshold, 0.0, 1.0)?;
        check::probability("random_solarize.p", p)?;
        Ok(RandomSolarize {
            threshold: threshold as f32,
            p,
        })
    }
}

impl RandomTransform<ImageF32> for RandomSolarize {
    type Params = bool;
    fn transform_name(&self) -> &str {
        "RandomSolarize"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<bool> {
        Ok(rng.bernoulli(self.p))
    }
    fn apply_with(&self, img: ImageF32, on: &bool) -> Result<ImageF32> {
        Ok(if *on {
            solarize(img, self.threshold)
        } else {
            img
        })
    }
}
impl_transform!(RandomSolarize => ImageF32);

/// Posterizes with probability `p` (torchvision's `RandomPosterize`).
#[derive(Clone, Debug)]
pub struct RandomPosterize {
    pub(crate) bits: u8,
    pub(crate) p: f64,
}

impl RandomPosterize {
    /// `bits ∈ [0, 8]`, `p ∈ [0, 1]`.
    pub fn new(bits: u8, p: f64) -> Result<Self> {
        if bits > 8 {
            return Err(Error::config(
                "random_posterize.bits",
                format!("must be in [0, 8], got {bits}"),
            ));
        }
        check::probability("random_posterize.p", p)?;
        Ok(RandomPosterize { bits, p })
    }
}

impl RandomTransform<ImageF32> for RandomPosterize {
    type Params = bool;
    fn transform_name(&self) -> &str {
        "RandomPosterize"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<bool> {
        Ok(rng.bernoulli(self.p))
    }
    fn apply_with(&self, img: ImageF32, on: &bool) -> Result<ImageF32> {
        Ok(if *on { posterize(img, self.bits) } else { img })
    }
}
impl_transform!(RandomPosterize => ImageF32);

/// Adjusts sharpness by a fixed factor with probability `p` (torchvision's `RandomAdjustSharpness`).
#[derive(Clone, Debug)]
pub struct RandomAdjustSharpness {
    factor: f32,
    p: f64,
}

impl RandomAdjustSharpness {
    /// `sharpness_factor ≥ 0`, `p ∈ [0, 1]`.
    pub fn new(sharpness_factor: f64, p: f64) -> Result<Self> {
        check::non_negative("random_adjust_sharpness.sharpness_factor", sharpness_factor)?;
        check::probability("random_adjust_sharpness.p", p)?;
        Ok(RandomAdjustSharpness {
            factor: sharpness_factor as f32,
            p,
        })
    }
}

impl RandomTransform<ImageF32> for RandomAdjustSharpness {
    type Params = bool;
    fn transform_name(&self) -> &str {
        "RandomAdjustSharpness"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<bool> {
        Ok(rng.bernoulli(self.p))
    }
    fn apply_with(&self, img: ImageF32, on: &bool) -> Result<ImageF32> {
        Ok(if *on {
            adjust_sharpness(img, self.factor)
        } else {
            img
        })
    }
}
impl_transform!(RandomAdjustSharpness => ImageF32);

/// `(x − mean[c]) / std[c]` per channel (torchvision's `Normalize`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// ImageNet statistics, the usual choice for SSL recipes.
    pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    /// ImageNet standard deviations.
    pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

    /// One mean and one std per channel (same length, std > 0). A single value applies to every channel.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Result<Self> {
        check::at_least("normalize.mean", mean.len(), 1)?;
        if mean.len() != std.len() {
            return Err(Error::config(
                "normalize.std",
                format!(
                    "needs as many values as normalize.mean ({}), got {}",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        for (i, &s) in std.iter().enumerate() {
            check::positive(&format!("normalize.std[{i}]"), f64::from(s))?;
        }
        for (i, &m) in mean.iter().enumerate() {
            if !m.is_finite() {
                return Err(Error::config(
                    format!("normalize.mean[{i}]"),
                    "must be finite",
                ));
            }
        }
        Ok(Normalize { mean, std })
    }

    /// ImageNet mean and std.
    pub fn imagenet() -> Self {
        Normalize {
            mean: Self::IMAGENET_MEAN.to_vec(),
            std: Self::IMAGENET_STD.to_vec(),
        }
    }

    /// Normalises in place.
    pub fn normalize(&self, mut img: ImageF32) -> Result<ImageF32> {
        let c = img.channels();
        if self.mean.len() != 1 && self.mean.len() != c {
            return Err(Error::shape(format!(
                "Normalize has {} means but the image has {c} channels",
                self.mean.len()
            )));
        }
        for ch in 0..c {
            let k = if self.mean.len() == 1 { 0 } else { ch };
            let (m, s) = (self.mean[k], self.std[k]);
            let plane = img.plane_mut(ch);
            with_avx2(
                #[inline(always)]
                || plane.iter_mut().for_each(|v| *v = (*v - m) / s),
            );
        }
        Ok(img)
    }
}

impl RandomTransform<ImageF32> for Normalize {
    type Params = ();
    fn transform_name(&self) -> &str {
        "Normalize"
    }
    fn sample_params(&self, _: &ImageF32, _: &mut Generator) -> Result<()> {
        Ok(())
    }
    fn apply_with(&self, img: ImageF32, _: &()) -> Result<ImageF32> {
        self.normalize(img)
    }
}
impl_transform!(Normalize => ImageF32);

/// Contrast about each channel's mean, then an additive brightness shift:
/// `x ↦ (x − mean_c)·contrast + mean_c + brightness`, clamped to `[0, 1]` when `clip`. Every channel
/// (grey or colour) pivots on its own plain mean, accumulated in `f32` in pixel order.
pub fn adjust_contrast_brightness(
    mut img: ImageF32,
    contrast: f32,
    brightness: f32,
    clip: bool,
) -> ImageF32 {
    let plane = img.height() * img.width();
    if plane == 0 {
        return img;
    }
    for values in img.data_mut().chunks_exact_mut(plane) {
        let mean = values.iter().sum::<f32>() / plane as f32;
        for v in values.iter_mut() {
            let y = (*v - mean) * contrast + mean + brightness;
            *v = if clip { y.clamp(0.0, 1.0) } else { y };
        }
    }
    img
}

/// Random contrast about the channel mean and additive brightness ([`adjust_contrast_brightness`]):
/// `contrast ~ U(contrast)`, `brightness ~ U(brightness)` — the light photometric change of the
/// `digit` recipe. Unlike torchvision's `ColorJitter` brightness (a factor, which leaves a black
/// background black) the shift moves the background too.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomContrastBrightness {
    contrast: (f64, f64),
    brightness: (f64, f64),
    clip: bool,
}

impl RandomContrastBrightness {
    /// `contrast ⊂ [0, 10]`, `brightness ⊂ [−1, 1]`; `clip` clamps the result to `[0, 1]`.
    pub fn new(contrast: (f64, f64), brightness: (f64, f64), clip: bool) -> Result<Self> {
        check::interval("random_contrast_brightness.contrast", contrast, 0.0, 10.0)?;
        check::interval(
            "random_contrast_brightness.brightness",
            brightness,
            -1.0,
            1.0,
        )?;
        Ok(RandomContrastBrightness {
            contrast,
            brightness,
            clip,
        })
    }
}

impl Default for RandomContrastBrightness {
    /// Contrast 0.6–1.4, brightness −0.2…0.2, clipped.
    fn default() -> Self {
        RandomContrastBrightness {
            contrast: (0.6, 1.4),
            brightness: (-0.2, 0.2),
            clip: true,
        }
    }
}

impl RandomTransform<ImageF32> for RandomContrastBrightness {
    /// `(contrast, brightness)`.
    type Params = (f32, f32);
    fn transform_name(&self) -> &str {
        "RandomContrastBrightness"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<(f32, f32)> {
        let c = rng.uniform(self.contrast.0, self.contrast.1) as f32;
        let b = rng.uniform(self.brightness.0, self.brightness.1) as f32;
        Ok((c, b))
    }
    fn apply_with(&self, img: ImageF32, &(c, b): &(f32, f32)) -> Result<ImageF32> {
        Ok(adjust_contrast_brightness(img, c, b, self.clip))
    }
}
impl_transform!(RandomContrastBrightness => ImageF32);

#[cfg(test)]
mod tests {
    use super::*;

    fn px(r: f32, g: f32, b: f32) -> ImageF32 {
        ImageF32::new(3, 1, 1, vec![r, g, b]).unwrap()
    }

    /// The branchy per-pixel form this module used before [`hue_shift_px`] was made branch-free
    /// (torchvision's `_rgb_to_hsv` / `_hsv_to_rgb` case by case; checked against the torchvision
    /// fixtures in `tests/image_parity.rs` when it was the implementation).
    pub(super) fn hue_shift_px_reference(r: f32, g: f32, b: f32, f: f32) -> (f32, f32, f32) {
        let maxc = r.max(g).max(b);
        let minc = r.min(g).min(b);
        let eqc = maxc == minc;
        let range = maxc - minc;
        let s = range / if eqc { 1.0 } else { maxc };
        let div = if eqc { 1.0 } else { range };
        let rc = (maxc - r) / div;
        let gc = (maxc - g) / div;
        let bc = (maxc - b) / div;
        let h = if maxc == r {
            bc - gc
        } else if maxc == g {
            rc + 2.0 - bc
        } else {
            gc + 4.0 - rc
        };
        // torchvision: (h / 6 + 1) fmod 1, then (h + f) remainder 1. Both arguments stay within one period of
        // [0, 1), so a single conditional subtraction/addition gives the same value (exactly: x − 1 is exact
        // for x ∈ [1, 2)) without the slow library calls.
        let mut h = h * (1.0f32 / 6.0) + 1.0;
        if h >= 1.0 {
            h -= 1.0;
        }
        let mut h = h + f;
        if h < 0.0 {
            h += 1.0;
        } else if h >= 1.0 {
            h -= 1.0;
        }
        let v = maxc;
        let h6 = h * 6.0;
        // h6 ≥ 0, so truncation is floor.
        let i = h6 as i32;
        let fr = h6 - i as f32;
        let sxf = s * fr;
        let one_minus_s = 1.0 - s;
        let q = ((1.0 - sxf) * v).clamp(0.0, 1.0);
        let t = ((sxf + one_minus_s) * v).clamp(0.0, 1.0);
        let p = (one_minus_s * v).clamp(0.0, 1.0);
        match i % 6 {
            0 => (v, t, p),
            1 => (q, v, p),
            2 => (p, v, t),
            3 => (p, q, v),
            4 => (t, p, v),
            _ => (v, p, q),
        }
    }

    #[test]
    fn branch_free_hue_matches_the_case_by_case_form_bit_for_bit() {
        let mut vals: Vec<f32> = vec![0.0, 1e-7, 0.1, 0.25, 0.5, 0.500_000_1, 0.999_999_9, 1.0];
        // Plus a pseudo-random spread (LCG), including 8-bit values.
        let mut state = 12345u64;
        for _ in 0..24 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            vals.push((state >> 40) as f32 / (1u64 << 24) as f32);
        }
        vals.extend((0..=255).step_by(17).map(|v| v as f32 / 255.0));
        let factors = [-0.5f32, -0.3, -0.1, -1e-8, 0.0, 1e-8, 0.05, 0.2, 0.37, 0.5];
        let mut checked = 0;
        for &r in &vals {
            for &g in &vals {
                for &b in &vals {
                    for &f in &factors {
                        let ours = hue_shift_px(r, g, b, f);
                        let reference = hue_shift_px_reference(r, g, b, f);
                        assert_eq!(
                            [ours.0.to_bits(), ours.1.to_bits(), ours.2.to_bits()],
                            [
                                reference.0.to_bits(),
                                reference.1.to_bits(),
                                reference.2.to_bits()
                            ],
                            "rgb ({r}, {g}, {b}), f {f}: {ours:?} vs {reference:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100_000);
    }

    #[test]
    fn hue_shift_by_a_third_cycles_primaries() {
        // Closed form: +1/3 turn maps red → green → blue.
        let out = adjust_hue(px(1.0, 0.0, 0.0), 1.0 / 3.0);
        assert!(
            (out.data()[1] - 1.0).abs() < 1e-5 && out.data()[0] < 1e-5,
            "{:?}",
            out.data()
        );
        let out = adjust_hue(px(0.2, 0.6, 0.4), 0.0);
        for (a, b) in out.data().iter().zip([0.2, 0.6, 0.4]) {
            assert!((a - b).abs() < 1e-6);
        }
        // Grey pixels and grey images are unchanged.
        assert_eq!(adjust_hue(px(0.3, 0.3, 0.3), 0.25).data(), &[0.3, 0.3, 0.3]);
        let g = ImageF32::new(1, 1, 2, vec![0.1, 0.9]).unwrap();
        assert_eq!(adjust_hue(g.clone(), 0.2), g);
    }

    #[test]
    fn blends_follow_closed_forms() {
        let img = ImageF32::new(3, 1, 2, vec![0.2, 0.4, 0.6, 0.8, 0.1, 0.3]).unwrap();
        let grey: Vec<f64> = (0..2)
            .map(|i| {
                0.2989 * img.data()[i] as f64
                    + 0.587 * img.data()[2 + i] as f64
                    + 0.114 * img.data()[4 + i] as f64
            })
            .collect();
        let mean = (grey[0] + grey[1]) / 2.0;
        let c = adjust_contrast(img.clone(), 0.5);
        for (k, &v) in c.data().iter().enumerate() {
            let e = 0.5 * img.data()[k] as f64 + 0.5 * mean;
            assert!((v as f64 - e).abs() < 1e-6);
        }
        let s = adjust_saturation(img.clone(), 0.0);
        for k in 0..6 {
            assert!((s.data()[k] as f64 - grey[k % 2]).abs() < 1e-6);
        }
        let b = adjust_brightness(img, 2.0);
        assert_eq!(b.data(), &[0.4, 0.8, 1.0, 1.0, 0.2, 0.6]);
    }

    #[test]
    fn jitter_validates_and_disables_zero_strength() {
        assert!(ColorJitter::new(-0.1, 0.0, 0.0, 0.0).is_err());
        let e = ColorJitter::new(0.4, 0.4, 0.4, 0.6)
            .unwrap_err()
            .to_string();
        assert!(e.contains("color_jitter.hue"), "{e}");
        let j = ColorJitter::new(0.0, 1.5, 0.0, 0.1).unwrap();
        assert_eq!(
            j.ranges(),
            [None, Some((0.0, 2.5)), None, Some((-0.1, 0.1))]
        );
    }

    #[test]
    fn posterize_solarize_equalize_closed_forms() {
        let img = ImageF32::new(1, 1, 4, vec![0.0, 0.3, 0.5, 0.99]).unwrap();
        assert_eq!(posterize(img.clone(), 1).data(), &[0.0, 0.0, 0.5, 0.5]);
        assert_eq!(
            solarize(img.clone(), 0.5).data(),
            &[0.0, 0.3, 0.5, 1.0 - 0.99]
        );
        // Two-level image: equalize maps the low level to 0 (step = n_low / 255 = 0 → unchanged).
        let auto = autocontrast(img);
        assert_eq!(auto.data()[0], 0.0);
        assert!((auto.data()[3] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn normalize_checks_channels() {
        let n = Normalize::imagenet();
        assert!(n.normalize(ImageF32::zeros(1, 2, 2)).is_err());
        let out = n.normalize(ImageF32::zeros(3, 1, 1)).unwrap();
        assert!((out.data()[0] + 0.485 / 0.229).abs() < 1e-6);
        assert!(Normalize::new(vec![0.5], vec![0.0]).is_err());
    }
}
