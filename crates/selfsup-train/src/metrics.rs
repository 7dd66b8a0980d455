//! Run metrics: `metrics.jsonl` (one JSON object per record: `kind`, `step`, `epoch` and the values)
//! and `metrics.csv` (long format `kind,step,epoch,name,value`, one row per value), appended as the run
//! goes; on resume, records after the checkpoint's step are dropped so the files read as one clean run.
//! [`plot_run`] draws `loss.png` (training loss per step) and `eval.png` (evaluation values per epoch)
//! from the files; during a run, [`MetricsWriter::plot`] draws them from what the writer has seen,
//! without reading the files again: the loss curve is kept as at most [`PLOT_POINTS`]·2 points (pairs
//! of neighbouring points are averaged when it fills up), so memory and plotting time stay bounded
//! however long the run.
//!
//! Records: `train` rows (every `log_every` steps: `loss`, `lr`, `grad_norm`, `samples_per_sec`, the
//! method's scalars) and `epoch` rows (end of each epoch: `epoch_loss` and the evaluation's values).
//! Both number epochs from 1: a `train` row's `epoch` is the epoch its step belongs to, an `epoch`
//! row's the epoch it ends, so the first epoch's steps and its end are all `epoch = 1`; `epoch = 0`
//! is before training. `step` counts the optimizer steps done. Callers may add `eval` rows (the CLI: `knn_acc`, `linear_probe_acc` at epoch 0
//! for the random initialisation and at the last epoch). Accuracies are fractions in `[0, 1]`,
//! losses in nats, `lr` per step, `samples_per_sec` wall-clock.
//!
//! Every record also goes to the TensorBoard event file [`crate::tensorboard::EVENTS_FILE`] in the
//! same folder, one scalar per value tagged `<kind>/<name>` (`train/loss`, `train/lr`,
//! `epoch/knn_acc`, `eval/linear_probe_acc`, ...) at the record's step; a resume rewrites it from the
//! records it keeps.

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
    /// Epoch, from 1 (the epoch of a `train` row's step, the epoch an `epoch` row ends); 0 before
    /// training.
    pub epoch: u64,
    /// The values.
    pub values: BTreeMap<String, f64>,
}

/// The loss curve of [`MetricsWriter::plot`] keeps between this many and twice as many points.
pub const PLOT_POINTS: usize = 2048;

/// A curve kept at bounded size: each point is the mean of `stride` consecutive inputs, and when
/// `2·cap` points are held, neighbouring pairs are merged and the stride doubles.
#[derive(Clone, Debug)]
pub struct Downsampled {
    cap: usize,
    stride: usize,
    points: Vec<(f64, f64)>,
    pending: (f64, f64, usize),
}

impl Downsampled {
    /// An empty curve of at most `2·cap` points (`cap` ≥ 1).
    pub fn new(cap: usize) -> Self {
        Downsampled {
            cap: cap.max(1),
            stride: 1,
            points: Vec::new(),
            pending: (0.0, 0.0, 0),
        }
    }

    /// Adds one point.
    pub fn push(&mut self, x: f64, y: f64) {
        let p = &mut self.pending;
        p.0 += x;
        p.1 += y;
        p.2 += 1;
        if p.2 == self.stride {
            let n = p.2 as f64;
            self.points.push((p.0 / n, p.1 / n));
            self.pending = (0.0, 0.0, 0);
            if self.points.len() >= 2 * self.cap {
                self.points = self
                    .points
                    .chunks(2)
                    .map(|c| {
                        let n = c.len() as f64;
                        (
                            c.iter().map(|p| p.0).sum::<f64>() / n,
                            c.iter().map(|p| p.1).sum::<f64>() / n,
                        )
                    })
                    .collect();
                self.stride *= 2;
            }
        }
    }

    /// The points (the last one the mean of the inputs since the last full stride).
    pub fn points(&self) -> Vec<(f64, f64)> {
        let mut v = self.points.clone();
        let p = self.pending;
        if p.2 > 0 {
            v.push((p.0 / p.2 as f64, p.1 / p.2 as f64));
        }
        v
    }
}

