//! Where the training and the held-out files of a folder dataset are.
//!
//! People keep data split already: `root/train/<class>/…` next to `root/val/<class>/…` (torchvision's
//! ImageNet layout; `valid`, `validation` and `test` are read the same way). Read as one
//! [`ImageFolder`](crate::ImageFolder), that is a two-class dataset called "train" and "val" — so
//! [`detect_layout`] looks for it first:
//!
//! - the root's sub-folders are `train` plus one or more of [`VAL_FOLDER_NAMES`] (any case), and
//!   nothing else → training files in `train`, held-out files in the first of `val`, `valid`,
//!   `validation`, `test` present (the others are listed in [`FolderLayout::ignored`]);
//! - the root's only sub-folder is `train` → training files there, no held-out folder;
//! - anything else → the root is the training folder, no held-out folder.
//!
//! Inside the training (or held-out) folder, sub-folders are classes and a folder without
//! sub-folders is unlabelled ([`is_labelled`]; the `auto` constructors of the folder datasets).

use crate::folder::{has_sub_folders, sub_folders};
use selfsup_core::{Error, Result};
use std::path::{Path, PathBuf};

/// The held-out folder names, in order of preference.
pub const VAL_FOLDER_NAMES: &[&str] = &["val", "valid", "validation", "test"];

/// The training and held-out folders found under a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderLayout {
    /// The training files: `root/train` in a split layout, else the root.
    pub train: PathBuf,
    /// The held-out files (`root/val`, …), when the layout has them.
    pub val: Option<PathBuf>,
    /// Held-out folders present but not used (`test` when `val` is there too).
    pub ignored: Vec<PathBuf>,
}

impl FolderLayout {
    /// True when the training files are in a `train` sub-folder of the root.
    pub fn is_split(&self) -> bool {
        self.val.is_some()
            || self
                .train
                .file_name()
                .is_some_and(|n| n.eq_ignore_ascii_case("train"))
    }
}

fn lower_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// Detects the layout of `root` (see the module docs). Only folder names are read.
pub fn detect_layout(root: impl AsRef<Path>) -> Result<FolderLayout> {
    let root = root.as_ref();
    if !root.is_dir() {
        return Err(Error::config(
            "root",
            format!("{} is not a folder", root.display()),
        ));
    }
    let subs = sub_folders(root)?;
    let train = subs.iter().find(|p| lower_name(p) == "train");
    let all_split_names = subs.iter().all(|p| {
        let n = lower_name(p);
        n == "train" || VAL_FOLDER_NAMES.contains(&n.as_str())
    });
    let Some(train) = train.filter(|_| all_split_names) else {
        return Ok(FolderLayout {
            train: root.to_path_buf(),
            val: None,
            ignored: Vec::new(),
        });
    };
    let mut held: Vec<&PathBuf> = subs.iter().filter(|p| lower_name(p) != "train").collect();
    held.sort_by_key(|p| {
        let n = lower_name(p);
        VAL_FOLDER_NAMES.iter().position(|v| *v == n)
    });
    let val = held.first().map(|p| (*p).clone());
    let ignored = held.iter().skip(1).map(|p| (*p).clone()).collect();
    Ok(FolderLayout {
        train: train.clone(),
        val,
        ignored,
    })
}

/// True when `dir` holds class sub-folders (labelled), false for a flat folder of files.
pub fn is_labelled(dir: impl AsRef<Path>) -> Result<bool> {
    has_sub_folders(dir.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mk(root: &Path, dirs: &[&str]) {
        for d in dirs {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
    }

    #[test]
    fn train_and_val_folders_are_one_split_dataset() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        mk(
            r,
            &["train/cat", "train/dog", "test/cat", "val/dog", ".cache"],
        );
        let l = detect_layout(r).unwrap();
        assert_eq!(l.train, r.join("train"));
        assert_eq!(l.val, Some(r.join("val")));
        assert_eq!(l.ignored, vec![r.join("test")]);
        assert!(l.is_split());
    }

    #[test]
    fn a_class_called_train_among_others_is_a_class() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        mk(r, &["train", "bus", "Test"]);
        let l = detect_layout(r).unwrap();
        assert_eq!(l.train, r);
        assert_eq!(l.val, None);
        assert!(!l.is_split());
        // Train alone, and Train + Test in capitals.
        let t = tempfile::tempdir().unwrap();
        mk(t.path(), &["Train/a"]);
        let l = detect_layout(t.path()).unwrap();
        assert_eq!((l.train, l.val), (t.path().join("Train"), None));
        mk(t.path(), &["Test/a"]);
        let l = detect_layout(t.path()).unwrap();
        assert_eq!(l.val, Some(t.path().join("Test")));
        assert!(is_labelled(t.path().join("Train")).unwrap());
        assert!(!is_labelled(t.path().join("Train/a")).unwrap());
        let e = detect_layout(t.path().join("nope"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a folder"), "{e}");
    }
}
