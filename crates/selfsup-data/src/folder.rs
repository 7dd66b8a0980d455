//! Folder datasets: [`ImageFolder`] and [`AudioFolder`].
//!
//! Both only list files when built (sorted by path, so indices are stable across machines) and
//! decode on `get`, so memory stays bounded whatever the folder size. Labels come from:
//! - **class sub-folders** (torchvision's `ImageFolder` rule): each direct sub-folder of the root is a
//!   class, classes sorted by name, files searched recursively inside each; a class folder without
//!   any usable file is an error naming it;
//! - **file names** ([`FileNamePattern`], audio): `"{label}_{speaker}_{take}"` takes the label from
//!   the first `_`-separated part of the file stem; class names are the sorted distinct labels;
//! - **nothing** (flat, unlabeled): every usable file under the root, recursively.
//!
//! The `auto` constructors take class sub-folders when the root has any sub-folder and read it flat
//! (unlabelled) otherwise; `with_classes` reads a held-out folder with the training folder's class
//! list, so that labels agree. [`crate::layout`] finds the training and held-out folders of a root.
//!
//! Hidden files and folders (names starting with `.`) are ignored. Extensions are matched without
//! regard to case.

use crate::codec::{read_audio, read_image};
use crate::{out_of_range, Dataset, Item};
use selfsup_core::{Error, ImageU8, Result, Sample};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file extensions [`ImageFolder`] reads.
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff"];
/// The file extensions [`AudioFolder`] reads.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav"];

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// All files under `dir` with one of `exts`, recursively, sorted by path.
fn list_files(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let path = entry.path();
            if is_hidden(&path) {
                continue;
            }
            // Follow symbolic links (metadata, not symlink_metadata).
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => stack.push(path),
                Ok(m) if m.is_file() && has_ext(&path, exts) => out.push(path),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot stat, ignored");
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The non-hidden sub-folders of `dir`, sorted by path.
pub(crate) fn sub_folders(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        if !is_hidden(&p) && p.is_dir() {
            dirs.push(p);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// True when `dir` has a non-hidden sub-folder: read as class folders by the `auto` constructors.
pub(crate) fn has_sub_folders(dir: &Path) -> Result<bool> {
    Ok(!sub_folders(dir)?.is_empty())
}

/// Files, labels and class names of a folder dataset.
#[derive(Clone, Debug, Default)]
struct FileList {
    files: Vec<PathBuf>,
    labels: Option<Vec<i64>>,
    classes: Option<Vec<String>>,
}

impl FileList {
    fn class_folders(root: &Path, exts: &[&str]) -> Result<Self> {
        let dirs = sub_folders(root)?;
        if dirs.is_empty() {
            return Err(Error::config(
                "root",
                format!(
                    "{} has no class sub-folders (use the flat constructor for an unlabeled folder)",
                    root.display()
                ),
            ));
        }
        let mut list = FileList {
            labels: Some(Vec::new()),
            classes: Some(Vec::new()),
            ..Default::default()
        };
        for (c, d) in dirs.iter().enumerate() {
            let files = list_files(d, exts)?;
            if files.is_empty() {
                return Err(Error::config(
                    "root",
                    format!(
                        "class folder {} holds no file with an extension in {exts:?}",
                        d.display()
                    ),
                ));
            }
            let name = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            list.classes.as_mut().expect("set above").push(name);
            let labels = list.labels.as_mut().expect("set above");
            labels.extend(std::iter::repeat_n(c as i64, files.len()));
            list.files.extend(files);
        }
        Ok(list)
    }

    /// Class sub-folders of `root` labelled by their position in `classes` (a held-out folder read
    /// with the training folder's classes); a sub-folder whose name is not in `classes` is an error.
    fn class_folders_as(root: &Path, exts: &[&str], classes: &[String]) -> Result<Self> {
        let mut list = Self::class_folders(root, exts)?;
        let map = crate::label_map(classes);
        let own = list.classes.take().unwrap_or_default();
        let mut remap = Vec::with_capacity(own.len());
        for name in &own {
            let Some(&l) = map.get(name) else {
                return Err(Error::config(
                    "root",
                    format!(
                        "class folder `{name}` of {} is not a class of the training data (classes: {})",
                        root.display(),
                        classes.join(", ")
                    ),
                ));
            };
            remap.push(l);
        }
        if let Some(labels) = list.labels.as_mut() {
            for l in labels.iter_mut() {
                *l = remap[*l as usize];
            }
        }
        list.classes = Some(classes.to_vec());
        Ok(list)
    }

    /// Class sub-folders when `root` has any (non-hidden) sub-folder, else every file, unlabelled.
    fn auto(root: &Path, exts: &[&str]) -> Result<Self> {
        if has_sub_folders(root)? {
            Self::class_folders(root, exts)
        } else {
            Self::flat(root, exts)
        }
    }

    fn flat(root: &Path, exts: &[&str]) -> Result<Self> {
        let files = list_files(root, exts)?;
        if files.is_empty() {
            return Err(Error::config(
                "root",
                format!(
                    "{} holds no file with an extension in {exts:?}",
                    root.display()
                ),
            ));
        }
        Ok(FileList {
            files,
            ..Default::default()
        })
    }

    fn by_pattern(root: &Path, exts: &[&str], pattern: &FileNamePattern) -> Result<Self> {
        let files = Self::flat(root, exts)?.files;
        let mut names = Vec::with_capacity(files.len());
        for f in &files {
            let stem = f
                .file_stem()
                .map(|s| s.to_string_lossy())
                .unwrap_or_default();
            let label = pattern.label_of(&stem).ok_or_else(|| {
                Error::config(
                    "pattern",
                    format!(
                        "file {} does not match the pattern `{}`",
                        f.display(),
                        pattern.text
                    ),
                )
            })?;
            names.push(label);
        }
        let classes: Vec<String> = names
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let map = crate::label_map(&classes);
        Ok(FileList {
            files,
            labels: Some(names.iter().map(|n| map[n]).collect()),
            classes: Some(classes),
        })
    }

    fn label(&self, what: &str, index: usize) -> Result<Option<i64>> {
        if index >= self.files.len() {
            return Err(out_of_range(what, index, self.files.len()));
        }
        Ok(self.labels.as_ref().map(|l| l[index]))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Field(String),
}

/// A file-name pattern such as `"{label}_{speaker}_{take}"`, matched against the file stem.
///
/// `{name}` matches a non-empty run of characters, literal text must match exactly; the match is
/// tried in every way (so `{label}_{rest}` on `a_b_c` gives label `a`, the earliest split). The
/// pattern must contain exactly one `{label}` field; other fields are only read by
/// [`FileNamePattern::fields`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileNamePattern {
    text: String,
    segments: Vec<Segment>,
}

impl FileNamePattern {
    /// Parses a pattern; errors name the problem (unbalanced braces, no or several `{label}`s, two
    /// adjacent fields, which could not be told apart).
    pub fn new(pattern: &str) -> Result<Self> {
        let mut segments = Vec::new();
        let mut rest = pattern;
        while !rest.is_empty() {
            if let Some(open) = rest.find('{') {
                if open > 0 {
                    segments.push(Segment::Literal(rest[..open].to_string()));
                }
                let close = rest[open..].find('}').ok_or_else(|| {
                    Error::config("pattern", format!("`{pattern}` has a `{{` without `}}`"))
                })? + open;
                let name = &rest[open + 1..close];
                if name.is_empty() || name.contains('{') {
                    return Err(Error::config(
                        "pattern",
                        format!("`{pattern}` has an empty or nested field name"),
                    ));
                }
                if matches!(segments.last(), Some(Segment::Field(_))) {
                    return Err(Error::config(
                        "pattern",
                        format!(
                            "`{pattern}` has two adjacent fields; separate them with literal text"
                        ),
                    ));
                }
                segments.push(Segment::Field(name.to_string()));
                rest = &rest[close + 1..];
            } else {
                if rest.contains('}') {
                    return Err(Error::config(
                        "pattern",
                        format!("`{pattern}` has a `}}` without `{{`"),
                    ));
                }
                segments.push(Segment::Literal(rest.to_string()));
                rest = "";
            }
        }
        let n_label = segments
            .iter()
            .filter(|s| matches!(s, Segment::Field(n) if n == "label"))
            .count();
        if n_label != 1 {
            return Err(Error::config(
                "pattern",
                format!("`{pattern}` must contain exactly one `{{label}}` field, found {n_label}"),
            ));
        }
        Ok(FileNamePattern {
            text: pattern.to_string(),
            segments,
        })
    }

    /// The fields of `stem` in pattern order, or `None` when it does not match.
    pub fn fields(&self, stem: &str) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        if Self::match_from(&self.segments, stem, &mut out) {
            Some(out)
        } else {
            None
        }
    }

    fn match_from(segs: &[Segment], s: &str, out: &mut Vec<(String, String)>) -> bool {
        match segs.split_first() {
            None => s.is_empty(),
            Some((Segment::Literal(l), rest)) => {
                s.starts_with(l.as_str()) && Self::match_from(rest, &s[l.len()..], out)
            }
            Some((Segment::Field(name), rest)) => {
                let ends: Vec<usize> = s.char_indices().map(|(i, c)| i + c.len_utf8()).collect();
                for end in ends {
                    out.push((name.clone(), s[..end].to_string()));
                    if Self::match_from(rest, &s[end..], out) {
                        return true;
                    }
                    out.pop();
                }
                false
            }
        }
    }

    /// The `{label}` field of `stem`, or `None` when it does not match.
    pub fn label_of(&self, stem: &str) -> Option<String> {
        self.fields(stem)?
            .into_iter()
            .find(|(n, _)| n == "label")
            .map(|(_, v)| v)
    }
}

/// Images in a folder: labelled by class sub-folders ([`ImageFolder::new`]) or unlabeled
/// ([`ImageFolder::flat`]). Samples are `ImageU8` as decoded (grey, RGB or RGBA channels as the
/// decoder gives them).
#[derive(Clone, Debug)]
pub struct ImageFolder {
    root: PathBuf,
    list: FileList,
    channels: Option<usize>,
}

/// Converts a decoded 8-bit image (1 or 3 channels; alpha is already dropped and 16-bit reduced
/// by the decoder) to `channels` (1 or 3): grey is replicated to RGB, RGB becomes grey with PIL's
/// `convert("L")` weights (ITU-R 601-2: `(19595·R + 38470·G + 7471·B + 2¹⁵) >> 16`).
pub fn convert_channels(img: ImageU8, channels: usize, path: &Path) -> Result<ImageU8> {
    let (c, h, w) = (img.channels(), img.height(), img.width());
    if c == channels {
        return Ok(img);
    }
    let n = h * w;
    let d = img.data();
    let data: Vec<u8> = match (c, channels) {
        (1, 3) => d.iter().chain(d).chain(d).copied().collect(),
        (3, 1) => (0..n)
            .map(|i| {
                let v = 19595 * u32::from(d[i])
                    + 38470 * u32::from(d[n + i])
                    + 7471 * u32::from(d[2 * n + i]);
                ((v + (1 << 15)) >> 16) as u8
            })
            .collect(),
        _ => {
            return Err(Error::decode(
                path,
                format!("cannot convert a {c}-channel image to {channels} channel(s)"),
            ))
        }
    };
    ImageU8::new(channels, h, w, data)
}

impl ImageFolder {
    /// Class sub-folders of `root`, sorted by name; label = position in that order.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        Ok(ImageFolder {
            root: root.to_path_buf(),
            list: FileList::class_folders(root, IMAGE_EXTENSIONS)?,
            channels: None,
        })
    }

    /// Every image under `root`, recursively, without labels.
    pub fn flat(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        Ok(ImageFolder {
            root: root.to_path_buf(),
            list: FileList::flat(root, IMAGE_EXTENSIONS)?,
            channels: None,
        })
    }

    /// Converts every image to `channels` (1 or 3; PyTorch's `ImageFolder` loader converts to RGB),
    /// so that a folder mixing grey, RGB, RGBA and 16-bit files gives samples of one channel count.
    pub fn channels(mut self, channels: usize) -> Result<Self> {
        if !matches!(channels, 1 | 3) {
            return Err(Error::config(
                "image_folder.channels",
                format!("must be 1 or 3, got {channels}"),
            ));
        }
        self.channels = Some(channels);
        Ok(self)
    }

    /// Class sub-folders labelled by their position in `classes` (a held-out folder read with the
    /// training folder's classes, so that labels agree even when a class is missing); a sub-folder
    /// not in `classes` is an error naming it.
    pub fn with_classes(root: impl AsRef<Path>, classes: &[String]) -> Result<Self> {
        let root = root.as_ref();
        Ok(ImageFolder {
            root: root.to_path_buf(),
            list: FileList::class_folders_as(root, IMAGE_EXTENSIONS, classes)?,
            channels: None,
        })
    }

    /// [`ImageFolder::new`] when `root` has sub-folders, else [`ImageFolder::flat`] (unlabelled).
    pub fn auto(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        Ok(ImageFolder {
            root: root.to_path_buf(),
            list: FileList::auto(root, IMAGE_EXTENSIONS)?,
            channels: None,
        })
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The image files, in index order.
    pub fn files(&self) -> &[PathBuf] {
        &self.list.files
    }
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.list.files.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        let label = self.list.label("image folder", index)?;
        let path = &self.list.files[index];
        let mut img = read_image(path)?;
        if let Some(c) = self.channels {
            img = convert_channels(img, c, path)?;
        }
        Ok(Item {
            sample: Sample::ImageU8(img),
            label,
        })
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.list.label("image folder", index)
    }
    fn classes(&self) -> Option<&[String]> {
        self.list.classes.as_deref()
    }
    fn source(&self, index: usize) -> Option<PathBuf> {
        self.list.files.get(index).cloned()
    }
}

