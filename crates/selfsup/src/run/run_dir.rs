//! Checks on the run folder before a run starts: it must not lie inside the dataset folder (the
//! run's PNGs and files would become samples of the dataset). The lock and the clean-up of
//! temporary files are `selfsup_train::run_dir`'s.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// `p` made absolute with symlinks resolved, for a path that may not exist yet: the deepest
/// existing ancestor is canonicalised and the rest appended.
fn absolute(p: &Path) -> PathBuf {
    let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut rest = Vec::new();
    let mut cur = p.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            return rest.iter().rev().fold(c, |acc: PathBuf, s| acc.join(s));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return p,
        }
    }
}

/// Refuses a run folder `out` inside the dataset folder `data` (when `data` is a folder).
pub fn refuse_out_inside_data(out: &Path, data: &Path) -> Result<()> {
    if !data.is_dir() {
        return Ok(());
    }
    let (o, d) = (absolute(out), absolute(data));
    if o.starts_with(&d) {
        bail!(
            "invalid value for `out_dir` (--out): {} is inside the dataset folder {}, where the run's files would be read as data; choose a folder outside it",
            out.display(),
            data.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_folder_inside_the_data_folder_is_refused_and_outside_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("images");
        std::fs::create_dir_all(data.join("cat")).unwrap();
        let e = refuse_out_inside_data(&data.join("runs/x"), &data).unwrap_err();
        assert!(e.to_string().contains("out_dir"), "{e}");
        // The same folder reached through `..` is still inside.
        let sneaky = data.join("cat/../runs");
        assert!(refuse_out_inside_data(&sneaky, &data).is_err());
        assert!(refuse_out_inside_data(&data, &data).is_err());
        refuse_out_inside_data(&dir.path().join("runs/x"), &data).unwrap();
        // A sibling whose name merely starts with the data folder's is outside.
        refuse_out_inside_data(&dir.path().join("images2/run"), &data).unwrap();
        // A data file (not a folder) is never a reason to refuse.
        let f = dir.path().join("mnist.csv");
        std::fs::write(&f, "x").unwrap();
        refuse_out_inside_data(&dir.path().join("run"), &f).unwrap();
    }
}
