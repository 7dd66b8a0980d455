//! `selfsup embed --run DIR --data PATH --out FILE`: the trained encoder's features of every file of
//! an image or audio folder (class sub-folders give labels; a flat folder has none), through the run's
//! evaluation transform, in batches with a progress bar (`selfsup_train::eval::embed_all`).
//!
//! The format follows the extension of `--out`:
//! - `.safetensors`: `embeddings` (`N×D` f32), `labels` (`N` i64, when labelled); the metadata holds
//!   `files` and `classes` as JSON lists and the run folder;
//! - `.npy`: the `N×D` f32 array (NumPy format 1.0, little-endian, C order), plus `<stem>.index.csv`
//!   (`index,file,label,class`) next to it;
//! - `.csv`: one row per file, `file,label,class,f0,…,f{D-1}` (label and class empty when unlabelled).
//!
//! File names are written relative to the data folder, rows in the folder's (sorted) order.

use crate::config::DataKind;
use anyhow::{bail, Context, Result};
use selfsup_data::{AudioFolder, Dataset, ImageFolder, Loader, LoaderConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tch::Tensor;

/// Flags of `selfsup embed`.
#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// The run folder (config.toml and checkpoints/).
    #[arg(long)]
    pub run: PathBuf,
    /// An image or audio folder of the run's data kind (default: the run's `data.path`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Output file: `.safetensors`, `.npy` (with `<stem>.index.csv`) or `.csv`.
    #[arg(long)]
    pub out: PathBuf,
    /// `best` or a checkpoint file (default: the newest — the final weights).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Files per batch.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
}

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// safetensors.
    Safetensors,
    /// NumPy `.npy` plus an index CSV.
    Npy,
    /// CSV with one row per file.
    Csv,
}

impl Format {
    /// The format of `path`'s extension; the error lists the allowed ones.
    pub fn of(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        Ok(match ext.as_deref() {
            Some("safetensors") => Format::Safetensors,
            Some("npy") => Format::Npy,
            Some("csv") => Format::Csv,
            _ => bail!(
                "invalid value for `--out`: {} has no known extension; allowed: .safetensors, .npy, .csv",
                path.display()
            ),
        })
    }
}

/// The `.npy` bytes of a row-major `rows × cols` f32 array (format version 1.0).
pub fn npy_bytes(data: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Runs `selfsup embed`.
pub fn run(a: &EmbedArgs) -> Result<()> {
    let format = Format::of(&a.out)?;
    selfsup_core::check::at_least("--batch-size", a.batch_size, 1)?;
    let (mut cfg, method, _) = crate::commands::restored_method(&a.run, &a.checkpoint)?;
    if let Some(p) = &a.data {
        cfg.data.path = Some(p.clone());
    }
    let root = crate::data::resolve_path(&cfg.data)?;
    let ds: Arc<dyn Dataset> = match cfg.data.kind {
        DataKind::ImageFolder => Arc::new(ImageFolder::auto(&root)?),
        DataKind::AudioFolder => {
            Arc::new(AudioFolder::auto(&root)?.target_rate(Some(cfg.augment.sample_rate))?)
        }
        other => bail!(
            "`selfsup embed` reads image or audio folders, and this run's data is `data.kind = {}`",
            other.name()
        ),
    };
    let n = ds.len();
    let lc = LoaderConfig {
        batch_size: a.batch_size.min(n.max(1)),
        shuffle: false,
        drop_last: false,
        num_threads: cfg.data.num_threads,
        seed: cfg.train.seed,
        ..Default::default()
    };
    let loader = Loader::new(ds.clone(), crate::views::eval_pipeline(&cfg)?, lc)?;
    let bar = indicatif::ProgressBar::new(n as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "embed {bar:30} {pos}/{len} files [{elapsed}<{eta}]",
        )
        .context("progress template")?,
    );
    let (feats, labels) = selfsup_train::eval::embed_all(method.as_ref(), &loader, &mut |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    let d = feats.size().get(1).copied().unwrap_or(0) as usize;
    let flat: Vec<f32> = Vec::<f32>::try_from(feats.reshape([-1]))?;
    let labels: Option<Vec<i64>> = labels.map(|l| Vec::<i64>::try_from(&l)).transpose()?;
    let files: Vec<String> = (0..n)
        .map(|i| {
            ds.source(i)
                .map(|p| p.strip_prefix(&root).unwrap_or(&p).display().to_string())
                .unwrap_or_else(|| i.to_string())
        })
        .collect();
    let classes: Vec<String> = ds.classes().map(<[String]>::to_vec).unwrap_or_default();
    let class_of = |i: usize| -> (String, String) {
        match &labels {
            Some(l) => (
                l[i].to_string(),
                classes.get(l[i] as usize).cloned().unwrap_or_default(),
            ),
            None => (String::new(), String::new()),
        }
    };
    match format {
        Format::Safetensors => {
            let mut t = vec![(
                "embeddings".to_string(),
                Tensor::from_slice(&flat).reshape([n as i64, d as i64]),
            )];
            if let Some(l) = &labels {
                t.push(("labels".to_string(), Tensor::from_slice(l)));
            }
            let meta = std::collections::HashMap::from([
                ("files".to_string(), serde_json::to_string(&files)?),
                ("classes".to_string(), serde_json::to_string(&classes)?),
                ("run".to_string(), a.run.display().to_string()),
            ]);
            selfsup_train::checkpoint::save_safetensors(&a.out, &t, Some(meta))?;
        }
        Format::Npy => {
            selfsup_train::checkpoint::write_atomic(&a.out, &npy_bytes(&flat, n, d))?;
            let mut idx = String::from("index,file,label,class\n");
            for (i, f) in files.iter().enumerate() {
                let (l, c) = class_of(i);
                idx.push_str(&format!("{i},{},{l},{}\n", csv_field(f), csv_field(&c)));
            }
            selfsup_train::checkpoint::write_atomic(
                &a.out.with_extension("index.csv"),
                idx.as_bytes(),
            )?;
        }
        Format::Csv => {
            let mut text = String::from("file,label,class");
            for j in 0..d {
                text.push_str(&format!(",f{j}"));
            }
            text.push('\n');
            for (i, f) in files.iter().enumerate() {
                let (l, c) = class_of(i);
                text.push_str(&format!("{},{l},{}", csv_field(f), csv_field(&c)));
                for v in &flat[i * d..(i + 1) * d] {
                    text.push_str(&format!(",{v}"));
                }
                text.push('\n');
            }
            selfsup_train::checkpoint::write_atomic(&a.out, text.as_bytes())?;
        }
    }
    writeln!(
        std::io::stdout(),
        "wrote {}: {n} files × {d} features{}",
        a.out.display(),
        if labels.is_some() {
            format!(", labels of {} classes", classes.len())
        } else {
            ", no labels".to_string()
        }
    )?;
    Ok(())
}
