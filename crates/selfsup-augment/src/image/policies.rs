//! Automatic augmentation policies: [`RandAugment`] (Cubuk et al. 2020) and [`TrivialAugmentWide`]
//! (Müller & Hutter 2021), with torchvision's operation set, magnitude bins and semantics.
//!
//! Both draw operations from the same 14-op space (identity, shear x/y, translate x/y, rotate,
//! brightness, colour (= saturation), contrast, sharpness, posterize, solarize, autocontrast, equalize);
//! signed magnitudes are negated with probability ½. Geometric ops use nearest interpolation and no
//! fill (outside = 0), as torchvision's defaults; shears are about the top-left corner with the
//! shear angle `atan(magnitude)`.
//! The drawn ops and magnitudes are the parameters ([`PolicyOp`] list), so a policy's draw can be
//! recorded and replayed like any transform.

use super::color::{
    adjust_brightness, adjust_contrast, adjust_saturation, adjust_sharpness, autocontrast,
    equalize, posterize, solarize,
};
use super::resize::Interpolation;
use super::warp::{affine, affine_about, rotate};
use selfsup_core::{check, impl_transform, Error, Generator, ImageF32, RandomTransform, Result};

/// One operation of the augmentation space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// No change.
    Identity,
    /// Horizontal shear.
    ShearX,
    /// Vertical shear.
    ShearY,
    /// Horizontal translation (pixels).
    TranslateX,
    /// Vertical translation (pixels).
    TranslateY,
    /// Rotation (degrees).
    Rotate,
    /// Brightness `1 + m`.
    Brightness,
    /// Saturation `1 + m`.
    Color,
    /// Contrast `1 + m`.
    Contrast,
    /// Sharpness `1 + m`.
    Sharpness,
    /// Posterize to `m` bits.
    Posterize,
    /// Solarize at threshold `m`.
    Solarize,
    /// Autocontrast.
    AutoContrast,
    /// Equalize.
    Equalize,
}

/// The ops in torchvision's order (the index drawn selects from this list).
pub const OPS: [Op; 14] = [
    Op::Identity,
    Op::ShearX,
    Op::ShearY,
    Op::TranslateX,
    Op::TranslateY,
    Op::Rotate,
    Op::Brightness,
    Op::Color,
    Op::Contrast,
    Op::Sharpness,
    Op::Posterize,
    Op::Solarize,
    Op::AutoContrast,
    Op::Equalize,
];

/// An op with its (signed) magnitude.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PolicyOp {
    /// Which op.
    pub op: Op,
    /// Its magnitude (meaning depends on the op).
    pub magnitude: f64,
}

fn linspace(lo: f64, hi: f64, n: usize, i: usize) -> f64 {
    if n <= 1 {
        return lo;
    }
    // torch.linspace in float32: start + i·step for the first half, end − (n−1−i)·step for the rest.
    let step = (hi - lo) / (n - 1) as f64;
    let v = if i < n / 2 {
        lo + step * i as f64
    } else {
        hi - step * (n - 1 - i) as f64
    };
    f64::from(v as f32)
}

/// Magnitude of bin `bin` of `n` bins and whether the op is signed, for the RandAugment (`wide =
/// false`) or TrivialAugmentWide (`wide = true`) space. `None` = the op has no magnitude.
pub fn magnitude_bin(
    op: Op,
    n: usize,
    bin: usize,
    h: usize,
    w: usize,
    wide: bool,
) -> (Option<f64>, bool) {
    let posterize_bits = |div: f64| {
        let v = 8.0 - (bin as f64 / ((n as f64 - 1.0) / div));
        Some(v.round_ties_even())
    };
    match (op, wide) {
        (Op::Identity | Op::AutoContrast | Op::Equalize, _) => (None, false),
        (Op::ShearX | Op::ShearY, false) => (Some(linspace(0.0, 0.3, n, bin)), true),
        (Op::ShearX | Op::ShearY, true) => (Some(linspace(0.0, 0.99, n, bin)), true),
        (Op::TranslateX, false) => (Some(linspace(0.0, 150.0 / 331.0 * w as f64, n, bin)), true),
        (Op::TranslateY, false) => (Some(linspace(0.0, 150.0 / 331.0 * h as f64, n, bin)), true),
        (Op::TranslateX | Op::TranslateY, true) => (Some(linspace(0.0, 32.0, n, bin)), true),
        (Op::Rotate, false) => (Some(linspace(0.0, 30.0, n, bin)), true),
        (Op::Rotate, true) => (Some(linspace(0.0, 135.0, n, bin)), true),
        (Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness, false) => {
            (Some(linspace(0.0, 0.9, n, bin)), true)
        }
        (Op::Brightness | Op::Color | Op::Contrast | Op::Sharpness, true) => {
            (Some(linspace(0.0, 0.99, n, bin)), true)
        }
        (Op::Posterize, false) => (posterize_bits(4.0), false),
        (Op::Posterize, true) => (posterize_bits(6.0), false),
        (Op::Solarize, _) => (Some(linspace(1.0, 0.0, n, bin)), false),
    }
}

