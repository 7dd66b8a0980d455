//! CIFAR-10 and CIFAR-100 in their binary distribution format, loaded eagerly.
//!
//! A CIFAR-10 record is 1 label byte then 3072 pixel bytes; a CIFAR-100 record is a coarse label
//! byte, a fine label byte, then the pixels. Pixels are already planar: the 1024 red values of the
//! 32×32 image (row-major), then green, then blue — exactly selfsup's CHW layout, so a sample is a
//! copy of one slice.
//!
//! Files: CIFAR-10 `data_batch_1.bin` … `data_batch_5.bin` (train) and `test_batch.bin`, class names in
//! `batches.meta.txt`; CIFAR-100 `train.bin` and `test.bin`, names in `fine_label_names.txt` /
//! `coarse_label_names.txt`. Missing name files fall back to the well-known CIFAR-10 names or to
//! numbers.

use crate::{out_of_range, Dataset, Item};
use selfsup_core::{Error, ImageU8, Result, Sample};
use std::path::{Path, PathBuf};

const PIXELS: usize = 3 * 32 * 32;
const CIFAR10_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Which CIFAR variant, and for CIFAR-100 which label level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CifarKind {
    /// CIFAR-10: 10 classes.
    Cifar10,
    /// CIFAR-100 with its 100 fine labels.
    Cifar100Fine,
    /// CIFAR-100 with its 20 coarse (superclass) labels.
    Cifar100Coarse,
}

impl CifarKind {
    fn record_len(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1 + PIXELS,
            _ => 2 + PIXELS,
        }
    }
    fn n_classes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 10,
            CifarKind::Cifar100Fine => 100,
            CifarKind::Cifar100Coarse => 20,
        }
    }
}

/// A CIFAR dataset read from one or more binary batch files.
#[derive(Clone, Debug)]
pub struct Cifar {
    kind: CifarKind,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    classes: Vec<String>,
}

impl Cifar {
    /// Reads the standard files of `dir`: the training batches when `train`, else the test batch.
    pub fn from_dir(dir: impl AsRef<Path>, kind: CifarKind, train: bool) -> Result<Self> {
        let dir = dir.as_ref();
        let files: Vec<PathBuf> = match (kind, train) {
            (CifarKind::Cifar10, true) => (1..=5)
                .map(|i| dir.join(format!("data_batch_{i}.bin")))
                .collect(),
            (CifarKind::Cifar10, false) => vec![dir.join("test_batch.bin")],
            (_, true) => vec![dir.join("train.bin")],
            (_, false) => vec![dir.join("test.bin")],
        };
        let mut c = Self::from_files(&files, kind)?;
        let names_file = match kind {
            CifarKind::Cifar10 => "batches.meta.txt",
            CifarKind::Cifar100Fine => "fine_label_names.txt",
            CifarKind::Cifar100Coarse => "coarse_label_names.txt",
        };
        let names_path = dir.join(names_file);
        if let Ok(text) = std::fs::read_to_string(&names_path) {
            let names: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            if names.len() == kind.n_classes() {
                c.classes = names;
            } else {
                tracing::warn!(
                    file = %names_path.display(),
                    found = names.len(),
                    expected = kind.n_classes(),
                    "ignoring class-name file with the wrong number of names"
                );
            }
        }
        Ok(c)
    }

    /// Reads the given batch files, in order.
    pub fn from_files(files: &[PathBuf], kind: CifarKind) -> Result<Self> {
        let rec = kind.record_len();
        let label_offset = if kind == CifarKind::Cifar100Fine {
            1
        } else {
            0
        };
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for f in files {
            let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
            if bytes.is_empty() || bytes.len() % rec != 0 {
                return Err(Error::decode(
                    f,
                    format!(
                        "{} bytes is not a whole number of {rec}-byte {kind:?} records (truncated, or another CIFAR variant)",
                        bytes.len()
                    ),
                ));
            }
            for (r, record) in bytes.chunks_exact(rec).enumerate() {
                let label = record[label_offset];
                if usize::from(label) >= kind.n_classes() {
                    return Err(Error::decode(
                        f,
                        format!(
                            "record {r}: label {label} is outside 0..{} for {kind:?}",
                            kind.n_classes()
                        ),
                    ));
                }
                labels.push(label);
                pixels.extend_from_slice(&record[rec - PIXELS..]);
            }
        }
        let classes = match kind {
            CifarKind::Cifar10 => CIFAR10_NAMES.iter().map(|s| s.to_string()).collect(),
            _ => (0..kind.n_classes()).map(|i| i.to_string()).collect(),
        };
        Ok(Cifar {
            kind,
            pixels,
            labels,
            classes,
        })
    }

    /// The variant.
    pub fn kind(&self) -> CifarKind {
        self.kind
    }
}

impl Dataset for Cifar {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        if index >= self.len() {
            return Err(out_of_range("CIFAR", index, self.len()));
        }
        let data = self.pixels[index * PIXELS..(index + 1) * PIXELS].to_vec();
        Ok(Item {
            sample: Sample::ImageU8(ImageU8::new(3, 32, 32, data)?),
            label: Some(i64::from(self.labels[index])),
        })
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.labels
            .get(index)
            .map(|&l| Some(i64::from(l)))
            .ok_or_else(|| out_of_range("CIFAR", index, self.len()))
    }
    fn classes(&self) -> Option<&[String]> {
        Some(&self.classes)
    }
}
