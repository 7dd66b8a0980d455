//! `selfsup doctor`: what libtorch this binary runs on, what it can do, and where the vendored data
//! is found.

use anyhow::Result;
use std::io::Write;

/// Prints the libtorch report to stdout.
pub fn run() -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "selfsup {}", env!("CARGO_PKG_VERSION"))?;
    let lib = loaded_libtorch().unwrap_or_else(|| "(not found in /proc/self/maps)".into());
    writeln!(out, "libtorch library : {lib}")?;
    let version_file = std::path::Path::new(&lib)
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("build-version"));
    let version = version_file
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string());
    writeln!(
        out,
        "libtorch version : {}",
        version
            .as_deref()
            .unwrap_or("unknown (no build-version file)")
    )?;
    writeln!(out, "intra-op threads : {}", tch::get_num_threads())?;
    writeln!(out, "inter-op threads : {}", tch::get_num_interop_threads())?;
    let cuda = tch::Cuda::is_available();
    writeln!(
        out,
        "CUDA available   : {cuda} ({} device(s), cuDNN {})",
        tch::Cuda::device_count(),
        tch::Cuda::cudnn_is_available()
    )?;
    writeln!(out, "MKL-DNN / oneDNN : {}", tch::utils::has_mkldnn())?;
    let data = crate::config::find_data_dir();
    writeln!(
        out,
        "vendored data    : {}",
        data.map_or_else(
            || "not found (pass --data, or set SELFSUP_DATA)".to_string(),
            |d| d.display().to_string()
        )
    )?;
    // A real computation, so that a broken install fails here rather than in the middle of training.
    let t = tch::Tensor::from_slice(&[1.0f32, 2.0, 3.0]);
    let s = (&t * &t).sum(tch::Kind::Float).double_value(&[]);
    anyhow::ensure!(
        (s - 14.0).abs() < 1e-6,
        "libtorch computed 1²+2²+3² = {s}, expected 14"
    );
    writeln!(out, "tensor check     : ok (1²+2²+3² = {s})")?;
    Ok(())
}

/// The path of the libtorch_cpu library this process mapped.
fn loaded_libtorch() -> Option<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("libtorch_cpu"))
        .map(|s| s.to_string())
}
