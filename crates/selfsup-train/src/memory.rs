//! Keeping freed memory for reuse, so that a training step does not page-fault its buffers in again.
//!
//! glibc's `malloc` serves a request above its mmap threshold (at most 32 MiB) with a fresh `mmap` and
//! unmaps it on `free`, and it trims the heap's top back to the OS once more than the trim threshold is
//! free. A training step allocates and frees the same activation and gradient buffers every step, so
//! each step touches fresh pages again: minor page faults and kernel time that PyTorch users usually
//! remove with jemalloc or tcmalloc. [`keep_freed_memory`] turns both off for the process
//! (`M_MMAP_MAX = 0`, `M_TRIM_THRESHOLD = 2 GiB`), so freed blocks stay in the heap and the next step
//! reuses them. The cost is resident memory that is not given back until the process ends (the
//! largest step's working set: +8 % to +28 % peak RSS in the runs of `docs/benchmarks.md`, "Page faults").
//!
//! [`crate::Trainer::new`] calls it when `train.keep_freed_memory` is on (the default). It is a
//! process-wide setting of the C allocator; elsewhere than glibc it does nothing and says so.
#![allow(unsafe_code)] // two libc calls: `mallopt` and `getrusage`, each with its `SAFETY` note

/// Makes glibc's `malloc` keep freed memory for reuse (no `mmap`-served blocks, no heap trimming).
/// Returns whether the allocator accepted both settings (`false` where the C library is not glibc).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes malloc's tunables; any value is accepted or refused (0).
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Minor page faults of the calling thread so far (`getrusage(RUSAGE_THREAD)`); `None` off Linux.
pub fn thread_minor_faults() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `getrusage` writes one `rusage` into the zeroed struct we own.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
        (rc == 0).then_some(u.ru_minflt as u64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
