//! MNIST in its two common file layouts, loaded eagerly (the whole of MNIST is 55 MB of pixels):
//!
//! - [`MnistCsv`]: one image per text row, 784 grey levels (28×28, row-major) and the label, comma
//!   separated, optionally gzipped — the layout of `data/mnist5k` (label last) and of other common
//!   dumps (label first: a header whose first column is `label`, or [`MnistCsv::label_first`]). A
//!   header row is skipped.
//! - [`MnistIdx`]: LeCun's IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, …), plain or
//!   gzipped.
//!
//! Samples are `ImageU8` with 1 channel, 28×28; labels are the digits 0–9 and the class names `"0"`…`"9"`.

use crate::codec::read_maybe_gzip;
use crate::{out_of_range, Dataset, Item};
use selfsup_core::{Error, ImageU8, Result, Sample};
use std::path::{Path, PathBuf};

const SIDE: usize = 28;
const PIXELS: usize = SIDE * SIDE;

fn digit_classes() -> Vec<String> {
    (0..10).map(|d| d.to_string()).collect()
}

/// Images and labels held in memory, shared by both MNIST readers.
#[derive(Clone, Debug)]
struct Arrays {
    height: usize,
    width: usize,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    classes: Vec<String>,
}

impl Arrays {
    fn item(&self, what: &str, index: usize) -> Result<Item> {
        let n = self.labels.len();
        if index >= n {
            return Err(out_of_range(what, index, n));
        }
        let px = self.height * self.width;
        let data = self.pixels[index * px..(index + 1) * px].to_vec();
        Ok(Item {
            sample: Sample::ImageU8(ImageU8::new(1, self.height, self.width, data)?),
            label: Some(i64::from(self.labels[index])),
        })
    }
}

/// MNIST from a (possibly gzipped) CSV file: 784 pixel columns and one label column per row.
#[derive(Clone, Debug)]
pub struct MnistCsv {
    path: PathBuf,
    arrays: Arrays,
}

impl MnistCsv {
    /// Reads a CSV whose rows are 784 pixels then the label (the layout of `data/mnist5k`), or the
    /// label then 784 pixels when the header row's first column is named `label` (the common
    /// Kaggle layout `label,pixel0,…,pixel783`).
    pub fn new(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read_maybe_gzip(path)?;
        let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let first_field =
            String::from_utf8_lossy(first.split(|&b| b == b',').next().unwrap_or_default())
                .trim()
                .trim_matches('"')
                .to_ascii_lowercase();
        let label_first = first_field == "label";
        if label_first {
            tracing::info!(path = %path.display(), "the header names the first column `label`: reading the label first");
        }
        Self::parse(path, &bytes, label_first)
    }

    /// Reads a CSV whose rows are the label then 784 pixels.
    pub fn label_first(path: impl AsRef<Path>) -> Result<Self> {
        Self::read(path.as_ref(), true)
    }

    fn read(path: &Path, label_first: bool) -> Result<Self> {
        Self::parse(path, &read_maybe_gzip(path)?, label_first)
    }

    fn parse(path: &Path, bytes: &[u8], label_first: bool) -> Result<Self> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::decode(path, format!("not UTF-8 text: {e}")))?;
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        let mut row = Vec::with_capacity(PIXELS + 1);
        for (line_no, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            row.clear();
            let mut bad_field = None;
            for field in line.split(',') {
                match field.trim().parse::<f64>() {
                    Ok(v) => row.push(v),
                    Err(_) => {
                        bad_field = Some(field.trim().to_string());
                        break;
                    }
                }
            }
            if let Some(field) = bad_field {
                if line_no == 0 {
                    continue; // a header row
                }
                return Err(Error::decode(
                    path,
                    format!("line {}: `{field}` is not a number", line_no + 1),
                ));
            }
            if row.len() != PIXELS + 1 {
                return Err(Error::decode(
                    path,
                    format!(
                        "line {}: expected {} comma-separated values (784 pixels and a label), got {}",
                        line_no + 1,
                        PIXELS + 1,
                        row.len()
                    ),
                ));
            }
            let (label, px) = if label_first {
                (row[0], &row[1..])
            } else {
                (row[PIXELS], &row[..PIXELS])
            };
            if !(0.0..=9.0).contains(&label) || label.fract() != 0.0 {
                return Err(Error::decode(
                    path,
                    format!(
                        "line {}: label must be an integer in 0..=9, got {label}",
                        line_no + 1
                    ),
                ));
            }
            for &v in px {
                if !(0.0..=255.0).contains(&v) || v.fract() != 0.0 {
                    return Err(Error::decode(
                        path,
                        format!(
                            "line {}: pixels must be integers in 0..=255, got {v}",
                            line_no + 1
                        ),
                    ));
                }
                pixels.push(v as u8);
            }
            labels.push(label as u8);
        }
        if labels.is_empty() {
            return Err(Error::decode(path, "the file holds no data rows"));
        }
        tracing::debug!(path = %path.display(), rows = labels.len(), "read MNIST CSV");
        Ok(MnistCsv {
            path: path.to_path_buf(),
            arrays: Arrays {
                height: SIDE,
                width: SIDE,
                pixels,
                labels,
                classes: digit_classes(),
            },
        })
    }

    /// The labels of all rows, in order.
    pub fn labels(&self) -> &[u8] {
        &self.arrays.labels
    }
}