/// WAV files in a folder: labelled by class sub-folders ([`AudioFolder::new`]), by a file-name
/// pattern ([`AudioFolder::with_pattern`]), or unlabeled ([`AudioFolder::flat`]).
///
/// Clips are downmixed to mono by default ([`AudioFolder::mono`]) and optionally resampled on load
/// ([`AudioFolder::target_rate`]).
#[derive(Clone, Debug)]
pub struct AudioFolder {
    root: PathBuf,
    list: FileList,
    mono: bool,
    target_rate: Option<u32>,
}

impl AudioFolder {
    fn with_list(root: &Path, list: FileList) -> Self {
        AudioFolder {
            root: root.to_path_buf(),
            list,
            mono: true,
            target_rate: None,
        }
    }

    /// Class sub-folders of `root`, sorted by name.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        Ok(Self::with_list(
            root,
            FileList::class_folders(root, AUDIO_EXTENSIONS)?,
        ))
    }

    /// Every WAV file under `root`, labelled by the `{label}` field of `pattern` (see
    /// [`FileNamePattern`]); class names are the sorted distinct labels.
    pub fn with_pattern(root: impl AsRef<Path>, pattern: &str) -> Result<Self> {
        let root = root.as_ref();
        let pattern = FileNamePattern::new(pattern)?;
        Ok(Self::with_list(
            root,
            FileList::by_pattern(root, AUDIO_EXTENSIONS, &pattern)?,
        ))
    }

    /// Every WAV file under `root`, without labels.
    pub fn flat(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        Ok(Self::with_list(
            root,
            FileList::flat(root, AUDIO_EXTENSIONS)?,
        ))
    }

    /// Class sub-folders labelled by their position in `classes` (see [`ImageFolder::with_classes`]).
    pub fn with_classes(root: impl AsRef<Path>, classes: &[String]) -> Result<Self> {
        let root = root.as_ref();
        Ok(Self::with_list(
            root,
            FileList::class_folders_as(root, AUDIO_EXTENSIONS, classes)?,
        ))
    }

    /// [`AudioFolder::new`] when `root` has sub-folders, else [`AudioFolder::flat`] (unlabelled).
    pub fn auto(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        Ok(Self::with_list(
            root,
            FileList::auto(root, AUDIO_EXTENSIONS)?,
        ))
    }

    /// Keeps only the files for which `keep(path)` is true (labels and classes are kept as they were).
    pub fn filter(mut self, keep: impl Fn(&Path) -> bool) -> Self {
        let mut files = Vec::new();
        let mut labels = self.list.labels.as_ref().map(|_| Vec::new());
        for (i, f) in self.list.files.iter().enumerate() {
            if keep(f) {
                files.push(f.clone());
                if let (Some(out), Some(all)) = (labels.as_mut(), self.list.labels.as_ref()) {
                    out.push(all[i]);
                }
            }
        }
        self.list.files = files;
        self.list.labels = labels;
        self
    }

    /// Downmix to mono on load (default `true`).
    pub fn mono(mut self, mono: bool) -> Self {
        self.mono = mono;
        self
    }

    /// Resample to `rate` Hz on load (default: keep the file's rate).
    pub fn target_rate(mut self, rate: Option<u32>) -> Result<Self> {
        if rate == Some(0) {
            return Err(Error::config("target_rate", "must be > 0 Hz, got 0"));
        }
        self.target_rate = rate;
        Ok(self)
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The WAV files, in index order.
    pub fn files(&self) -> &[PathBuf] {
        &self.list.files
    }
}

