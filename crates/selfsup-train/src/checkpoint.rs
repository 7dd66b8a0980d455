//! Checkpoints: one safetensors file per checkpoint, written atomically.
//!
//! A checkpoint file `ckpt-step{step:010}.safetensors` in the run's `checkpoints/` folder holds
//! - `model/{name}`: every variable of the method's `VarStore` (weights, BN statistics, EMA targets,
//!   queues), bit-exact;
//! - `optim/{param}/{buffer}`: the optimizer state (see [`crate::optim`]);
//! - metadata `selfsup.run_state`: the [`RunState`] as JSON (step, epoch, position in the epoch, seed,
//!   best monitored value, the resolved train config and the caller's run config).
//!
//! Writing goes to a hidden temporary file in the same folder, which is flushed and `fsync`ed, then
//! renamed over the final name, and the folder is `fsync`ed: a crash at any point leaves either the old
//! set of checkpoints or the old set plus a complete new one, never a truncated file under a final
//! name. Loading the latest checkpoint still skips (with a warning) any file that fails to parse, so a
//! file damaged later by other means does not block resuming from the one before.
//!
//! `best.safetensors` is the checkpoint with the best monitored value, written the same way.

use crate::config::TrainConfig;
use crate::optim::Optimizer;
use crate::{Error, Result};
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Metadata key of the run state.
pub const STATE_KEY: &str = "selfsup.run_state";
/// Version of the checkpoint layout.
pub const FORMAT_VERSION: u32 = 1;

/// Where a run stands, as saved in a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// Optimizer steps completed.
    pub step: u64,
    /// The epoch the next step belongs to.
    pub epoch: u64,
    /// Steps already completed within `epoch`.
    pub step_in_epoch: u64,
    /// The run seed.
    pub seed: u64,
    /// The method's name.
    pub method: String,
    /// Best monitored value so far and its name (higher is better for accuracies, lower for losses).
    pub best: Option<(String, f64)>,
    /// The resolved train config.
    pub train: TrainConfig,
    /// The caller's resolved run config (dataset, method, backbone, ...), as JSON.
    pub extra: serde_json::Value,
}

/// A checkpoint read from disk.
#[derive(Debug)]
pub struct Checkpoint {
    /// The file it came from.
    pub path: PathBuf,
    /// The run state.
    pub state: RunState,
    /// `VarStore` variables by name.
    pub model: HashMap<String, Tensor>,
    /// Optimizer state by `param/buffer`.
    pub optim: HashMap<String, Tensor>,
    /// Everything else (e.g. the online probe under `probe/`), by full name.
    pub other: HashMap<String, Tensor>,
}

impl Checkpoint {
    /// Copies the weights into `vs` (every variable of `vs` must be present with the same shape) and
    /// the optimizer state into `opt`.
    pub fn restore(&self, vs: &mut VarStore, opt: Option<&mut Optimizer>) -> Result<()> {
        load_into_var_store(&self.path, &self.model, vs)?;
        if let Some(opt) = opt {
            let st: HashMap<String, Tensor> = self
                .optim
                .iter()
                .map(|(k, v)| (k.clone(), v.shallow_clone()))
                .collect();
            opt.load_state(st, self.state.step)
                .map_err(|e| Error::ckpt(&self.path, e.to_string()))?;
        }
        Ok(())
    }
}

/// Copies `tensors` into the variables of `vs` by name.
pub fn load_into_var_store(
    path: &Path,
    tensors: &HashMap<String, Tensor>,
    vs: &mut VarStore,
) -> Result<()> {
    let vars = vs.variables();
    for (name, var) in &vars {
        let Some(src) = tensors.get(name) else {
            return Err(Error::ckpt(
                path,
                format!("the model has variable `{name}`, which the checkpoint lacks"),
            ));
        };
        if src.size() != var.size() {
            return Err(Error::ckpt(
                path,
                format!(
                    "variable `{name}` has shape {:?} in the checkpoint, {:?} in the model",
                    src.size(),
                    var.size()
                ),
            ));
        }
        tch::no_grad(|| -> Result<()> {
            let mut v = var.shallow_clone();
            v.f_copy_(&src.f_to_kind(var.kind())?.f_to_device(var.device())?)?;
            Ok(())
        })?;
    }
    Ok(())
}

