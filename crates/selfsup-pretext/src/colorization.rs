//! Colorization (Zhang et al., 2016): from the lightness `L` of CIE Lab predict the colour channels
//! `a`, `b` — as regression, or (`mode = "classification"`) as a distribution over the 313 quantised
//! `ab` bins with soft-encoded targets and class rebalancing ([`crate::ab_bins`]).
//!
//! The conversion is scikit-image's `rgb2lab` / `lab2rgb` (sRGB with the D65 2° white point, the
//! sRGB transfer curve, CIE's `f(t)` with the 0.008856 / 7.787 linear segment), computed in float64:
//! - [`rgb_to_lab`] / [`lab_to_rgb`] on single pixels, [`image_rgb_to_lab`] / [`image_lab_to_rgb`] on
//!   planar images (`lab_to_rgb` clips to `[0, 1]` like scikit-image).
//! - The view is `L / 100` (one channel in `[0, 1]`); the target is `a / 110, b / 110` plus a weight
//!   plane of ones (the crate's dense-target convention); [`Colorization::reconstruct`] puts a
//!   predicted `ab` back together with `L` into RGB.
//! - Classification: the target is [`Colorization::soft_target`]'s `2k + 1` planes (the `k` nearest
//!   bins' indices, their weights, the weight plane).

use crate::{as_image, PretextGenerator, Target};
use selfsup_core::{check, Error, Generator, ImageF32, Result, Sample};
use serde::{Deserialize, Serialize};

/// scikit-image's `xyz_from_rgb` (sRGB, D65).
pub const XYZ_FROM_RGB: [[f64; 3]; 3] = [
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
];
/// The D65 white point of the 2° observer, as scikit-image.
pub const D65: [f64; 3] = [0.95047, 1.0, 1.08883];
/// Scale of the `ab` targets (`ab / AB_SCALE` is roughly in `[-1, 1]`).
pub const AB_SCALE: f64 = 110.0;

fn invert3(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let mut inv = [[0.0; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            // cofactor of (j, i) over det
            let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
            let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
            *v = (m[c0][r0] * m[c1][r1] - m[c0][r1] * m[c1][r0]) / det;
        }
    }
    inv
}

fn mat_vec(m: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    let row = |r: &[f64; 3]| r[0] * v[0] + r[1] * v[1] + r[2] * v[2];
    [row(&m[0]), row(&m[1]), row(&m[2])]
}

/// The sRGB decoding curve of one channel value in `[0, 1]` (to linear light).
fn srgb_to_linear(c: f64) -> f64 {
    if c > 0.04045 {
        ((c + 0.055) / 1.055).powf(2.4)
    } else {
        c / 12.92
    }
}

/// The cube root of a positive finite `t` to within an ulp or so: an estimate from the exponent bits
/// (the exponent divided by three) refined by four Newton steps. It stands in for `f64::cbrt`,
/// whose portable correctly-rounded implementation took half the conversion's time.
fn cbrt_positive(t: f64) -> f64 {
    let mut y = f64::from_bits(t.to_bits() / 3 + 0x2A9F_7893_782D_A1CE);
    for _ in 0..4 {
        y = (2.0 * y + t / (y * y)) * (1.0 / 3.0);
    }
    y
}

/// CIE's `f(t)` of a white-normalised tristimulus value.
fn lab_f(t: f64) -> f64 {
    if t > 0.008856 {
        cbrt_positive(t)
    } else {
        7.787 * t + 16.0 / 116.0
    }
}

/// CIE Lab of one pixel in linear-light RGB.
fn linear_to_lab(lin: [f64; 3]) -> [f64; 3] {
    let [x, y, z] = mat_vec(&XYZ_FROM_RGB, lin);
    let (fx, fy, fz) = (lab_f(x / D65[0]), lab_f(y / D65[1]), lab_f(z / D65[2]));
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
}

