//! [`InMemory`]: a dataset over samples already in memory (images, audio clips, token sequences),
//! with optional labels and class names. `get` clones the sample.

use crate::{out_of_range, Dataset, Item};
use ndarray::Array4;
use selfsup_core::{Audio, Error, ImageF32, ImageU8, Result, Sample, Tokens};

/// Samples held in memory, with optional labels.
#[derive(Clone, Debug)]
pub struct InMemory {
    samples: Vec<Sample>,
    labels: Option<Vec<i64>>,
    classes: Option<Vec<String>>,
}

impl InMemory {
    /// Any samples; `labels`, when given, must have one entry per sample.
    pub fn new(samples: Vec<Sample>, labels: Option<Vec<i64>>) -> Result<Self> {
        if let Some(l) = &labels {
            if l.len() != samples.len() {
                return Err(Error::config(
                    "labels",
                    format!(
                        "needs one label per sample ({}), got {}",
                        samples.len(),
                        l.len()
                    ),
                ));
            }
            if let Some(bad) = l.iter().find(|&&v| v < 0) {
                return Err(Error::config(
                    "labels",
                    format!("labels must be >= 0, got {bad}"),
                ));
            }
        }
        Ok(InMemory {
            samples,
            labels,
            classes: None,
        })
    }

    /// 8-bit images (what decoders produce).
    pub fn from_images_u8(images: Vec<ImageU8>, labels: Option<Vec<i64>>) -> Result<Self> {
        Self::new(images.into_iter().map(Sample::ImageU8).collect(), labels)
    }

    /// Float images in `[0, 1]`.
    pub fn from_images(images: Vec<ImageF32>, labels: Option<Vec<i64>>) -> Result<Self> {
        Self::new(images.into_iter().map(Sample::Image).collect(), labels)
    }

    /// An `N×C×H×W` array of grey levels.
    pub fn from_array_u8(array: &Array4<u8>, labels: Option<Vec<i64>>) -> Result<Self> {
        let (n, c, h, w) = array.dim();
        let mut images = Vec::with_capacity(n);
        for i in 0..n {
            let data: Vec<u8> = array
                .index_axis(ndarray::Axis(0), i)
                .iter()
                .copied()
                .collect();
            images.push(ImageU8::new(c, h, w, data)?);
        }
        Self::from_images_u8(images, labels)
    }

    /// Audio clips.
    pub fn from_audio(clips: Vec<Audio>, labels: Option<Vec<i64>>) -> Result<Self> {
        Self::new(clips.into_iter().map(Sample::Audio).collect(), labels)
    }

    /// Token sequences.
    pub fn from_tokens(seqs: Vec<Tokens>, labels: Option<Vec<i64>>) -> Result<Self> {
        Self::new(seqs.into_iter().map(Sample::Tokens).collect(), labels)
    }

    /// Names the classes (index = label); every label must be below `classes.len()`.
    pub fn with_classes(mut self, classes: Vec<String>) -> Result<Self> {
        if let Some(l) = &self.labels {
            if let Some(bad) = l.iter().find(|&&v| v as usize >= classes.len()) {
                return Err(Error::config(
                    "classes",
                    format!(
                        "{} class names given, but a label is {bad} (labels must be < the number of classes)",
                        classes.len()
                    ),
                ));
            }
        }
        self.classes = Some(classes);
        Ok(self)
    }
}

impl Dataset for InMemory {
    fn len(&self) -> usize {
        self.samples.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        let sample = self
            .samples
            .get(index)
            .ok_or_else(|| out_of_range("in-memory dataset", index, self.samples.len()))?
            .clone();
        Ok(Item {
            sample,
            label: self.labels.as_ref().map(|l| l[index]),
        })
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        if index >= self.samples.len() {
            return Err(out_of_range("in-memory dataset", index, self.samples.len()));
        }
        Ok(self.labels.as_ref().map(|l| l[index]))
    }
    fn classes(&self) -> Option<&[String]> {
        self.classes.as_deref()
    }
}