/// Applies one op with its magnitude (torchvision's `_apply_image_or_video_transform`, nearest, no fill).
pub fn apply_op(img: ImageF32, op: Op, m: f64) -> Result<ImageF32> {
    if img.is_empty() {
        return Ok(img);
    }
    let nearest = Interpolation::Nearest;
    let f = m as f32;
    Ok(match op {
        Op::Identity => img,
        Op::ShearX => affine_about(
            &img,
            Some((0.0, 0.0)),
            0.0,
            (0.0, 0.0),
            1.0,
            (m.atan().to_degrees(), 0.0),
            nearest,
            None,
        )?,
        Op::ShearY => affine_about(
            &img,
            Some((0.0, 0.0)),
            0.0,
            (0.0, 0.0),
            1.0,
            (0.0, m.atan().to_degrees()),
            nearest,
            None,
        )?,
        Op::TranslateX => affine(&img, 0.0, (m.trunc(), 0.0), 1.0, (0.0, 0.0), nearest, None)?,
        Op::TranslateY => affine(&img, 0.0, (0.0, m.trunc()), 1.0, (0.0, 0.0), nearest, None)?,
        Op::Rotate => rotate(&img, m, nearest, None)?,
        Op::Brightness => adjust_brightness(img, 1.0 + f),
        Op::Color => adjust_saturation(img, 1.0 + f),
        Op::Contrast => adjust_contrast(img, 1.0 + f),
        Op::Sharpness => adjust_sharpness(img, 1.0 + f),
        Op::Posterize => posterize(img, m.clamp(0.0, 8.0) as u8),
        Op::Solarize => solarize(img, f),
        Op::AutoContrast => autocontrast(img),
        Op::Equalize => equalize(img),
    })
}

fn signed(rng: &mut Generator, m: f64, is_signed: bool) -> f64 {
    if is_signed && rng.below(2) == 1 {
        -m
    } else {
        m
    }
}

/// RandAugment: `num_ops` uniformly chosen ops, each at bin `magnitude` of `num_magnitude_bins`.
#[derive(Clone, Debug)]
pub struct RandAugment {
    num_ops: usize,
    magnitude: usize,
    num_magnitude_bins: usize,
}

impl RandAugment {
    /// torchvision defaults: `num_ops = 2`, `magnitude = 9`, `num_magnitude_bins = 31`.
    pub fn new(num_ops: usize, magnitude: usize, num_magnitude_bins: usize) -> Result<Self> {
        check::at_least("rand_augment.num_magnitude_bins", num_magnitude_bins, 2)?;
        if magnitude >= num_magnitude_bins {
            return Err(Error::config(
                "rand_augment.magnitude",
                format!("must be in [0, {}), got {magnitude}", num_magnitude_bins),
            ));
        }
        Ok(RandAugment {
            num_ops,
            magnitude,
            num_magnitude_bins,
        })
    }
}

impl Default for RandAugment {
    fn default() -> Self {
        RandAugment {
            num_ops: 2,
            magnitude: 9,
            num_magnitude_bins: 31,
        }
    }
}

