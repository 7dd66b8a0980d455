//! Auto-encoder pictures in the run folder: a fixed batch of held-out samples, passed through the run's
//! training pipeline once (so the DAE's corrupted copies are the loader's own keyed corruptions and
//! audio is the log-mel of a keyed crop), drawn by `selfsup_autoencoder::write_pictures` at every
//! evaluation into `<run>/pictures/` (`epoch_NNN_*.png`, and `final_*.png` after training).

use crate::methods::MethodConfig;
use crate::run::config::RunConfig;
use crate::run::data::Splits;
use crate::run::views;
use anyhow::{Context, Result};
use selfsup_data::{Loader, LoaderConfig};
use selfsup_nn::Method;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// The samples drawn at every evaluation, on the run's device.
pub struct PictureBatch {
    views: Vec<Tensor>,
    dir: PathBuf,
    seed: i64,
}

impl PictureBatch {
    /// For auto-encoder runs: the first [`selfsup_autoencoder::pictures::PICTURE_ROWS`] held-out
    /// samples (the training split when nothing is held out) through the training pipeline; `None`
    /// for every other method.
    pub fn new(cfg: &RunConfig, splits: &Splits) -> Result<Option<Self>> {
        if !matches!(cfg.method, MethodConfig::Autoencoder(_)) {
            return Ok(None);
        }
        let ds = if splits.val.is_empty() {
            splits.train.clone()
        } else {
            splits.val.clone()
        };
        let n = (selfsup_autoencoder::pictures::PICTURE_ROWS as usize).min(ds.len());
        let lc = LoaderConfig {
            batch_size: n.max(1),
            shuffle: false,
            drop_last: false,
            num_threads: cfg.data.num_threads,
            seed: cfg.train.seed,
            ..Default::default()
        };
        let loader = Loader::new(ds, views::train_pipeline(cfg, splits.vocab_size)?, lc)?;
        let hb = loader
            .epoch(0)
            .next()
            .context("pictures: the dataset is empty")??;
        let device = selfsup_nn::parse_device(&cfg.train.device)?;
        let b = selfsup_nn::host_to_device(&hb, device)?;
        Ok(Some(PictureBatch {
            views: b.views,
            dir: cfg.out_dir.join("pictures"),
            seed: cfg.train.seed as i64,
        }))
    }

    /// Draws the pictures of `method` as `<run>/pictures/{tag}_*.png`; returns the files written.
    pub fn write(&self, method: &dyn Method, tag: &str) -> Result<Vec<PathBuf>> {
        Ok(selfsup_autoencoder::write_pictures(
            method,
            &self.views,
            &self.dir,
            tag,
            self.seed,
        )?)
    }

    /// [`PictureBatch::write`], logging a failure instead of stopping the run.
    pub fn write_or_warn(&self, method: &dyn Method, tag: &str) {
        if let Err(e) = self.write(method, tag) {
            tracing::warn!(error = %e, dir = %self.dir.display(), "could not draw the pictures");
        }
    }

    /// The folder the pictures go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
