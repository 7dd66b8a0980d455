//! Run metrics: `metrics.jsonl` (one JSON object per record: `kind`, `step`, `epoch` and the values)
//! and `metrics.csv` (long format `kind,step,epoch,name,value`, one row per value), appended as the run
//! goes; on resume, records after the checkpoint's step are dropped so the files read as one clean run.
//! [`plot_run`] draws `loss.png` (training loss per step) and `eval.png` (evaluation values per epoch).

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One record read back from `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    /// `train` (a logged step) or `epoch` (end-of-epoch loss and evaluations).
    pub kind: String,
    /// Steps completed when it was written.
    pub step: u64,
    /// Epoch (0-based for `train`, count of epochs done for `epoch`).
    pub epoch: u64,
    /// The values.
    pub values: BTreeMap<String, f64>,
}

/// Appends records to the run folder's metric files.
#[derive(Debug)]
pub struct MetricsWriter {
    jsonl: PathBuf,
    csv: PathBuf,
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    f.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))
}

impl MetricsWriter {
    /// Opens (creating) the files in `dir`. With `keep_upto = Some(k)` (a resume), records written after
    /// step `k` by the interrupted run are removed first; otherwise existing files are started afresh.
    pub fn open(dir: &Path, keep_upto: Option<u64>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let jsonl = dir.join("metrics.jsonl");
        let csv = dir.join("metrics.csv");
        let filter =
            |path: &Path, step_of: &dyn Fn(&str) -> Option<u64>, header: &str| -> Result<()> {
                let old = match keep_upto {
                    Some(_) => std::fs::read_to_string(path).unwrap_or_default(),
                    None => String::new(),
                };
                let mut out = String::from(header);
                for l in old
                    .lines()
                    .filter(|l| !l.is_empty() && *l != header.trim_end())
                {
                    if step_of(l).is_some_and(|s| keep_upto.is_some_and(|k| s <= k)) {
                        out.push_str(l);
                        out.push('\n');
                    }
                }
                crate::checkpoint::write_atomic(path, out.as_bytes())
            };
        filter(
            &jsonl,
            &|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()?
                    .get("step")?
                    .as_u64()
            },
            "",
        )?;
        filter(
            &csv,
            &|l| l.split(',').nth(1)?.parse().ok(),
            "kind,step,epoch,name,value\n",
        )?;
        Ok(MetricsWriter { jsonl, csv })
    }

    /// Appends one record.
    pub fn log(
        &mut self,
        kind: &str,
        step: u64,
        epoch: u64,
        values: &[(String, f64)],
    ) -> Result<()> {
        let mut obj = serde_json::Map::new();
        obj.insert("kind".into(), kind.into());
        obj.insert("step".into(), step.into());
        obj.insert("epoch".into(), epoch.into());
        let mut rows = String::new();
        for (k, v) in values {
            obj.insert(k.clone(), serde_json::Value::from(*v));
            rows.push_str(&format!("{kind},{step},{epoch},{k},{v}\n"));
        }
        append(
            &self.jsonl,
            &(serde_json::Value::Object(obj).to_string() + "\n"),
        )?;
        append(&self.csv, &rows)
    }
}

/// Reads `metrics.jsonl`.
pub fn read_jsonl(path: &Path) -> Result<Vec<MetricRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(l)
            .map_err(|e| selfsup_core::Error::decode(path, format!("line {}: {e}", i + 1)))?;
        let obj = v.as_object().ok_or_else(|| {
            selfsup_core::Error::decode(path, format!("line {}: not an object", i + 1))
        })?;
        let mut values = BTreeMap::new();
        for (k, x) in obj {
            if !matches!(k.as_str(), "kind" | "step" | "epoch") {
                values.insert(k.clone(), x.as_f64().unwrap_or(f64::NAN));
            }
        }
        out.push(MetricRow {
            kind: obj
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_string(),
            step: obj.get("step").and_then(|k| k.as_u64()).unwrap_or(0),
            epoch: obj.get("epoch").and_then(|k| k.as_u64()).unwrap_or(0),
            values,
        });
    }
    Ok(out)
}

/// Draws `loss.png` and (when evaluations were logged) `eval.png` in the run folder.
pub fn plot_run(dir: &Path) -> Result<()> {
    let rows = read_jsonl(&dir.join("metrics.jsonl"))?;
    let loss: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.kind == "train")
        .filter_map(|r| Some((r.step as f64, *r.values.get("loss")?)))
        .collect();
    crate::plot::line_chart(
        &dir.join("loss.png"),
        "training loss",
        "step",
        &[("loss".into(), loss)],
    )?;
    let mut evals: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind == "epoch") {
        for (k, v) in &r.values {
            if k != "epoch_loss" {
                evals
                    .entry(k.clone())
                    .or_default()
                    .push((r.epoch as f64, *v));
            }
        }
    }
    if !evals.is_empty() {
        let series: Vec<_> = evals.into_iter().collect();
        crate::plot::line_chart(&dir.join("eval.png"), "evaluation", "epoch", &series)?;
    }
    Ok(())
}