fn dtype_of(kind: Kind) -> Option<Dtype> {
    Some(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Uint8 => Dtype::U8,
        Kind::Bool => Dtype::BOOL,
        Kind::Half => Dtype::F16,
        Kind::BFloat16 => Dtype::BF16,
        _ => return None,
    })
}

fn kind_of(d: Dtype) -> Option<Kind> {
    Some(match d {
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::I64 => Kind::Int64,
        Dtype::I32 => Kind::Int,
        Dtype::U8 => Kind::Uint8,
        Dtype::BOOL => Kind::Bool,
        Dtype::F16 => Kind::Half,
        Dtype::BF16 => Kind::BFloat16,
        _ => return None,
    })
}

/// One tensor's bytes, ready for safetensors.
pub struct OwnedTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl OwnedTensor {
    /// Copies `t` (any device) to host bytes.
    pub fn from_tensor(name: &str, t: &Tensor) -> Result<Self> {
        let t = t.f_detach()?.f_to_device(Device::Cpu)?.f_contiguous()?;
        let dtype = dtype_of(t.kind()).ok_or_else(|| {
            Error::Core(selfsup_core::Error::Other(format!(
                "tensor `{name}` has kind {:?}, which safetensors export does not support",
                t.kind()
            )))
        })?;
        let numel = t.numel();
        let mut data = vec![0u8; numel * t.kind().elt_size_in_bytes()];
        if numel > 0 {
            t.f_copy_data_u8(&mut data, numel)?;
        }
        Ok(OwnedTensor {
            dtype,
            shape: t.size().iter().map(|&d| d as usize).collect(),
            data,
        })
    }
}

impl safetensors::View for &OwnedTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Serialises named tensors (+ metadata) to safetensors bytes.
pub fn to_safetensors_bytes(
    tensors: &[(String, OwnedTensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let err = |e: String| Error::Core(selfsup_core::Error::Other(e));
    let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), &metadata)
        .map_err(|e| err(format!("cannot serialise safetensors: {e}")))?;
    canonical_header(bytes).map_err(err)
}

/// Rewrites a safetensors file's JSON header with its keys sorted (metadata included), so that the
/// same tensors and metadata always give the same bytes: `safetensors::serialize` writes the metadata
/// `HashMap` in its per-process random order. The data section does not move (offsets are relative
/// to it); the header is padded with spaces to 8 bytes, as the format asks.
fn canonical_header(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let bad = || "safetensors header out of range".to_string();
    let n = u64::from_le_bytes(
        bytes
            .get(..8)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    );
    let end = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(8))
        .ok_or_else(bad)?;
    let header: serde_json::Value =
        serde_json::from_slice(bytes.get(8..end).ok_or_else(bad)?).map_err(|e| e.to_string())?;
    let mut h = serde_json::to_vec(&sorted(header)).map_err(|e| e.to_string())?;
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + bytes.len() - end);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&bytes[end..]);
    Ok(out)
}

/// `v` with every object's keys in sorted order (whatever map serde_json is built with).
fn sorted(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<_> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

/// Writes named tensors to a safetensors file atomically.
pub fn save_safetensors(
    path: &Path,
    tensors: &[(String, Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let owned = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), OwnedTensor::from_tensor(n, t)?)))
        .collect::<Result<Vec<_>>>()?;
    write_atomic(path, &to_safetensors_bytes(&owned, metadata)?)
}

/// Reads every tensor of a safetensors file (on the CPU) and its metadata.
pub fn load_safetensors(path: &Path) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::ckpt(path, format!("not a readable safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|e| Error::ckpt(path, format!("not a readable safetensors file: {e}")))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let kind = kind_of(view.dtype()).ok_or_else(|| {
            Error::ckpt(
                path,
                format!("tensor `{name}` has unsupported dtype {:?}", view.dtype()),
            )
        })?;
        let shape: Vec<i64> = safetensors::View::shape(&view)
            .iter()
            .map(|&d| d as i64)
            .collect();
        let t = Tensor::f_from_data_size(view.data(), &shape, kind)?;
        out.insert(name, t);
    }
    Ok((out, meta.metadata().clone().unwrap_or_default()))
}

/// Writes `bytes` to `path` atomically: temporary file in the same folder, flush, fsync, rename,
/// fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_impl(path, bytes, None)
}