/// One sRGB pixel in `[0, 1]` to CIE Lab (`L` in `[0, 100]`).
pub fn rgb_to_lab(rgb: [f64; 3]) -> [f64; 3] {
    let [r, g, b] = rgb;
    linear_to_lab([srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b)])
}

/// [`srgb_to_linear`] of the 8-bit levels as the workspace's decoders write them (`k / 255` and
/// `k * (1 / 255)` in `f32`, which differ by one rounding for some `k`), so that an image fresh from
/// 8-bit data skips the `powf`: `(level, linear)` pairs, two per `k`.
struct LevelTable([[(f32, f64); 2]; 256]);

impl LevelTable {
    fn get() -> &'static LevelTable {
        static TABLE: std::sync::OnceLock<LevelTable> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            let mut t = [[(0.0f32, 0.0f64); 2]; 256];
            for (k, pair) in t.iter_mut().enumerate() {
                let k = k as f32;
                for (slot, level) in pair.iter_mut().zip([k / 255.0, k * (1.0 / 255.0)]) {
                    *slot = (level, srgb_to_linear(f64::from(level)));
                }
            }
            LevelTable(t)
        })
    }

    /// `srgb_to_linear(v)`, bit for bit: looked up when `v` is an 8-bit level, computed otherwise.
    fn linear(&self, v: f32) -> f64 {
        // the nearest level (a saturating cast; a negative or NaN `v` matches no level below)
        let k = (v * 255.0 + 0.5) as usize;
        if k < 256 {
            for &(level, lin) in &self.0[k] {
                if level == v {
                    return lin;
                }
            }
        }
        srgb_to_linear(f64::from(v))
    }
}

/// One CIE Lab pixel back to sRGB, clipped to `[0, 1]` (scikit-image's `lab2rgb`).
pub fn lab_to_rgb(lab: [f64; 3]) -> [f64; 3] {
    let y = (lab[0] + 16.0) / 116.0;
    let x = lab[1] / 500.0 + y;
    let z = (y - lab[2] / 200.0).max(0.0);
    let f = [x, y, z];
    let xyz = [0, 1, 2].map(|i| {
        let t = f[i];
        let v = if t > 0.2068966 {
            t.powi(3)
        } else {
            (t - 16.0 / 116.0) / 7.787
        };
        v * D65[i]
    });
    let rgb_from_xyz = invert3(&XYZ_FROM_RGB);
    mat_vec(&rgb_from_xyz, xyz).map(|c| {
        let v = if c > 0.0031308 {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        } else {
            c * 12.92
        };
        v.clamp(0.0, 1.0)
    })
}

fn map_pixels(img: &ImageF32, f: impl Fn([f64; 3]) -> [f64; 3]) -> Result<ImageF32> {
    let (c, h, w) = img.dims();
    if c != 3 {
        return Err(Error::shape(format!(
            "colour conversion needs 3 channels, got {c}"
        )));
    }
    let n = h * w;
    let d = img.data();
    let mut out = vec![0.0f32; 3 * n];
    for i in 0..n {
        let v = f([
            f64::from(d[i]),
            f64::from(d[n + i]),
            f64::from(d[2 * n + i]),
        ]);
        for ch in 0..3 {
            out[ch * n + i] = v[ch] as f32;
        }
    }
    ImageF32::new(3, h, w, out)
}

/// A planar RGB image in `[0, 1]` to planar Lab (`L, a, b` planes, unscaled): [`rgb_to_lab`] of
/// every pixel, bit for bit, with the decoding curve looked up for 8-bit levels.
pub fn image_rgb_to_lab(img: &ImageF32) -> Result<ImageF32> {
    let table = LevelTable::get();
    map_pixels(img, |[r, g, b]| {
        let lin = |c: f64| table.linear(c as f32);
        linear_to_lab([lin(r), lin(g), lin(b)])
    })
}

/// A planar Lab image to planar RGB in `[0, 1]`.
pub fn image_lab_to_rgb(img: &ImageF32) -> Result<ImageF32> {
    map_pixels(img, lab_to_rgb)
}