impl Dataset for MnistCsv {
    fn len(&self) -> usize {
        self.arrays.labels.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        self.arrays
            .item(&format!("MNIST CSV {}", self.path.display()), index)
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.arrays
            .labels
            .get(index)
            .map(|&l| Some(i64::from(l)))
            .ok_or_else(|| out_of_range("MNIST CSV", index, self.len()))
    }
    fn classes(&self) -> Option<&[String]> {
        Some(&self.arrays.classes)
    }
}

/// MNIST (or Fashion-MNIST, KMNIST, …) from IDX image and label files, plain or gzipped.
#[derive(Clone, Debug)]
pub struct MnistIdx {
    arrays: Arrays,
}

/// Parses an IDX header: checks the magic (`0 0 0x08 ndim`) and returns the dimensions and payload.
fn idx_payload<'a>(path: &Path, bytes: &'a [u8], ndim: u8) -> Result<(Vec<usize>, &'a [u8])> {
    if bytes.len() < 4 {
        return Err(Error::decode(
            path,
            format!(
                "IDX file too short ({} bytes) for its 4-byte magic number",
                bytes.len()
            ),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] != ndim {
        return Err(Error::decode(
            path,
            format!(
                "bad IDX magic {:02x} {:02x} {:02x} {:02x}: expected 00 00 08 {ndim:02x} (unsigned bytes, {ndim} dimensions)",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    let header = 4 + 4 * usize::from(ndim);
    if bytes.len() < header {
        return Err(Error::decode(path, "IDX header is truncated"));
    }
    let dims: Vec<usize> = (0..usize::from(ndim))
        .map(|d| {
            let o = 4 + 4 * d;
            u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]) as usize
        })
        .collect();
    let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let payload = &bytes[header..];
    match expected {
        Some(n) if n == payload.len() => Ok((dims, payload)),
        _ => Err(Error::decode(
            path,
            format!(
                "IDX dimensions {dims:?} need {} data bytes, the file has {} (truncated or corrupt)",
                expected.map_or("an overflowing number of".to_string(), |n| n.to_string()),
                payload.len()
            ),
        )),
    }
}

impl MnistIdx {
    /// Reads an images file (`idx3`, `N×H×W` u8) and a labels file (`idx1`, `N` u8).
    pub fn new(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self> {
        let (images, labels) = (images.as_ref(), labels.as_ref());
        let img_bytes = read_maybe_gzip(images)?;
        let lab_bytes = read_maybe_gzip(labels)?;
        let (idims, ipx) = idx_payload(images, &img_bytes, 3)?;
        let (ldims, lab) = idx_payload(labels, &lab_bytes, 1)?;
        if idims[0] != ldims[0] {
            return Err(Error::decode(
                labels,
                format!(
                    "holds {} labels but {} holds {} images",
                    ldims[0],
                    images.display(),
                    idims[0]
                ),
            ));
        }
        let max = lab.iter().copied().max().unwrap_or(0);
        let n_classes = usize::from(max).max(9) + 1;
        Ok(MnistIdx {
            arrays: Arrays {
                height: idims[1],
                width: idims[2],
                pixels: ipx.to_vec(),
                labels: lab.to_vec(),
                classes: (0..n_classes).map(|d| d.to_string()).collect(),
            },
        })
    }

    /// Reads the standard file names in `dir`: `train-images-idx3-ubyte` / `train-labels-idx1-ubyte`
    /// (`train = true`) or `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte`, each with or without `.gz`.
    pub fn from_dir(dir: impl AsRef<Path>, train: bool) -> Result<Self> {
        let dir = dir.as_ref();
        let prefix = if train { "train" } else { "t10k" };
        let find = |stem: String| -> Result<PathBuf> {
            for name in [stem.clone(), format!("{stem}.gz")] {
                let p = dir.join(&name);
                if p.is_file() {
                    return Ok(p);
                }
            }
            Err(Error::io(
                dir.join(&stem),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("neither {stem} nor {stem}.gz exists in this folder"),
                ),
            ))
        };
        let images = find(format!("{prefix}-images-idx3-ubyte"))?;
        let labels = find(format!("{prefix}-labels-idx1-ubyte"))?;
        Self::new(images, labels)
    }

    /// The labels of all images, in order.
    pub fn labels(&self) -> &[u8] {
        &self.arrays.labels
    }
}

impl Dataset for MnistIdx {
    fn len(&self) -> usize {
        self.arrays.labels.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        self.arrays.item("MNIST IDX", index)
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.arrays
            .labels
            .get(index)
            .map(|&l| Some(i64::from(l)))
            .ok_or_else(|| out_of_range("MNIST IDX", index, self.len()))
    }
    fn classes(&self) -> Option<&[String]> {
        Some(&self.arrays.classes)
    }
}