impl RandomTransform<ImageF32> for RandAugment {
    type Params = Vec<PolicyOp>;
    fn transform_name(&self) -> &str {
        "RandAugment"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<Vec<PolicyOp>> {
        let (h, w) = (img.height(), img.width());
        Ok((0..self.num_ops)
            .map(|_| {
                let op = OPS[rng.below(OPS.len() as u64) as usize];
                let (m, s) =
                    magnitude_bin(op, self.num_magnitude_bins, self.magnitude, h, w, false);
                let m = m.unwrap_or(0.0);
                PolicyOp {
                    op,
                    magnitude: signed(rng, m, s),
                }
            })
            .collect())
    }
    fn apply_with(&self, mut img: ImageF32, ops: &Vec<PolicyOp>) -> Result<ImageF32> {
        for p in ops {
            img = apply_op(img, p.op, p.magnitude)?;
        }
        Ok(img)
    }
}
impl_transform!(RandAugment => ImageF32);

/// TrivialAugmentWide: one uniformly chosen op at a uniformly chosen magnitude bin.
#[derive(Clone, Debug)]
pub struct TrivialAugmentWide {
    num_magnitude_bins: usize,
}

impl TrivialAugmentWide {
    /// torchvision default: 31 bins.
    pub fn new(num_magnitude_bins: usize) -> Result<Self> {
        check::at_least(
            "trivial_augment_wide.num_magnitude_bins",
            num_magnitude_bins,
            2,
        )?;
        Ok(TrivialAugmentWide { num_magnitude_bins })
    }
}

impl Default for TrivialAugmentWide {
    fn default() -> Self {
        TrivialAugmentWide {
            num_magnitude_bins: 31,
        }
    }
}

impl RandomTransform<ImageF32> for TrivialAugmentWide {
    type Params = PolicyOp;
    fn transform_name(&self) -> &str {
        "TrivialAugmentWide"
    }
    fn sample_params(&self, img: &ImageF32, rng: &mut Generator) -> Result<PolicyOp> {
        let op = OPS[rng.below(OPS.len() as u64) as usize];
        let bin = rng.below(self.num_magnitude_bins as u64) as usize;
        let (m, s) = magnitude_bin(
            op,
            self.num_magnitude_bins,
            bin,
            img.height(),
            img.width(),
            true,
        );
        let m = m.unwrap_or(0.0);
        Ok(PolicyOp {
            op,
            magnitude: signed(rng, m, s),
        })
    }
    fn apply_with(&self, img: ImageF32, p: &PolicyOp) -> Result<ImageF32> {
        apply_op(img, p.op, p.magnitude)
    }
}
impl_transform!(TrivialAugmentWide => ImageF32);

/// Parses torchvision's op name (`"ShearX"`, `"Color"`, …).
pub fn op_from_name(name: &str) -> Option<Op> {
    let names = [
        "Identity",
        "ShearX",
        "ShearY",
        "TranslateX",
        "TranslateY",
        "Rotate",
        "Brightness",
        "Color",
        "Contrast",
        "Sharpness",
        "Posterize",
        "Solarize",
        "AutoContrast",
        "Equalize",
    ];
    names.iter().position(|n| *n == name).map(|i| OPS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_bins_match_torchvision_tables() {
        // torchvision: RandAugment posterize bins = (8 - arange(31) / (30 / 4)).round() → bin 9: 8 - 1.2 = 6.8 → 7
        assert_eq!(
            magnitude_bin(Op::Posterize, 31, 9, 32, 32, false).0,
            Some(7.0)
        );
        assert_eq!(
            magnitude_bin(Op::Posterize, 31, 30, 32, 32, true).0,
            Some(2.0)
        );
        assert!((magnitude_bin(Op::Rotate, 31, 9, 32, 32, false).0.unwrap() - 9.0).abs() < 1e-5);
        assert!((magnitude_bin(Op::Solarize, 31, 30, 32, 32, true).0.unwrap()).abs() < 1e-7);
        assert_eq!(
            magnitude_bin(Op::Equalize, 31, 3, 32, 32, true),
            (None, false)
        );
        assert!(RandAugment::new(2, 31, 31).is_err());
    }
}