impl Dataset for AudioFolder {
    fn len(&self) -> usize {
        self.list.files.len()
    }
    fn get(&self, index: usize) -> Result<Item> {
        let label = self.list.label("audio folder", index)?;
        let clip = read_audio(&self.list.files[index], self.mono, self.target_rate)?;
        Ok(Item {
            sample: Sample::Audio(clip),
            label,
        })
    }
    fn label(&self, index: usize) -> Result<Option<i64>> {
        self.list.label("audio folder", index)
    }
    fn classes(&self) -> Option<&[String]> {
        self.list.classes.as_deref()
    }
    fn source(&self, index: usize) -> Option<PathBuf> {
        self.list.files.get(index).cloned()
    }
}

/// Groups indices by label (for stratified splits and class counts).
pub(crate) fn indices_by_label(labels: &[i64]) -> BTreeMap<i64, Vec<usize>> {
    let mut m: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        m.entry(l).or_default().push(i);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_folders_take_the_training_classes_and_auto_reads_flat_folders() {
        let t = tempfile::tempdir().unwrap();
        let touch = |p: &str| {
            let p = t.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"").unwrap();
        };
        for f in ["train/a/1.png", "train/b/1.png", "train/c/1.png"] {
            touch(f);
        }
        touch("val/c/1.png");
        touch("val/c/2.png");
        touch("val/a/1.png");
        let train = ImageFolder::auto(t.path().join("train")).unwrap();
        let classes = train.classes().unwrap().to_vec();
        assert_eq!(classes, ["a", "b", "c"]);
        // On its own the held-out folder would call `c` class 1; with the training classes it is 2.
        assert_eq!(
            ImageFolder::new(t.path().join("val"))
                .unwrap()
                .label(2)
                .unwrap(),
            Some(1)
        );
        let val = ImageFolder::with_classes(t.path().join("val"), &classes).unwrap();
        let labels: Vec<_> = (0..3).map(|i| val.label(i).unwrap().unwrap()).collect();
        assert_eq!(labels, [0, 2, 2]);
        assert_eq!(val.classes().unwrap(), classes.as_slice());
        touch("val/zebra/1.png");
        let e = ImageFolder::with_classes(t.path().join("val"), &classes)
            .unwrap_err()
            .to_string();
        assert!(e.contains("zebra") && e.contains("a, b, c"), "{e}");
        touch("flat/x.wav");
        touch("flat/y.WAV");
        let flat = AudioFolder::auto(t.path().join("flat")).unwrap();
        assert_eq!(
            (flat.len(), flat.classes(), flat.label(0).unwrap()),
            (2, None, None)
        );
        // Class folders without any WAV are an error naming one, not an empty dataset.
        let e = AudioFolder::auto(t.path().join("val"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("class folder"), "{e}");
    }

    #[test]
    fn pattern_extracts_fields_and_rejects_bad_patterns() {
        let p = FileNamePattern::new("{label}_{speaker}_{take}").unwrap();
        assert_eq!(p.label_of("7_jackson_32").as_deref(), Some("7"));
        assert_eq!(
            p.fields("7_jackson_32").unwrap(),
            vec![
                ("label".to_string(), "7".to_string()),
                ("speaker".to_string(), "jackson".to_string()),
                ("take".to_string(), "32".to_string())
            ]
        );
        assert_eq!(p.label_of("7_jackson"), None);
        let q = FileNamePattern::new("rec-{label}").unwrap();
        assert_eq!(q.label_of("rec-dog").as_deref(), Some("dog"));
        assert_eq!(q.label_of("dog"), None);
        for bad in [
            "{speaker}_{take}",
            "{label}{take}",
            "{label",
            "x}",
            "{label}_{label}",
        ] {
            let e = FileNamePattern::new(bad).unwrap_err().to_string();
            assert!(e.contains("pattern"), "{bad}: {e}");
        }
    }
}
