//! [`DigitCrop`]: the light two-view recipe of the main job for small grey images (MNIST-like digits):
//! a random resized crop (area 35–100 %, aspect 3/4–4/3, bilinear back to the input size), then a
//! random contrast change about the image mean and an additive brightness shift, then Gaussian pixel
//! noise, clamped to `[0, 1]`. No flips: they change a digit's meaning.
//!
//! One transform rather than a `Compose` of torchvision-style ones because the crop, the jitter and
//! the noise run in one pass over the pixels (the main job's loader cost), and because the main job's
//! published figures were measured with exactly this arithmetic.

use selfsup_core::{Generator, ImageF32, RandomTransform};

/// Random resized crop + brightness/contrast + noise for small grey images (see the module docs).
#[derive(Clone, Debug)]
pub struct DigitCrop {
    /// Crop area range as a fraction of the image.
    pub scale: (f64, f64),
    /// Brightness/contrast factor range.
    pub jitter: (f64, f64),
    /// Standard deviation of the added noise.
    pub noise: f64,
}

impl Default for DigitCrop {
    fn default() -> Self {
        DigitCrop {
            scale: (0.35, 1.0),
            jitter: (0.6, 1.4),
            noise: 0.1,
        }
    }
}

/// The drawn parameters of one [`DigitCrop`].
#[derive(Clone, Debug)]
pub struct DigitCropParams {
    top: f64,
    left: f64,
    h: f64,
    w: f64,
    contrast: f32,
    brightness: f32,
    noise_seed: u64,
}

impl RandomTransform<ImageF32> for DigitCrop {
    type Params = DigitCropParams;
    fn transform_name(&self) -> &str {
        "DigitCrop"
    }
    fn sample_params(
        &self,
        img: &ImageF32,
        rng: &mut Generator,
    ) -> selfsup_core::Result<DigitCropParams> {
        let (hh, ww) = (img.height() as f64, img.width() as f64);
        let area = rng.uniform(self.scale.0, self.scale.1) * hh * ww;
        let log_r = rng.uniform((3.0f64 / 4.0).ln(), (4.0f64 / 3.0).ln());
        let r = log_r.exp();
        let w = (area * r).sqrt().min(ww);
        let h = (area / r).sqrt().min(hh);
        let top = rng.uniform(0.0, hh - h);
        let left = rng.uniform(0.0, ww - w);
        Ok(DigitCropParams {
            top,
            left,
            h,
            w,
            contrast: rng.uniform(self.jitter.0, self.jitter.1) as f32,
            brightness: rng.uniform(-0.2, 0.2) as f32,
            noise_seed: rng.below(u64::MAX),
        })
    }
    fn apply_with(&self, img: ImageF32, p: &DigitCropParams) -> selfsup_core::Result<ImageF32> {
        let (c, hh, ww) = img.dims();
        let mut out = ImageF32::zeros(c, hh, ww);
        let mut noise = Generator::seed_from_u64(p.noise_seed);
        for ch in 0..c {
            let src = img.plane(ch);
            let mean: f32 = src.iter().sum::<f32>() / src.len().max(1) as f32;
            for y in 0..hh {
                let sy =
                    (p.top + (y as f64 + 0.5) * p.h / hh as f64 - 0.5).clamp(0.0, hh as f64 - 1.0);
                let (y0, fy) = (sy.floor() as usize, (sy - sy.floor()) as f32);
                let y1 = (y0 + 1).min(hh - 1);
                for x in 0..ww {
                    let sx = (p.left + (x as f64 + 0.5) * p.w / ww as f64 - 0.5)
                        .clamp(0.0, ww as f64 - 1.0);
                    let (x0, fx) = (sx.floor() as usize, (sx - sx.floor()) as f32);
                    let x1 = (x0 + 1).min(ww - 1);
                    let v = (1.0 - fy) * ((1.0 - fx) * src[y0 * ww + x0] + fx * src[y0 * ww + x1])
                        + fy * ((1.0 - fx) * src[y1 * ww + x0] + fx * src[y1 * ww + x1]);
                    let v = (v - mean) * p.contrast + mean + p.brightness;
                    let v = v + (self.noise * noise.normal()) as f32;
                    out.set(ch, y, x, v.clamp(0.0, 1.0));
                }
            }
        }
        Ok(out)
    }
}
selfsup_core::impl_transform!(DigitCrop => ImageF32);
