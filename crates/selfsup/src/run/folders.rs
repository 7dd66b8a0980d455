//! Image and audio folders as the CLI reads them: the training and held-out folders
//! (`selfsup_data::detect_layout`: `root/train/<class>` next to `root/val|test/<class>` is one split
//! dataset, not two classes), `data.val_path` (`--val-data`) as an explicit held-out folder, and
//! unlabelled (flat) folders, whose kNN and probes are skipped or run on a labelled held-out folder.
//!
//! | training folder | held-out folder | pretraining | kNN bank / queries |
//! | --- | --- | --- | --- |
//! | classes | none | all but `val_fraction` of each class | train / held-out fraction |
//! | classes | classes | the training folder | training folder / held-out folder |
//! | flat | none | everything | skipped |
//! | flat | classes | the training folder | stratified split of the held-out folder |
//! | flat | flat | the training folder | skipped |

use crate::run::config::{DataKind, RunConfig};
use crate::run::data::{limit, EvalSplit, Splits};
use anyhow::{bail, Result};
use selfsup_data::{train_val_split, AudioFolder, Dataset, ImageFolder};
use std::path::Path;
use std::sync::Arc;

fn open_auto(cfg: &RunConfig, root: &Path) -> Result<Arc<dyn Dataset>> {
    Ok(if cfg.data.kind == DataKind::AudioFolder {
        Arc::new(AudioFolder::auto(root)?.target_rate(Some(cfg.augment.sample_rate))?)
    } else {
        // Every image as RGB, as PyTorch's ImageFolder loader does (grey, RGBA, 16-bit files too).
        Arc::new(ImageFolder::auto(root)?.channels(3)?)
    })
}

fn open_with_classes(cfg: &RunConfig, root: &Path, classes: &[String]) -> Result<Arc<dyn Dataset>> {
    Ok(if cfg.data.kind == DataKind::AudioFolder {
        Arc::new(
            AudioFolder::with_classes(root, classes)?.target_rate(Some(cfg.augment.sample_rate))?,
        )
    } else {
        Arc::new(ImageFolder::with_classes(root, classes)?.channels(3)?)
    })
}

fn describe(ds: &dyn Dataset, root: &Path) -> String {
    match ds.classes() {
        Some(c) => format!(
            "{} ({} files in {} class folders)",
            root.display(),
            ds.len(),
            c.len()
        ),
        None => format!(
            "{} ({} files, no class folders: unlabelled)",
            root.display(),
            ds.len()
        ),
    }
}

/// Opens an `image-folder` / `audio-folder` dataset at `path` (see the module docs); the returned
/// splits say in `layout` what was detected.
pub fn open(cfg: &RunConfig, path: &Path) -> Result<Splits> {
    let d = &cfg.data;
    let layout = selfsup_data::detect_layout(path)?;
    let val_root = d.val_path.clone().or_else(|| layout.val.clone());
    if let Some(v) = &d.val_path {
        if !v.is_dir() {
            bail!(
                "invalid value for `data.val_path`: {} is not a folder (a held-out folder of {} files)",
                v.display(),
                if cfg.data.kind == DataKind::AudioFolder { "WAV" } else { "image" }
            );
        }
    }
    let all = open_auto(cfg, &layout.train)?;
    let mut notes = Vec::new();
    if layout.is_split() {
        notes.push(format!(
            "train/val layout detected under {}: training files {}",
            path.display(),
            describe(all.as_ref(), &layout.train)
        ));
    } else {
        notes.push(format!(
            "training files {}",
            describe(all.as_ref(), &layout.train)
        ));
    }
    for ig in &layout.ignored {
        notes.push(format!(
            "{} is not used (one held-out folder is)",
            ig.display()
        ));
    }
    let classes = all.classes().map(<[String]>::to_vec);
    let s = match (&val_root, classes) {
        (Some(v), Some(classes)) => {
            if !selfsup_data::layout::is_labelled(v)? {
                bail!(
                    "invalid value for `data.val_path`: {} has no class sub-folders, and the training folder {} has ({}); the held-out folder needs the same classes",
                    v.display(),
                    layout.train.display(),
                    classes.join(", ")
                );
            }
            let val = open_with_classes(cfg, v, &classes)?;
            notes.push(format!("held-out files {}", describe(val.as_ref(), v)));
            let train = limit(all, d.max_samples)?;
            Splits::labelled(train, val)
        }
        (Some(v), None) => {
            let val = open_auto(cfg, v)?;
            notes.push(format!("held-out files {}", describe(val.as_ref(), v)));
            let train = limit(all, d.max_samples)?;
            if val.classes().is_some() {
                let (bank, query) =
                    train_val_split(val.clone(), d.val_fraction, cfg.train.seed, true)?;
                notes.push(format!(
                    "the training files have no labels: kNN and the linear probe use the labelled held-out files, {} as the bank and {} as queries (`data.val_fraction` = {})",
                    bank.len(),
                    query.len(),
                    d.val_fraction
                ));
                let mut s = Splits::unlabelled(train, val);
                s.eval = Some(EvalSplit {
                    bank: Arc::new(bank),
                    query: Arc::new(query),
                });
                s
            } else {
                notes.push(
                    "no labels anywhere: kNN and linear-probe evaluations are skipped".into(),
                );
                Splits::unlabelled(train, val)
            }
        }
        (None, Some(_)) => {
            let all = limit(all, d.max_samples)?;
            let (train, val) = train_val_split(all, d.val_fraction, cfg.train.seed, true)?;
            notes.push(format!(
                "no held-out folder: {} of each class held out (`data.val_fraction`; `--val-data` names a folder)",
                d.val_fraction
            ));
            Splits::labelled(Arc::new(train), Arc::new(val))
        }
        (None, None) => {
            let train = limit(all, d.max_samples)?;
            let empty: Arc<dyn Dataset> =
                Arc::new(selfsup_data::Subset::new(train.clone(), Vec::new())?);
            notes.push(
                "no labels: kNN and linear-probe evaluations are skipped (a labelled `--val-data` folder enables them)"
                    .into(),
            );
            Splits::unlabelled(train, empty)
        }
    };
    Ok(Splits { layout: notes, ..s })
}
