//! Sample types shared by every crate: planar images (`u8` or `f32`, channels × height × width),
//! multi-channel audio with its sample rate, spectrogram-like 2-D features, and token sequences.
//!
//! All images are **planar CHW** (the layout tensors use), whatever their element type, so that
//! conversion to a batch is a copy of contiguous planes. Float images hold values in `[0, 1]`
//! (torchvision's float convention); `u8` images hold grey levels 0–255.

use crate::error::{Error, Result};
use ndarray::{Array3, ArrayView3};
use serde::{Deserialize, Serialize};

/// A planar (CHW) image with element type `T`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image<T> {
    channels: usize,
    height: usize,
    width: usize,
    data: Vec<T>,
}

/// A float image with values in `[0, 1]`.
pub type ImageF32 = Image<f32>;
/// An 8-bit image with grey levels 0–255.
pub type ImageU8 = Image<u8>;

impl<T: Copy + Default> Image<T> {
    /// Wraps planar CHW `data`; errors unless `data.len() == channels * height * width`.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<T>) -> Result<Self> {
        let expected = channels
            .checked_mul(height)
            .and_then(|v| v.checked_mul(width))
            .ok_or_else(|| {
                Error::shape(format!("image size {channels}x{height}x{width} overflows"))
            })?;
        if data.len() != expected {
            return Err(Error::shape(format!(
                "image data has {} values, expected {channels}x{height}x{width} = {expected}",
                data.len()
            )));
        }
        Ok(Image {
            channels,
            height,
            width,
            data,
        })
    }

    /// An image filled with `T::default()`.
    pub fn zeros(channels: usize, height: usize, width: usize) -> Self {
        Image {
            channels,
            height,
            width,
            data: vec![T::default(); channels * height * width],
        }
    }

    /// Number of channels (1 grey, 3 RGB, 4 RGBA).
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }
    /// `(channels, height, width)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.channels, self.height, self.width)
    }
    /// True when the image has no pixels.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// All values, planar CHW.
    pub fn data(&self) -> &[T] {
        &self.data
    }
    /// All values, planar CHW, mutable.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }
    /// Consumes the image and returns its planar data.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }
    /// One channel plane (row-major `height × width`).
    pub fn plane(&self, c: usize) -> &[T] {
        let n = self.height * self.width;
        &self.data[c * n..(c + 1) * n]
    }
    /// One channel plane, mutable.
    pub fn plane_mut(&mut self, c: usize) -> &mut [T] {
        let n = self.height * self.width;
        &mut self.data[c * n..(c + 1) * n]
    }
    /// The value at channel `c`, row `y`, column `x`.
    pub fn get(&self, c: usize, y: usize, x: usize) -> T {
        self.data[(c * self.height + y) * self.width + x]
    }
    /// Sets the value at channel `c`, row `y`, column `x`.
    pub fn set(&mut self, c: usize, y: usize, x: usize, v: T) {
        self.data[(c * self.height + y) * self.width + x] = v;
    }
    /// A CHW ndarray view without copying.
    pub fn view(&self) -> ArrayView3<'_, T> {
        ArrayView3::from_shape((self.channels, self.height, self.width), &self.data)
            .expect("Image invariant: data length matches dims")
    }
    /// Builds an image from a CHW array (copies when the array is not in standard layout).
    pub fn from_array(a: Array3<T>) -> Self {
        let (c, h, w) = a.dim();
        let data = if a.is_standard_layout() {
            a.into_raw_vec_and_offset().0
        } else {
            a.iter().copied().collect()
        };
        Image {
            channels: c,
            height: h,
            width: w,
            data,
        }
    }
}

impl ImageU8 {
    /// Converts to float in `[0, 1]` (value / 255), as torchvision's `ToDtype(float32, scale=True)`.
    pub fn to_f32(&self) -> ImageF32 {
        Image {
            channels: self.channels,
            height: self.height,
            width: self.width,
            data: self
                .data
                .iter()
                .map(|&v| f32::from(v) * (1.0 / 255.0))
                .collect(),
        }
    }
}

impl ImageF32 {
    /// Converts to 8 bits: clamp to `[0, 1]`, scale by 255, round half away from zero.
    pub fn to_u8(&self) -> ImageU8 {
        Image {
            channels: self.channels,
            height: self.height,
            width: self.width,
            data: self
                .data
                .iter()
                .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
                .collect(),
        }
    }
}

/// Multi-channel audio: planar `channels × frames` float samples (nominally in `[-1, 1]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Audio {
    sample_rate: u32,
    channels: usize,
    data: Vec<f32>,
}

