//! The trained encoder as a TorchScript module (`encoder.pt`), for PyTorch users who load it with
//! `torch.jit.load` without knowing our architectures.
//!
//! [`trace_encoder`] traces [`Method::embed`] (eval mode: BatchNorm uses its running statistics,
//! dropout is off; no gradient) on an example batch with libtorch's tracer
//! (`tch::CModule::create_by_tracing`, what `torch.jit.trace` does in Python). The weights become
//! constants of the traced graph: the module computes features and is not meant for fine-tuning
//! (`encoder.safetensors` holds the weights by name for that). Like any trace, the graph is the one
//! the example's *shape* took: the batch size is free, while the sample shape (image side, channels,
//! spectrogram frames) is the run's; every trace is checked against `embed` on a batch of another
//! size before it is returned, so a shape-dependent branch frozen by the trace is an error, not a
//! silently wrong module.
//!
//! [`save_torchscript`] writes it atomically (temporary file, rename), like the checkpoints.

use crate::{checkpoint, Error, Result};
use selfsup_nn::{InputSpec, Method};
use std::path::Path;
use tch::{CModule, Device, Kind, Tensor};

/// The largest absolute difference allowed between the traced module and [`Method::embed`] in the
/// check that follows every trace (both run the same libtorch kernels; the margin covers kernels that
/// split reductions differently for another batch size).
pub const TRACE_CHECK_TOLERANCE: f64 = 1e-4;

/// A deterministic example batch of `batch` samples of `input`'s shape on `device`: floats in
/// `[0, 1)` for images and spectrograms (from a fixed-seed generator, not libtorch's global one), token
/// ids below the vocabulary for token inputs.
pub fn example_input(input: &InputSpec, batch: i64, device: Device) -> Tensor {
    let mut shape = vec![batch];
    shape.extend_from_slice(&input.shape);
    let n: i64 = shape.iter().product();
    // A small LCG keyed by the position: the same example on every machine and thread count.
    let vals: Vec<f32> = (0..n as u64)
        .map(|i| {
            let x = i
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 40) as f32) / ((1u64 << 24) as f32)
        })
        .collect();
    let t = Tensor::from_slice(&vals).reshape(&shape).to_device(device);
    match input.vocab_size {
        Some(v) => (t * v as f64).to_kind(Kind::Int64).clamp(0, v - 1),
        None => t,
    }
}

/// Restores each variable's `requires_grad` when dropped (tracing needs them off: libtorch's tracer
/// refuses to bake a tensor that requires grad into the graph as a constant).
struct GradFlags(Vec<(Tensor, bool)>);

impl Drop for GradFlags {
    fn drop(&mut self) {
        for (t, rg) in &self.0 {
            let _ = t.set_requires_grad(*rg);
        }
    }
}

/// Traces `method`'s [`Method::embed`] on `example` (`N × sample shape`) into a TorchScript module
/// whose `forward(x)` returns the features, serialises it and reads it back (so the module returned is
/// what a file holds, independent of the method's tensors), then checks it against `embed` on a batch
/// of `N + 1` samples (error when they differ by more than [`TRACE_CHECK_TOLERANCE`]).
pub fn trace_encoder(method: &dyn Method, example: &Tensor) -> Result<CModule> {
    let flags = GradFlags(
        method
            .var_store()
            .variables()
            .into_values()
            .map(|t| {
                let rg = t.requires_grad();
                let _ = t.set_requires_grad(false);
                (t, rg)
            })
            .collect(),
    );
    let mut failure: Option<Error> = None;
    let module = CModule::create_by_tracing(
        "SelfsupEncoder",
        "forward",
        std::slice::from_ref(example),
        &mut |xs: &[Tensor]| match method.embed(&xs[0]) {
            Ok(f) => vec![f],
            Err(e) => {
                failure = Some(e.into());
                vec![xs[0].shallow_clone()]
            }
        },
    );
    if let Some(e) = failure {
        return Err(e);
    }
    // The graph holds the method's own tensors as constants: written out while they do not require
    // grad (libtorch refuses to load a constant that does), and read back as an independent copy.
    let traced = module?;
    static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let staging = std::env::temp_dir().join(format!(
        "selfsup-trace-{}-{}.pt",
        std::process::id(),
        SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let bytes = traced
        .save(&staging)
        .map_err(Error::from)
        .and_then(|_| std::fs::read(&staging).map_err(|e| Error::io(&staging, e)));
    let _ = std::fs::remove_file(&staging);
    drop(flags);
    drop(traced);
    let mut module = CModule::load_data(&mut std::io::Cursor::new(bytes?))?;
    module.f_set_eval()?;
    // The check: another batch size, other values.
    let sizes = example.size();
    let mut spec = InputSpec {
        shape: sizes[1..].to_vec(),
        vocab_size: None,
    };
    if example.kind() == Kind::Int64 {
        spec.vocab_size = Some(i64::try_from(example.max())? + 1);
    }
    let other = example_input(&spec, sizes[0] + 1, example.device());
    let other = if other.kind() == Kind::Int64 {
        other.flip([0])
    } else {
        other.flip([0]) * 0.5 + 0.25
    };
    let want = method.embed(&other)?;
    let got = tch::no_grad(|| module.forward_ts(&[&other]))?;
    if got.size() != want.size() {
        return Err(Error::Core(selfsup_core::Error::config(
            "export.torchscript",
            format!(
                "the traced encoder returned shape {:?} for a batch of {}, `embed` {:?}: the encoder depends on the batch size, which a trace cannot follow",
                got.size(),
                sizes[0] + 1,
                want.size()
            ),
        )));
    }
    let diff = if want.numel() == 0 {
        0.0
    } else {
        f64::try_from((got - &want).abs().max())?
    };
    if diff.is_nan() || diff > TRACE_CHECK_TOLERANCE {
        return Err(Error::Core(selfsup_core::Error::config(
            "export.torchscript",
            format!(
                "the traced encoder differs from `embed` by {diff:.3e} (allowed {TRACE_CHECK_TOLERANCE:e}) on a batch of {}: the encoder takes a shape-dependent branch that a trace cannot follow",
                sizes[0] + 1
            ),
        )));
    }
    Ok(module)
}

/// Traces the encoder ([`trace_encoder`] on [`example_input`] of 2 samples of `input`) and writes it
/// to `path` atomically. Returns the traced module.
pub fn save_torchscript(method: &dyn Method, input: &InputSpec, path: &Path) -> Result<CModule> {
    let device = method
        .var_store()
        .variables()
        .values()
        .next()
        .map_or(Device::Cpu, |t| t.device());
    let module = trace_encoder(method, &example_input(input, 2, device))?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| Error::ckpt(path, "not a file path"))?
        .to_string_lossy()
        .to_string();
    // libtorch writes the archive to a file; `write_atomic` then puts those bytes in place.
    let staging = dir.join(format!(".{name}.tmp-{}-trace", std::process::id()));
    let saved = module
        .save(&staging)
        .map_err(Error::from)
        .and_then(|_| std::fs::read(&staging).map_err(|e| Error::io(&staging, e)));
    let _ = std::fs::remove_file(&staging);
    checkpoint::write_atomic(path, &saved?)?;
    Ok(module)
}
