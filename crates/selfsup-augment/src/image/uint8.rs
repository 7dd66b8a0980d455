//! `uint8` kernels where torchvision has them: posterize, solarize, invert, autocontrast and equalize on
//! [`ImageU8`], with torchvision v2's integer formulas.
//!
//! They are not the float path rounded: torchvision's `uint8` posterize masks bits (`v & mask`), the
//! float one computes `⌊x·2^b⌋ / 2^b`, and the two differ by up to one grey level of the quantised
//! image (posterize to 1 bit sends 255 to 128 here and to 0.5 = 127.5/255 there). A pipeline that
//! decodes to `uint8` and runs these before converting to float matches a torchvision `uint8` pipeline
//! value for value (`tests/uint8_parity.rs`, fixtures from `scripts/fixtures/uint8_fixtures.py`).
//!
//! The random wrappers ([`RandomPosterize`], [`RandomSolarize`], [`RandomEqualize`],
//! [`RandomAutocontrast`]) apply to [`ImageU8`] as well as to [`ImageF32`](selfsup_core::ImageF32),
//! with the same draws; `RandomSolarize`'s threshold `t ∈ [0, 1]` is `t·255` on `uint8` values.
//! As in [`color`](super::color), images with 3 or more channels are RGB (extra channels are left
//! alone) and 1–2 channel images are grey.

use super::color::{
    colour_channels, equalize_lut, RandomAutocontrast, RandomEqualize, RandomPosterize,
    RandomSolarize,
};
use selfsup_core::{impl_transform, Generator, ImageU8, RandomTransform, Result};

/// Keeps the `bits` high bits of each value (`v & mask`, torchvision's `uint8` posterize); `bits ≥ 8`
/// returns the image as is.
pub fn posterize_u8(mut img: ImageU8, bits: u8) -> ImageU8 {
    if bits >= 8 {
        return img;
    }
    let mask = (((1u16 << bits) - 1) << (8 - bits)) as u8;
    let n = img.height() * img.width() * colour_channels(&img);
    for v in &mut img.data_mut()[..n] {
        *v &= mask;
    }
    img
}

/// `255 − v` on the colour channels (torchvision's `invert`).
pub fn invert_u8(mut img: ImageU8) -> ImageU8 {
    let n = img.height() * img.width() * colour_channels(&img);
    for v in &mut img.data_mut()[..n] {
        *v = 255 - *v;
    }
    img
}

/// `v ≥ threshold ? 255 − v : v` on the colour channels (torchvision's `solarize` on `uint8`).
pub fn solarize_u8(mut img: ImageU8, threshold: u8) -> ImageU8 {
    let n = img.height() * img.width() * colour_channels(&img);
    for v in &mut img.data_mut()[..n] {
        if *v >= threshold {
            *v = 255 - *v;
        }
    }
    img
}

/// Per-channel min–max stretch to `[0, 255]`, computed in `f32` and truncated back to `uint8` as
/// torchvision does (`(v − min) / ((max − min) / 255)`); constant channels are left as is.
pub fn autocontrast_u8(mut img: ImageU8) -> ImageU8 {
    for c in 0..colour_channels(&img) {
        let plane = img.plane_mut(c);
        let (Some(&lo), Some(&hi)) = (plane.iter().min(), plane.iter().max()) else {
            continue;
        };
        if lo == hi {
            continue;
        }
        let (lo, inv_scale) = (
            f32::from(lo),
            (f32::from(hi) - f32::from(lo)) * (1.0 / 255.0),
        );
        for v in plane.iter_mut() {
            *v = ((f32::from(*v) - lo) / inv_scale).clamp(0.0, 255.0) as u8;
        }
    }
    img
}

/// Histogram equalisation per channel (PIL's / torchvision's LUT), the same table as the float
/// [`equalize`](super::color::equalize) applies to its quantised values.
pub fn equalize_u8(mut img: ImageU8) -> ImageU8 {
    for c in 0..colour_channels(&img) {
        let plane = img.plane_mut(c);
        if let Some(lut) = equalize_lut(plane) {
            for v in plane.iter_mut() {
                *v = lut[*v as usize];
            }
        }
    }
    img
}

/// The random wrappers on `uint8`: the same Bernoulli draw as on float images, the integer kernel.
macro_rules! coin_on_u8 {
    ($name:ident, |$s:ident, $img:ident| $body:expr) => {
        impl RandomTransform<ImageU8> for $name {
            type Params = bool;
            fn transform_name(&self) -> &str {
                stringify!($name)
            }
            fn sample_params(&self, _: &ImageU8, rng: &mut Generator) -> Result<bool> {
                Ok(rng.bernoulli(self.p))
            }
            fn apply_with(&self, $img: ImageU8, on: &bool) -> Result<ImageU8> {
                let $s = self;
                Ok(if *on { $body } else { $img })
            }
        }
        impl_transform!($name => ImageU8);
    };
}

coin_on_u8!(RandomPosterize, |s, img| posterize_u8(img, s.bits));
coin_on_u8!(RandomSolarize, |s, img| solarize_u8(
    img,
    threshold_u8(s.threshold)
));
coin_on_u8!(RandomEqualize, |s, img| {
    let _ = s;
    equalize_u8(img)
});
coin_on_u8!(RandomAutocontrast, |s, img| {
    let _ = s;
    autocontrast_u8(img)
});

/// A `[0, 1]` threshold on the `uint8` scale: `⌈t·255⌉`, so that `v ≥ ⌈t·255⌉ ⇔ v/255 ≥ t`.
fn threshold_u8(t: f32) -> u8 {
    (t * 255.0).ceil().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(c: usize, data: Vec<u8>) -> ImageU8 {
        let n = data.len() / c;
        ImageU8::new(c, 1, n, data).unwrap()
    }

    #[test]
    fn posterize_masks_and_differs_from_the_float_formula_by_under_one_level() {
        let p = posterize_u8(img(1, vec![0, 127, 128, 255]), 1);
        assert_eq!(p.data(), &[0, 0, 128, 128]);
        assert_eq!(posterize_u8(img(1, vec![201]), 8).data(), &[201]);
        assert_eq!(posterize_u8(img(1, vec![201]), 0).data(), &[0]);
        for bits in 1..8u8 {
            for v in 0..=255u8 {
                let u = f32::from(posterize_u8(img(1, vec![v]), bits).data()[0]);
                let levels = f32::from(1u16 << bits);
                let f = (f32::from(v) / 255.0 * levels).floor().min(levels - 1.0) / levels * 255.0;
                assert!(
                    (u - f).abs() < 128.0 / levels + 1e-3,
                    "{bits} {v}: {u} vs {f}"
                );
            }
        }
    }

    #[test]
    fn the_solarize_threshold_on_u8_agrees_with_the_float_comparison() {
        for t in [0.0f32, 0.3, 0.5, 128.0 / 255.0, 1.0] {
            let k = threshold_u8(t);
            for v in 0..=255u8 {
                assert_eq!(v >= k, f32::from(v) / 255.0 >= t, "t {t} v {v}");
            }
        }
    }

    #[test]
    fn colour_ops_leave_an_extra_channel_alone() {
        let data: Vec<u8> = (0..8).map(|i| i * 30).collect();
        let out = invert_u8(img(4, data.clone()));
        assert_eq!(&out.data()[..6], &[255, 225, 195, 165, 135, 105]);
        assert_eq!(&out.data()[6..], &data[6..]);
    }
}
