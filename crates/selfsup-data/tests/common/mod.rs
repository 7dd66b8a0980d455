//! Helpers shared by the integration tests: small random transforms, and writers for generated
//! image and WAV folders (encoders only; decoding is what the tests check).
#![allow(dead_code)]

use selfsup_core::{
    Audio, Generator, ImageF32, MultiView, RandomTransform, Result, Spectrogram, Tokens,
};
use std::path::{Path, PathBuf};

/// Adds one random offset in [-1, 1) to every value: views differ, and the offset is readable back.
pub struct Offset;

impl RandomTransform<ImageF32> for Offset {
    type Params = f32;
    fn transform_name(&self) -> &str {
        "Offset"
    }
    fn sample_params(&self, _: &ImageF32, rng: &mut Generator) -> Result<f32> {
        Ok(rng.uniform_f32(-1.0, 1.0))
    }
    fn apply_with(&self, mut s: ImageF32, d: &f32) -> Result<ImageF32> {
        s.data_mut().iter_mut().for_each(|v| *v += d);
        Ok(s)
    }
}
impl RandomTransform<Audio> for Offset {
    type Params = f32;
    fn transform_name(&self) -> &str {
        "Offset"
    }
    fn sample_params(&self, _: &Audio, rng: &mut Generator) -> Result<f32> {
        Ok(rng.uniform_f32(-1.0, 1.0))
    }
    fn apply_with(&self, mut s: Audio, d: &f32) -> Result<Audio> {
        s.data_mut().iter_mut().for_each(|v| *v += d);
        Ok(s)
    }
}
impl RandomTransform<Tokens> for Offset {
    type Params = i64;
    fn transform_name(&self) -> &str {
        "Offset"
    }
    fn sample_params(&self, _: &Tokens, rng: &mut Generator) -> Result<i64> {
        Ok(rng.int_inclusive(0, 100))
    }
    fn apply_with(&self, mut s: Tokens, d: &i64) -> Result<Tokens> {
        s.ids.iter_mut().for_each(|v| *v += d);
        Ok(s)
    }
}
impl RandomTransform<Spectrogram> for Offset {
    type Params = f32;
    fn transform_name(&self) -> &str {
        "Offset"
    }
    fn sample_params(&self, _: &Spectrogram, rng: &mut Generator) -> Result<f32> {
        Ok(rng.uniform_f32(-1.0, 1.0))
    }
    fn apply_with(&self, mut s: Spectrogram, d: &f32) -> Result<Spectrogram> {
        s.values.data_mut().iter_mut().for_each(|v| *v += d);
        Ok(s)
    }
}
selfsup_core::impl_transform!(Offset => ImageF32, Audio, Tokens, Spectrogram);

/// A multi-view pipeline of `n` `Offset` views.
pub fn offsets<S: Clone + 'static>(n: usize) -> MultiView<S>
where
    Offset: selfsup_core::Transform<S>,
{
    MultiView::new(
        (0..n)
            .map(|_| Box::new(Offset) as selfsup_core::BoxTransform<S>)
            .collect(),
    )
    .unwrap()
}

/// An RGB test image whose pixels encode its number `k` (lossless formats read it back exactly).
pub fn rgb_pixels(k: u8, w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| image::Rgb([k, (x * 10) as u8, (y * 20) as u8]))
}

/// Writes a PNG.
pub fn write_png(path: &Path, k: u8, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    rgb_pixels(k, w, h).save(path).unwrap();
}

/// Writes a JPEG.
pub fn write_jpeg(path: &Path, k: u8, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    rgb_pixels(k, w, h).save(path).unwrap();
}

/// Writes a mono 16-bit WAV with the given integer samples.
pub fn write_wav(path: &Path, rate: u32, samples: &[i16]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Writes bytes, creating folders.
pub fn write_bytes(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