/// What the colorization model predicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorizationMode {
    /// `ab / 110` per pixel, weighted mean squared error.
    #[default]
    Regression,
    /// A distribution over the 313 quantised `ab` bins per pixel (`crate::ab_bins`), soft-encoded
    /// targets, rebalanced cross-entropy.
    Classification,
}

/// Settings of the colorization task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColorizationConfig {
    /// `regression` (default) or `classification` over the 313 `ab` bins.
    pub mode: ColorizationMode,
    /// Nearest bins of the soft encoding (classification; default 5).
    pub neighbours: usize,
    /// Gaussian width of the soft encoding and of the prior's smoothing, in `ab` units (default 5).
    pub sigma: f64,
    /// Mixing weight `λ` of the class rebalancing `((1 − λ) p̃ + λ / Q)⁻¹` (default 0.5; 1 = no
    /// rebalancing).
    pub rebalance_lambda: f64,
}

impl Default for ColorizationConfig {
    fn default() -> Self {
        ColorizationConfig {
            mode: ColorizationMode::Regression,
            neighbours: 5,
            sigma: 5.0,
            rebalance_lambda: 0.5,
        }
    }
}

impl ColorizationConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if !(1..=32).contains(&self.neighbours) {
            return Err(Error::config(
                "colorization.neighbours",
                format!("must be in [1, 32], got {}", self.neighbours),
            ));
        }
        check::in_range("colorization.sigma", self.sigma, 0.1, 100.0)?;
        check::in_range(
            "colorization.rebalance_lambda",
            self.rebalance_lambda,
            0.0,
            1.0,
        )
    }
    /// Validates and builds.
    pub fn build(&self) -> Result<Colorization> {
        self.validate()?;
        Ok(Colorization { cfg: self.clone() })
    }
}

/// The colorization generator; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct Colorization {
    cfg: ColorizationConfig,
}

impl Colorization {
    /// `(L / 100, [a / 110, b / 110, 1])` of an RGB image.
    pub fn split(img: &ImageF32) -> Result<(ImageF32, ImageF32)> {
        let (c, h, w) = img.dims();
        if c != 3 {
            return Err(Error::config(
                "method.kind",
                format!("colorization needs RGB (3-channel) images, got {c} channel(s)"),
            ));
        }
        let lab = image_rgb_to_lab(img)?;
        let n = h * w;
        let l: Vec<f32> = lab.plane(0).iter().map(|&v| v / 100.0).collect();
        let mut t: Vec<f32> = lab.data()[n..]
            .iter()
            .map(|&v| (f64::from(v) / AB_SCALE) as f32)
            .collect();
        t.extend(std::iter::repeat_n(1.0f32, n));
        Ok((ImageF32::new(1, h, w, l)?, ImageF32::new(3, h, w, t)?))
    }

    /// RGB from the `L / 100` view and a (predicted) `ab / 110` map with 2 (or more; extra planes are
    /// ignored) planes.
    pub fn reconstruct(l: &ImageF32, ab: &ImageF32) -> Result<ImageF32> {
        let (_, h, w) = l.dims();
        if l.channels() != 1 || ab.channels() < 2 || ab.height() != h || ab.width() != w {
            return Err(Error::shape(format!(
                "reconstruct needs L 1x{h}x{w} and ab 2x{h}x{w}, got {:?} and {:?}",
                l.dims(),
                ab.dims()
            )));
        }
        let n = h * w;
        let mut lab = Vec::with_capacity(3 * n);
        lab.extend(l.data().iter().map(|&v| v * 100.0));
        lab.extend(
            ab.data()[..2 * n]
                .iter()
                .map(|&v| (f64::from(v) * AB_SCALE) as f32),
        );
        image_lab_to_rgb(&ImageF32::new(3, h, w, lab)?)
    }
}