impl Audio {
    /// Wraps planar data (channel 0's frames, then channel 1's, …).
    pub fn new(sample_rate: u32, channels: usize, data: Vec<f32>) -> Result<Self> {
        if sample_rate == 0 {
            return Err(Error::config("sample_rate", "must be > 0 Hz, got 0"));
        }
        if channels == 0 {
            return Err(Error::shape("audio must have at least one channel"));
        }
        if data.len() % channels != 0 {
            return Err(Error::shape(format!(
                "audio data has {} values, not a multiple of {channels} channels",
                data.len()
            )));
        }
        Ok(Audio {
            sample_rate,
            channels,
            data,
        })
    }

    /// Mono audio from one channel of samples.
    pub fn mono(sample_rate: u32, samples: Vec<f32>) -> Result<Self> {
        Self::new(sample_rate, 1, samples)
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }
    /// Frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.data.len() / self.channels
    }
    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.frames() as f64 / f64::from(self.sample_rate)
    }
    /// One channel's samples.
    pub fn channel(&self, c: usize) -> &[f32] {
        let n = self.frames();
        &self.data[c * n..(c + 1) * n]
    }
    /// One channel's samples, mutable.
    pub fn channel_mut(&mut self, c: usize) -> &mut [f32] {
        let n = self.frames();
        &mut self.data[c * n..(c + 1) * n]
    }
    /// All samples, planar.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// All samples, planar, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }
    /// Consumes the clip and returns its planar data.
    pub fn into_data(self) -> Vec<f32> {
        self.data
    }
    /// The average of all channels, as a mono clip.
    pub fn downmix(&self) -> Audio {
        if self.channels == 1 {
            return self.clone();
        }
        let n = self.frames();
        let scale = 1.0 / self.channels as f32;
        let mut out = vec![0.0f32; n];
        for c in 0..self.channels {
            for (o, &v) in out.iter_mut().zip(self.channel(c)) {
                *o += v;
            }
        }
        out.iter_mut().for_each(|v| *v *= scale);
        Audio {
            sample_rate: self.sample_rate,
            channels: 1,
            data: out,
        }
    }
    /// The same samples with another sample rate tag (no resampling).
    pub fn with_sample_rate(self, sample_rate: u32) -> Result<Self> {
        Self::new(sample_rate, self.channels, self.data)
    }
}

/// A 2-D feature map per channel (e.g. a spectrogram): planar `channels × rows (frequency) × cols (time)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spectrogram {
    /// Planar values with shape `(channels, rows, cols)`.
    pub values: Image<f32>,
}

impl Spectrogram {
    /// Wraps planar `channels × n_freq × n_frames` values.
    pub fn new(channels: usize, n_freq: usize, n_frames: usize, data: Vec<f32>) -> Result<Self> {
        Ok(Spectrogram {
            values: Image::new(channels, n_freq, n_frames, data)?,
        })
    }
    /// Number of frequency rows.
    pub fn n_freq(&self) -> usize {
        self.values.height()
    }
    /// Number of time frames.
    pub fn n_frames(&self) -> usize {
        self.values.width()
    }
}

/// A token-id sequence (for masked-token and next-token pretext tasks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// The token ids.
    pub ids: Vec<i64>,
}

/// Any sample a dataset can produce.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Sample {
    /// An 8-bit image, as decoded.
    ImageU8(ImageU8),
    /// A float image in `[0, 1]`.
    Image(ImageF32),
    /// An audio clip.
    Audio(Audio),
    /// A spectrogram or other 2-D feature map.
    Spectrogram(Spectrogram),
    /// A token sequence.
    Tokens(Tokens),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_rejects_wrong_length_and_round_trips_u8() {
        assert!(ImageU8::new(3, 2, 2, vec![0; 11]).is_err());
        let img = ImageU8::new(1, 1, 3, vec![0, 128, 255]).unwrap();
        let f = img.to_f32();
        assert_eq!(f.data(), &[0.0, 128.0 / 255.0, 1.0]);
        assert_eq!(f.to_u8(), img);
        assert_eq!(f.view().dim(), (1, 1, 3));
    }

    #[test]
    fn audio_downmix_averages_channels() {
        let a = Audio::new(8000, 2, vec![1.0, 0.0, -1.0, 0.0]).unwrap();
        assert_eq!(a.frames(), 2);
        assert_eq!(a.downmix().data(), &[0.0, 0.0]);
        assert!(Audio::new(8000, 2, vec![1.0]).is_err());
        assert!(Audio::new(0, 1, vec![]).is_err());
    }
}
