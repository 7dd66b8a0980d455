//! The Free Spoken Digit Dataset: `recordings/{digit}_{speaker}_{take}.wav`, mono 8 kHz, with its
//! official split — takes 0–4 of every speaker and digit are the test set, takes 5–49 training.
//!
//! Built on [`AudioFolder`] with the pattern `{label}_{speaker}_{take}`; labels are the digits and the
//! class names `"0"`…`"9"`.

use crate::folder::{AudioFolder, FileNamePattern};
use crate::{Dataset, Item};
use selfsup_core::{Error, Result};
use std::path::{Path, PathBuf};

/// Which part of FSDD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsddSplit {
    /// Takes 5–49 (2,700 files).
    Train,
    /// Takes 0–4 (300 files), the official test set.
    Test,
    /// All 3,000 files.
    All,
}

/// FSDD recordings of one split.
#[derive(Clone, Debug)]
pub struct Fsdd {
    inner: AudioFolder,
}

/// The FSDD file-name pattern.
pub const FSDD_PATTERN: &str = "{label}_{speaker}_{take}";

fn take_of(pattern: &FileNamePattern, path: &Path) -> Option<u32> {
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    pattern
        .fields(&stem)?
        .into_iter()
        .find(|(n, _)| n == "take")?
        .1
        .parse()
        .ok()
}

impl Fsdd {
    /// Reads the file list of `recordings` (the folder holding the WAV files) for `split`.
    pub fn new(recordings: impl AsRef<Path>, split: FsddSplit) -> Result<Self> {
        let root = recordings.as_ref();
        let pattern = FileNamePattern::new(FSDD_PATTERN)?;
        let all = AudioFolder::with_pattern(root, FSDD_PATTERN)?;
        if let Some(bad) = all.files().iter().find(|f| take_of(&pattern, f).is_none()) {
            return Err(Error::config(
                "recordings",
                format!(
                    "{} is not named {{digit}}_{{speaker}}_{{take}}.wav with a numeric take",
                    bad.display()
                ),
            ));
        }
        let inner = match split {
            FsddSplit::All => all,
            FsddSplit::Train => all.filter(|p| take_of(&pattern, p).is_some_and(|t| t >= 5)),
            FsddSplit::Test => all.filter(|p| take_of(&pattern, p).is_some_and(|t| t < 5)),
        };
        Ok(Fsdd { inner })
    }

    /// Resample on load (FSDD is 8 kHz).
    pub fn target_rate(self, rate: Option<u32>) -> Result<Self> {
        Ok(Fsdd {
            inner: self.inner.target_rate(rate)?,
        })
    }

    /// The WAV files, in index order.
    pub fn files(&self) -> &[PathBuf] {
        self.inner.files()
    }

    /// The speaker of sample `index` (from its file name).
    pub fn speaker(&self, index: usize) -> Option<String> {
        let stem = self
            .files()
            .get(index)?
            .file_stem()?
            .to_string_lossy()
            .into_owned();
        let pattern = FileNamePattern::new(FSDD_PATTERN).ok()?;
        pattern
            .fields(&stem)?
            .into_iter()
            .find(|(n, _)| n == "speaker")
            .map(|(_, v)| v)
    }
}

impl Dataset for Fsdd {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        self.inner.get(index)
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.inner.label(index)
    }
    fn classes(&self) -> Option<&[String]> {
        self.inner.classes()
    }
    fn source(&self, index: usize) -> Option<PathBuf> {
        self.inner.source(index)
    }
}
