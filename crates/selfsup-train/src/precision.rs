//! Mixed precision on the CPU: [`AutocastGuard`], the RAII form of PyTorch's
//! `torch.autocast("cpu", dtype=torch.bfloat16)`.
//!
//! While a guard lives, the ops on libtorch's CPU autocast lists run in the reduced type on the
//! calling thread (convolutions, matmuls and linear layers in bf16; losses, norms and softmaxes in
//! fp32 by libtorch's own lists); parameters stay fp32, their bf16 casts are cached for the guard's
//! lifetime, and gradients flow back to the fp32 parameters. Dropping the guard restores the state
//! it found, so guards nest. tch 0.26 only reaches the CUDA autocast flag, so this calls the small
//! C++ shim `shim/autocast_shim.cpp` (built by `build.rs`), which does what `autocast.__enter__` and
//! `__exit__` do. This file holds the crate's only `unsafe`: calls that pass a pointer to a Rust
//! struct living for the call.
//!
//! The trainer wraps the forward pass and loss of each training step in a guard when
//! `train.precision = "bf16"` ([`crate::config::Precision`]); backward, the optimizer and
//! evaluation run outside it.
#![allow(unsafe_code)]

use crate::config::Precision;
use crate::Result;
use std::marker::PhantomData;
use tch::{Device, Kind};

mod ffi {
    use std::ffi::c_int;

    /// The CPU autocast state of one thread (`selfsup_autocast_state` in the shim).
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    pub struct State {
        pub enabled: bool,
        pub dtype: i8,
        pub cache_enabled: bool,
    }

    extern "C" {
        pub fn selfsup_autocast_cpu_state(out: *mut State) -> c_int;
        pub fn selfsup_autocast_cpu_enter(enabled: bool, dtype: i8, prev: *mut State) -> c_int;
        pub fn selfsup_autocast_cpu_exit(prev: *const State) -> c_int;
    }
}

/// c10's `ScalarType` codes of the reduced types CPU autocast supports.
fn scalar_type(kind: Kind) -> Result<i8> {
    match kind {
        Kind::BFloat16 => Ok(15),
        Kind::Half => Ok(5),
        other => Err(selfsup_core::Error::Other(format!(
            "CPU autocast casts to BFloat16 or Half, not {other:?}"
        ))
        .into()),
    }
}

fn shim_error(what: &str) -> crate::Error {
    selfsup_core::Error::Other(format!("libtorch CPU autocast: {what} failed")).into()
}

/// CPU autocast on the calling thread while it lives; dropping it restores the previous state
/// (enabled flag, dtype, cast cache) and, when it was the outermost guard, clears the cache of
/// cast weights. Not `Send`: libtorch's autocast state is per thread.
#[must_use = "autocast ends when the guard is dropped"]
pub struct AutocastGuard {
    prev: ffi::State,
    _thread_bound: PhantomData<*const ()>,
}

impl AutocastGuard {
    /// Enables CPU autocast to `kind` (`Kind::BFloat16` or `Kind::Half`).
    pub fn cpu(kind: Kind) -> Result<Self> {
        Self::enter(true, scalar_type(kind)?)
    }

    /// Disables CPU autocast inside an enclosing guard (`torch.autocast("cpu", enabled=False)`).
    pub fn cpu_disabled() -> Result<Self> {
        Self::enter(false, cpu_state()?.dtype)
    }

    fn enter(enabled: bool, dtype: i8) -> Result<Self> {
        let mut prev = ffi::State::default();
        // SAFETY: `prev` is a live `#[repr(C)]` struct matching the shim's; the shim only writes it.
        let rc = unsafe { ffi::selfsup_autocast_cpu_enter(enabled, dtype, &mut prev) };
        if rc != 0 {
            return Err(shim_error("enter"));
        }
        Ok(AutocastGuard {
            prev,
            _thread_bound: PhantomData,
        })
    }
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        // SAFETY: `self.prev` is a live `#[repr(C)]` struct; the shim only reads it.
        let rc = unsafe { ffi::selfsup_autocast_cpu_exit(&self.prev) };
        if rc != 0 {
            tracing::error!("libtorch CPU autocast: leaving the autocast region failed");
        }
    }
}

fn cpu_state() -> Result<ffi::State> {
    let mut s = ffi::State::default();
    // SAFETY: as in `AutocastGuard::enter`.
    if unsafe { ffi::selfsup_autocast_cpu_state(&mut s) } != 0 {
        return Err(shim_error("reading the state"));
    }
    Ok(s)
}

/// Whether CPU autocast is on for the calling thread (`torch.is_autocast_enabled("cpu")`).
pub fn cpu_autocast_enabled() -> Result<bool> {
    Ok(cpu_state()?.enabled)
}

/// A guard for a training step at `precision` on `device`: `None` for fp32, bf16 CPU autocast for
/// [`Precision::Bf16`] (which `TrainConfig::validate` allows on the CPU only).
pub fn step_guard(precision: Precision, device: Device) -> Result<Option<AutocastGuard>> {
    match (precision, device) {
        (Precision::Fp32, _) => Ok(None),
        (Precision::Bf16, Device::Cpu) => AutocastGuard::cpu(Kind::BFloat16).map(Some),
        (Precision::Bf16, d) => Err(selfsup_core::Error::config(
            "train.precision",
            format!("bf16 autocast is implemented for the CPU only, not {d:?}"),
        )
        .into()),
    }
}

/// Whether this CPU computes bf16 natively: `/proc/cpuinfo` lists `avx512_bf16` or `amx_bf16`
/// (Zen 4, Sapphire Rapids and later). Without them bf16 autocast still works, but slowly.
pub fn cpu_has_native_bf16() -> bool {
    std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|s| cpuinfo_has_bf16(&s))
}

fn cpuinfo_has_bf16(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .flat_map(str::split_whitespace)
        .any(|f| f == "avx512_bf16" || f == "amx_bf16")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_flags_are_read_from_the_flags_line() {
        assert!(cpuinfo_has_bf16(
            "model name\t: x\nflags\t\t: fpu avx512f avx512_bf16\n"
        ));
        assert!(cpuinfo_has_bf16("flags\t\t: fpu amx_bf16 amx_tile\n"));
        assert!(!cpuinfo_has_bf16(
            "flags\t\t: fpu avx512f\nbugs\t: avx512_bf16\n"
        ));
    }

    #[test]
    fn only_reduced_float_types_are_accepted() {
        assert!(AutocastGuard::cpu(Kind::Float).is_err());
        assert!(AutocastGuard::cpu(Kind::Int64).is_err());
    }
}
