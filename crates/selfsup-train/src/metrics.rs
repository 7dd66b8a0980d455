//! Run metrics: `metrics.jsonl` (one JSON object per record: `kind`, `step`, `epoch` and the values)
//! and `metrics.csv` (long format `kind,step,epoch,name,value`, one row per value), appended as the run
//! goes; on resume, records after the checkpoint's step are dropped so the files read as one clean run.
//! [`plot_run`] draws `loss.png` (training loss per step) and `eval.png` (evaluation values per epoch).
//!
//! Records: `train` rows (every `log_every` steps: `loss`, `lr`, `grad_norm`, `samples_per_sec`, the
//! method's scalars; `epoch` is the 0-based epoch the step belongs to) and `epoch` rows (end of each
//! epoch: `epoch_loss` and the evaluation's values; `epoch` counts the epochs done, so the end of the
//! first epoch is 1). Callers may add `eval` rows (the CLI: `knn_acc`, `linear_probe_acc` at epoch 0
//! for the random initialisation and at the last epoch). Accuracies are fractions in `[0, 1]`,
//! losses in nats, `lr` per step, `samples_per_sec` wall-clock.

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

/// The evaluation curves of a run: every value of the `epoch` rows (the trainer's end-of-epoch
/// evaluations) and of the `eval` rows (the caller's own evaluations, e.g. the CLI's kNN and linear
/// probe before training at epoch 0 and after the last epoch) except `epoch_loss`, one series per name,
/// sorted by epoch, one point per epoch (the last written wins).
pub fn eval_series(rows: &[MetricRow]) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut evals: BTreeMap<String, BTreeMap<u64, f64>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.kind == "epoch" || r.kind == "eval")
    {
        for (k, v) in &r.values {
            if k != "epoch_loss" {
                evals.entry(k.clone()).or_default().insert(r.epoch, *v);
            }
        }
    }
    evals
        .into_iter()
        .map(|(k, pts)| (k, pts.into_iter().map(|(e, v)| (e as f64, v)).collect()))
        .collect()
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
        "loss",
        &[("loss".into(), loss)],
    )?;
    let series = eval_series(&rows);
    if !series.is_empty() {
        let y = if series.iter().all(|(k, _)| k.ends_with("_acc")) {
            "accuracy"
        } else {
            "value"
        };
        crate::plot::line_chart(
            &dir.join("eval.png"),
            "evaluation (epoch 0 = random init)",
            "epoch",
            y,
            &series,
        )?;
    }
    Ok(())
}