/// Appends records to the run folder's metric files.
#[derive(Debug)]
pub struct MetricsWriter {
    jsonl: PathBuf,
    csv: PathBuf,
    loss: Downsampled,
    evals: BTreeMap<String, Vec<(f64, f64)>>,
    events: crate::tensorboard::EventWriter,
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
        // The records kept from before the resume, read once.
        let kept: Vec<(String, u64, u64, Vec<(String, f64)>)> = match keep_upto {
            Some(_) => read_jsonl(&jsonl)?
                .into_iter()
                .map(|r| (r.kind, r.step, r.epoch, r.values.into_iter().collect()))
                .collect(),
            None => Vec::new(),
        };
        // The TensorBoard file is rewritten from the kept records (one file, no orphaned steps).
        let events = crate::tensorboard::EventWriter::create(
            dir,
            &kept
                .iter()
                .map(|(k, s, _, v)| (k.clone(), *s, v.clone()))
                .collect::<Vec<_>>(),
        )?;
        let mut w = MetricsWriter {
            jsonl,
            csv,
            loss: Downsampled::new(PLOT_POINTS),
            evals: BTreeMap::new(),
            events,
        };
        for (kind, step, epoch, vals) in &kept {
            w.remember(kind, *step, *epoch, vals);
        }
        Ok(w)
    }

    fn remember(&mut self, kind: &str, step: u64, epoch: u64, values: &[(String, f64)]) {
        for (k, v) in values {
            match kind {
                "train" if k == "loss" => self.loss.push(step as f64, *v),
                "epoch" | "eval" if k != "epoch_loss" => {
                    self.evals
                        .entry(k.clone())
                        .or_default()
                        .push((epoch as f64, *v));
                }
                _ => {}
            }
        }
    }

    /// Draws `loss.png` and (when evaluations were logged) `eval.png` into `dir` from the records
    /// this writer has logged or kept, without reading the files.
    pub fn plot(&self, dir: &Path) -> Result<()> {
        let series: Vec<_> = self.evals.clone().into_iter().collect();
        draw(dir, &[("loss".into(), self.loss.points())], &series)
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
        append(&self.csv, &rows)?;
        self.events.log(kind, step, values)?;
        self.remember(kind, step, epoch, values);
        Ok(())
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
    draw(dir, &[("loss".into(), loss)], &eval_series(&rows))
}

/// Draws `loss.png` from `loss` and, when there are evaluations, `eval.png` from `series`.
fn draw(
    dir: &Path,
    loss: &[(String, Vec<(f64, f64)>)],
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    crate::plot::line_chart(&dir.join("loss.png"), "training loss", "step", "loss", loss)?;
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
            series,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_curve_stays_bounded_and_keeps_its_mean() {
        let mut d = Downsampled::new(8);
        let n = 100_000usize;
        for i in 0..n {
            d.push(i as f64, 3.0 * i as f64);
        }
        let pts = d.points();
        assert!((8..=16).contains(&pts.len()), "{} points", pts.len());
        // Every point is the mean of a run of consecutive inputs: x increasing, y = 3x, and the
        // full strides are equally spaced.
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0));
        for p in &pts {
            assert!(
                (p.1 - 3.0 * p.0).abs() <= 1e-9 * p.1.abs().max(1.0),
                "{p:?}"
            );
        }
        let gap = pts[1].0 - pts[0].0;
        assert!(gap >= (n / 16) as f64, "stride {gap}");
        for w in pts[..pts.len() - 1].windows(2) {
            assert_eq!(w[1].0 - w[0].0, gap);
        }
        // A short curve is kept as it is.
        let mut s = Downsampled::new(8);
        for i in 0..5 {
            s.push(i as f64, 2.0 * i as f64);
        }
        assert_eq!(
            s.points(),
            (0..5)
                .map(|i| (i as f64, 2.0 * i as f64))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_writer_plots_from_memory_and_a_resume_keeps_the_earlier_curve() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = MetricsWriter::open(dir.path(), None).unwrap();
        for s in 1..=6u64 {
            w.log("train", s, 0, &[("loss".into(), 10.0 - s as f64)])
                .unwrap();
        }
        w.log(
            "epoch",
            6,
            1,
            &[("epoch_loss".into(), 6.5), ("knn_acc".into(), 0.5)],
        )
        .unwrap();
        assert_eq!(w.loss.points().len(), 6);
        w.plot(dir.path()).unwrap();
        assert!(dir.path().join("loss.png").exists() && dir.path().join("eval.png").exists());
        // Resumed at step 4: the records up to step 4 come back into the curve, the rest is dropped.
        let w2 = MetricsWriter::open(dir.path(), Some(4)).unwrap();
        assert_eq!(
            w2.loss.points(),
            (1..=4)
                .map(|s| (s as f64, 10.0 - s as f64))
                .collect::<Vec<_>>()
        );
        assert!(w2.evals.is_empty());
    }
}
