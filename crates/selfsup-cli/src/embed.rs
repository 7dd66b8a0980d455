//! `selfsup embed --run DIR --data PATH --out FILE`: the trained encoder's features of every file of
//! an image or audio folder (class sub-folders give labels; a flat folder has none), or of every
//! sample of an MNIST, CIFAR or FSDD run's data (its training split, then its held-out split:
//! `--split all|train|val`, rows named `train/<index or file>` and `val/...`), through the run's
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
use anyhow::{bail, Result};
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
    /// MNIST, CIFAR and FSDD runs: `all` (the run's training split, then its held-out split),
    /// `train` or `val`. Folders are embedded whole (`all`).
    #[arg(long, default_value = "all")]
    pub split: String,
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
    // The parts to embed: (name prefix, dataset). Folders: the whole folder, files named relative
    // to it. Other kinds: the run's training split then its held-out split (`--split`), named
    // `train/...` and `val/...` (the file for FSDD, the index within the split otherwise).
    let parts: Vec<(Option<&str>, Arc<dyn Dataset>)> = match cfg.data.kind {
        DataKind::ImageFolder | DataKind::AudioFolder if a.split != "all" => bail!(
            "invalid value `{}` for `--split`: a folder is embedded whole (`all`); point --data at the folder to embed",
            a.split
        ),
        DataKind::ImageFolder => vec![(None, Arc::new(ImageFolder::auto(&root)?))],
        DataKind::AudioFolder => vec![(
            None,
            Arc::new(AudioFolder::auto(&root)?.target_rate(Some(cfg.augment.sample_rate))?),
        )],
        DataKind::Text => bail!(
            "`selfsup embed` reads images and audio, and this run's data is `data.kind = text`"
        ),
        _ => {
            let splits = crate::data::open_splits(&cfg)?;
            match a.split.as_str() {
                "all" => vec![(Some("train"), splits.train), (Some("val"), splits.val)],
                "train" => vec![(Some("train"), splits.train)],
                "val" => vec![(Some("val"), splits.val)],
                other => bail!("invalid value `{other}` for `--split`: allowed all, train, val"),
            }
        }
    };
    let n: usize = parts.iter().map(|(_, d)| d.len()).sum();
    let bar = selfsup_train::progress::bar(
        n as u64,
        "embed {bar:30} {pos}/{len} files [{elapsed}<{eta}]",
    );
    let (mut feats, mut labels, mut files) = (Vec::new(), Some(Vec::new()), Vec::new());
    let mut offset = 0;
    for (prefix, ds) in parts.iter().filter(|(_, d)| !d.is_empty()) {
        let lc = LoaderConfig {
            batch_size: a.batch_size.min(ds.len().max(1)),
            shuffle: false,
            drop_last: false,
            num_threads: cfg.data.num_threads,
            seed: cfg.train.seed,
            ..Default::default()
        };
        let loader = Loader::new(ds.clone(), crate::views::eval_pipeline(&cfg)?, lc)?;
        let (f, l) = selfsup_train::eval::embed_all(method.as_ref(), &loader, &mut |done| {
            bar.set_position((offset + done) as u64)
        })?;
        offset += ds.len();
        feats.push(f);
        match (l, labels.as_mut()) {
            (Some(l), Some(all)) => all.extend(Vec::<i64>::try_from(&l)?),
            _ => labels = None,
        }
        for i in 0..ds.len() {
            let name = ds
                .source(i)
                .map(|p| p.strip_prefix(&root).unwrap_or(&p).display().to_string())
                .unwrap_or_else(|| i.to_string());
            files.push(match prefix {
                Some(s) => format!("{s}/{name}"),
                None => name,
            });
        }
    }
    selfsup_train::progress::done(&bar);
    if feats.is_empty() {
        bail!(
            "nothing to embed: the data at {} has no samples",
            root.display()
        );
    }
    let feats = Tensor::f_cat(&feats, 0)?;
    let d = feats.size().get(1).copied().unwrap_or(0) as usize;
    let flat: Vec<f32> = Vec::<f32>::try_from(feats.reshape([-1]))?;
    let ds = &parts[0].1;
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