impl Colorization {
    /// The classification target of a regression target `[a/110, b/110, 1]`: `2k + 1` planes, the
    /// indices of the `k` nearest bins (as floats, nearest first), their soft-encoding weights, and
    /// the weight plane of ones (the method multiplies it by the rebalancing weight of the nearest bin).
    pub fn soft_target(&self, regression: &ImageF32) -> Result<ImageF32> {
        let (_, h, w) = regression.dims();
        let n = h * w;
        let k = self.cfg.neighbours;
        let d = regression.data();
        let mut out = vec![0.0f32; (2 * k + 1) * n];
        for i in 0..n {
            let ab = [f64::from(d[i]) * AB_SCALE, f64::from(d[n + i]) * AB_SCALE];
            for (j, (bin, wt)) in crate::ab_bins::soft_encode(ab, k, self.cfg.sigma)
                .into_iter()
                .enumerate()
            {
                out[j * n + i] = bin as f32;
                out[(k + j) * n + i] = wt as f32;
            }
            out[2 * k * n + i] = 1.0;
        }
        ImageF32::new(2 * k + 1, h, w, out)
    }
}

impl PretextGenerator for Colorization {
    fn kind(&self) -> &'static str {
        "colorization"
    }
    fn n_views(&self) -> usize {
        1
    }
    fn num_classes(&self) -> Option<usize> {
        None
    }
    fn generate(&self, sample: &Sample, _rng: &mut Generator) -> Result<(Vec<Sample>, Target)> {
        let img = as_image(sample, "colorization")?;
        let (l, t) = Self::split(&img)?;
        let t = match self.cfg.mode {
            ColorizationMode::Regression => t,
            ColorizationMode::Classification => self.soft_target(&t)?,
        };
        Ok((vec![Sample::Image(l)], Target::Dense(Sample::Image(t))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_matrix_is_an_inverse() {
        let inv = invert3(&XYZ_FROM_RGB);
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| XYZ_FROM_RGB[i][k] * inv[k][j]).sum();
                assert!((v - f64::from(u8::from(i == j))).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn cube_root_is_within_two_ulps_of_the_correctly_rounded_one() {
        // the range `f(t)` uses (t > 0.008856, up to the brightest white-normalised value), and beyond
        for i in 0..100_000 {
            let t = 0.008 + 1.5 * f64::from(i) / 100_000.0;
            let (ours, exact) = (cbrt_positive(t), t.cbrt());
            assert!(
                (ours - exact).abs() <= 2.0 * f64::EPSILON * exact,
                "cbrt({t}): {ours} vs {exact}"
            );
        }
        for t in [1e-300, 1e-20, 0.008856, 1.0, 8.0, 1e20, 1e300] {
            assert!(
                (cbrt_positive(t) / t.cbrt() - 1.0).abs() <= 2.0 * f64::EPSILON,
                "cbrt({t})"
            );
        }
    }

    #[test]
    fn image_conversion_is_the_pixel_conversion_bit_for_bit() {
        // every 8-bit level under both decoder conventions, plus values between levels
        let mut vals: Vec<f32> = (0..=255u16)
            .flat_map(|k| {
                let k = f32::from(k);
                [k / 255.0, k * (1.0 / 255.0)]
            })
            .collect();
        vals.extend((0..512).map(|i| (i as f32 * 0.618_034).fract()));
        vals.extend([0.04045, 0.040_45_f32.next_up(), 1.0e-7]);
        let n = vals.len();
        let data: Vec<f32> = (0..3)
            .flat_map(|c| (0..n).map(move |i| (c, i)))
            .map(|(c, i)| vals[(i * (c + 1) + c * 7) % n])
            .collect();
        let img = ImageF32::new(3, 1, n, data.clone()).unwrap();
        let lab = image_rgb_to_lab(&img).unwrap();
        for i in 0..n {
            let px = rgb_to_lab([0, 1, 2].map(|c| f64::from(data[c * n + i])));
            for c in 0..3 {
                assert_eq!(lab.data()[c * n + i], px[c] as f32, "pixel {i} channel {c}");
            }
        }
    }
}