/// [`write_atomic`] that fails after writing `fail_after` bytes, leaving the temporary file behind as a
/// crash would. For tests of crash safety only.
#[doc(hidden)]
pub fn write_atomic_interrupted(path: &Path, bytes: &[u8], fail_after: usize) -> Result<()> {
    write_atomic_impl(path, bytes, Some(fail_after))
}

fn write_atomic_impl(path: &Path, bytes: &[u8], fail_after: Option<usize>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let fname = path
        .file_name()
        .ok_or_else(|| Error::ckpt(path, "not a file path"))?
        .to_string_lossy()
        .to_string();
    let tmp = dir.join(format!(".{fname}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    if let Some(n) = fail_after {
        let n = n.min(bytes.len());
        f.write_all(&bytes[..n]).map_err(|e| Error::io(&tmp, e))?;
        let _ = f.sync_all();
        return Err(Error::io(
            &tmp,
            std::io::Error::other("write interrupted (simulated crash)"),
        ));
    }
    let (mut first, mut done) = (Ok(()), 0);
    if let Some(d) = write_delay() {
        // Fault injection only: half the bytes, then a pause, so that a test can kill the process
        // while the temporary file is partly written.
        done = bytes.len() / 2;
        first = f.write_all(&bytes[..done]).and_then(|_| f.sync_all());
        std::thread::sleep(d);
    }
    // A failed write (a full or read-only disk) removes its temporary file.
    let written = first
        .and_then(|_| f.write_all(&bytes[done..]))
        .and_then(|_| f.flush())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, e));
    drop(f);
    if let Err(e) =
        written.and_then(|_| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)))
    {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The pause inside every atomic write, from `SELFSUP_FAULT_WRITE_DELAY_MS` (unset: none). For the
/// fault-injection tests, which kill the process while a temporary file is half written.
fn write_delay() -> Option<std::time::Duration> {
    static DELAY: std::sync::OnceLock<Option<std::time::Duration>> = std::sync::OnceLock::new();
    *DELAY.get_or_init(|| {
        std::env::var("SELFSUP_FAULT_WRITE_DELAY_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(std::time::Duration::from_millis)
    })
}

/// Reads a checkpoint file.
pub fn load(path: &Path) -> Result<Checkpoint> {
    let (tensors, meta) = load_safetensors(path)?;
    let state_json = meta.get(STATE_KEY).ok_or_else(|| {
        Error::ckpt(
            path,
            format!("no `{STATE_KEY}` metadata: not a selfsup checkpoint"),
        )
    })?;
    let state: RunState = serde_json::from_str(state_json)
        .map_err(|e| Error::ckpt(path, format!("run state is not readable: {e}")))?;
    if state.format != FORMAT_VERSION {
        return Err(Error::ckpt(
            path,
            format!(
                "checkpoint format {} (this build reads {FORMAT_VERSION})",
                state.format
            ),
        ));
    }
    let mut model = HashMap::new();
    let mut optim = HashMap::new();
    let mut other = HashMap::new();
    for (name, t) in tensors {
        if let Some(n) = name.strip_prefix("model/") {
            model.insert(n.to_string(), t);
        } else if let Some(n) = name.strip_prefix("optim/") {
            optim.insert(n.to_string(), t);
        } else {
            other.insert(name, t);
        }
    }
    Ok(Checkpoint {
        path: path.to_path_buf(),
        state,
        model,
        optim,
        other,
    })
}

/// Writes and prunes the checkpoints of one run folder.
#[derive(Clone, Debug)]
pub struct Checkpointer {
    dir: PathBuf,
    keep_last: usize,
}

impl Checkpointer {
    /// Checkpoints under `dir` (created if needed), keeping the `keep_last` most recent.
    pub fn new(dir: impl Into<PathBuf>, keep_last: usize) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Checkpointer {
            dir,
            keep_last: keep_last.max(1),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file name of the checkpoint after `step` steps.
    pub fn path_for(&self, step: u64) -> PathBuf {
        self.dir.join(format!("ckpt-step{step:010}.safetensors"))
    }

    /// The path of the best checkpoint.
    pub fn best_path(&self) -> PathBuf {
        self.dir.join("best.safetensors")
    }

    /// Serialises a checkpoint (weights, optimizer state, run state, and `extra` tensors stored under
    /// their own names, which must not start with `model/` or `optim/`).
    pub fn encode(
        vs: &VarStore,
        opt: &Optimizer,
        state: &RunState,
        extra: &[(String, Tensor)],
    ) -> Result<Vec<u8>> {
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .map(|(n, t)| (format!("model/{n}"), t))
            .collect();
        named.extend(
            opt.state_tensors()
                .into_iter()
                .map(|(n, t)| (format!("optim/{n}"), t)),
        );
        named.extend(extra.iter().map(|(n, t)| (n.clone(), t.shallow_clone())));
        let owned = named
            .iter()
            .map(|(n, t)| Ok((n.clone(), OwnedTensor::from_tensor(n, t)?)))
            .collect::<Result<Vec<_>>>()?;
        let json = serde_json::to_string(state)
            .map_err(|e| Error::Core(selfsup_core::Error::Other(format!("run state: {e}"))))?;
        let meta = HashMap::from([(STATE_KEY.to_string(), json)]);
        to_safetensors_bytes(&owned, Some(meta))
    }

    /// Writes the checkpoint for `state.step` and removes the oldest beyond `keep_last`.
    pub fn save(
        &self,
        vs: &VarStore,
        opt: &Optimizer,
        state: &RunState,
        extra: &[(String, Tensor)],
    ) -> Result<PathBuf> {
        let path = self.path_for(state.step);
        write_atomic(&path, &Self::encode(vs, opt, state, extra)?)?;
        self.prune()?;
        tracing::debug!(path = %path.display(), "checkpoint written");
        Ok(path)
    }

    /// Writes `best.safetensors`.
    pub fn save_best(
        &self,
        vs: &VarStore,
        opt: &Optimizer,
        state: &RunState,
        extra: &[(String, Tensor)],
    ) -> Result<PathBuf> {
        let path = self.best_path();
        write_atomic(&path, &Self::encode(vs, opt, state, extra)?)?;
        Ok(path)
    }

    /// Whether the run folder `run_dir` holds a checkpoint (a step checkpoint or
    /// `best.safetensors` under `checkpoints/`; temporary files of interrupted writes do not count).
    pub fn any_in(run_dir: &Path) -> bool {
        std::fs::read_dir(run_dir.join("checkpoints")).is_ok_and(|rd| {
            rd.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().to_string();
                n == "best.safetensors"
                    || (n.starts_with("ckpt-step") && n.ends_with(".safetensors"))
            })
        })
    }

    /// The step checkpoints present, oldest first.
    pub fn list(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut out = Vec::new();
        let rd = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for entry in rd.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(step) = name
                .strip_prefix("ckpt-step")
                .and_then(|s| s.strip_suffix(".safetensors"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                out.push((step, entry.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    fn prune(&self) -> Result<()> {
        let list = self.list()?;
        if list.len() > self.keep_last {
            for (_, p) in &list[..list.len() - self.keep_last] {
                std::fs::remove_file(p).map_err(|e| Error::io(p, e))?;
            }
        }
        Ok(())
    }

    /// The newest checkpoint that loads; damaged files are skipped with a warning.
    pub fn latest(&self) -> Result<Option<Checkpoint>> {
        for (_, p) in self.list()?.into_iter().rev() {
            match load(&p) {
                Ok(c) => return Ok(Some(c)),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "skipping unreadable checkpoint")
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_tensors_and_metadata_always_give_the_same_bytes() {
        let x = Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
        let owned = vec![
            ("b".to_string(), OwnedTensor::from_tensor("b", &x).unwrap()),
            ("a".to_string(), OwnedTensor::from_tensor("a", &x).unwrap()),
        ];
        // HashMaps with different random states iterate in different orders.
        let meta = || -> HashMap<String, String> {
            (0..16)
                .map(|i| (format!("key{i}"), format!("v{i}")))
                .collect()
        };
        let first = to_safetensors_bytes(&owned, Some(meta())).unwrap();
        for _ in 0..8 {
            assert_eq!(to_safetensors_bytes(&owned, Some(meta())).unwrap(), first);
        }
        let n = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        // Still a readable file with the metadata and the tensors.
        let (_, m) = SafeTensors::read_metadata(&first).unwrap();
        assert_eq!(m.metadata().as_ref().unwrap().len(), 16);
        let st = SafeTensors::deserialize(&first).unwrap();
        assert_eq!(
            st.tensor("a").unwrap().data(),
            st.tensor("b").unwrap().data()
        );
    }
    use crate::config::OptimizerConfig;
    use tch::nn;

    /// A small model whose weights are a function of `seed` alone (a keyed host generator: no
    /// reseeding of libtorch's global one, which tests running in parallel threads share).
    fn model(seed: i64) -> (VarStore, Optimizer) {
        let mut rng = selfsup_core::Generator::from_domain("checkpoint_tests", &[seed as u64]);
        let vs = VarStore::new(Device::Cpu);
        let _l = selfsup_nn::layers::linear_keyed(vs.root() / "fc", 3, 2, true, &mut rng).unwrap();
        let _b = selfsup_nn::layers::BatchNorm::new(&(vs.root() / "bn"), 2);
        let opt = Optimizer::new(
            &vs,
            &OptimizerConfig {
                kind: crate::OptimizerKind::Sgd,
                ..Default::default()
            },
        )
        .unwrap();
        (vs, opt)
    }

    fn state(step: u64) -> RunState {
        RunState {
            format: FORMAT_VERSION,
            step,
            epoch: 0,
            step_in_epoch: step,
            seed: 7,
            method: "test".into(),
            best: None,
            train: TrainConfig::default(),
            extra: serde_json::json!({"note": "x"}),
        }
    }

    fn weights(vs: &VarStore) -> Vec<(String, Vec<f32>)> {
        let mut v: Vec<_> = vs
            .variables()
            .into_iter()
            .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn a_write_interrupted_part_way_leaves_the_previous_checkpoint_loadable() {
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpointer::new(dir.path(), 3).unwrap();
        let (vs, opt) = model(1);
        let first = ck.save(&vs, &opt, &state(2), &[]).unwrap();
        let (vs2, opt2) = model(2);
        let bytes = Checkpointer::encode(&vs2, &opt2, &state(4), &[]).unwrap();
        // The crash happens half-way through writing the newer checkpoint.
        let err = write_atomic_interrupted(&ck.path_for(4), &bytes, bytes.len() / 2).unwrap_err();
        assert!(err.to_string().contains("interrupted"), "{err}");
        // Nothing appears under the final name; the partial temp file is ignored.
        assert!(!ck.path_for(4).exists());
        let latest = ck.latest().unwrap().unwrap();
        assert_eq!(latest.path, first);
        assert_eq!(latest.state, state(2));
        let (mut vs3, _) = model(3);
        latest.restore(&mut vs3, None).unwrap();
        assert_eq!(weights(&vs3), weights(&vs));
    }

    #[test]
    fn a_damaged_newest_file_falls_back_to_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpointer::new(dir.path(), 3).unwrap();
        let (vs, opt) = model(1);
        ck.save(&vs, &opt, &state(1), &[]).unwrap();
        let p2 = ck.save(&vs, &opt, &state(2), &[]).unwrap();
        let full = std::fs::read(&p2).unwrap();
        std::fs::write(&p2, &full[..full.len() / 3]).unwrap();
        assert_eq!(ck.latest().unwrap().unwrap().state.step, 1);
    }

    #[test]
    fn keeps_only_the_last_n() {
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpointer::new(dir.path(), 2).unwrap();
        let (vs, opt) = model(1);
        for s in 1..=4 {
            ck.save(&vs, &opt, &state(s), &[]).unwrap();
        }
        let steps: Vec<u64> = ck.list().unwrap().into_iter().map(|(s, _)| s).collect();
        assert_eq!(steps, vec![3, 4]);
    }

    #[test]
    fn loading_into_a_different_model_names_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpointer::new(dir.path(), 2).unwrap();
        let (vs, opt) = model(1);
        let p = ck.save(&vs, &opt, &state(1), &[]).unwrap();
        let mut other = VarStore::new(Device::Cpu);
        let _l = nn::linear(other.root() / "head", 3, 2, Default::default());
        let e = load(&p).unwrap().restore(&mut other, None).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("`head.weight`") || msg.contains("`head.bias`"),
            "{msg}"
        );
    }
}
