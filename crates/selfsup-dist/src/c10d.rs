//! Safe Rust over the C++ shim (`shim/c10d_shim.cpp`): c10d stores and a Gloo process group.
//!
//! This file holds the crate's only `unsafe`: the `extern "C"` calls into the shim. Each call passes
//! pointers that live for the duration of the call (tch tensors, which are `at::Tensor*`; C strings
//! owned by Rust) or opaque boxes created by the shim and freed exactly once in `Drop`. The shim
//! catches every C++ exception and returns its message, so every call returns a [`Result`].
#![allow(unsafe_code)]

use crate::{Error, Result};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::time::Duration;
use tch::Tensor;

#[cfg(feature = "c10d")]
mod ffi {
    use std::ffi::{c_char, c_int, c_void};
    extern "C" {
        pub fn ssd_free_string(s: *mut c_char);
        pub fn ssd_file_store_new(
            path: *const c_char,
            world_size: c_int,
            timeout_ms: i64,
            out: *mut *mut c_void,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_tcp_store_new(
            host: *const c_char,
            port: c_int,
            world_size: c_int,
            is_master: c_int,
            timeout_ms: i64,
            out: *mut *mut c_void,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_prefix_store_new(
            prefix: *const c_char,
            store: *mut c_void,
            out: *mut *mut c_void,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_store_free(store: *mut c_void);
        pub fn ssd_store_set(
            store: *mut c_void,
            key: *const c_char,
            data: *const u8,
            len: usize,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_store_get(
            store: *mut c_void,
            key: *const c_char,
            out: *mut *mut u8,
            len: *mut usize,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_store_add(
            store: *mut c_void,
            key: *const c_char,
            value: i64,
            out: *mut i64,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_pg_gloo_new(
            store: *mut c_void,
            rank: c_int,
            size: c_int,
            timeout_ms: i64,
            hostname: *const c_char,
            threads: c_int,
            out: *mut *mut c_void,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_pg_free(pg: *mut c_void);
        pub fn ssd_all_reduce(
            pg: *mut c_void,
            tensor: *mut c_void,
            op: c_int,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_all_reduce_sum_autograd(
            pg: *mut c_void,
            input: *mut c_void,
            out: *mut *mut c_void,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_all_gather(
            pg: *mut c_void,
            input: *mut c_void,
            outputs: *mut *mut c_void,
            n_outputs: c_int,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_broadcast(
            pg: *mut c_void,
            tensor: *mut c_void,
            root: c_int,
            err: *mut *mut c_char,
        ) -> c_int;
        pub fn ssd_barrier(pg: *mut c_void, err: *mut *mut c_char) -> c_int;
    }
}

/// Without the `c10d` feature: the same functions, each failing with an explanation.
#[cfg(not(feature = "c10d"))]
#[allow(clippy::missing_safety_doc)]
mod ffi {
    use std::ffi::{c_char, c_int, c_void, CString};

    const MSG: &str =
        "selfsup-dist was built without the `c10d` feature (the libtorch c10d shim); \
                       rebuild with `--features c10d` after `cargo xtask setup --dist`";

    unsafe fn fail(err: *mut *mut c_char) -> c_int {
        *err = CString::new(MSG).expect("no NUL").into_raw();
        1
    }
    pub unsafe fn ssd_free_string(s: *mut c_char) {
        if !s.is_null() {
            drop(CString::from_raw(s));
        }
    }
    pub unsafe fn ssd_file_store_new(
        _: *const c_char,
        _: c_int,
        _: i64,
        _: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_tcp_store_new(
        _: *const c_char,
        _: c_int,
        _: c_int,
        _: c_int,
        _: i64,
        _: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_prefix_store_new(
        _: *const c_char,
        _: *mut c_void,
        _: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_store_free(_: *mut c_void) {}
    pub unsafe fn ssd_store_set(
        _: *mut c_void,
        _: *const c_char,
        _: *const u8,
        _: usize,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_store_get(
        _: *mut c_void,
        _: *const c_char,
        _: *mut *mut u8,
        _: *mut usize,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_store_add(
        _: *mut c_void,
        _: *const c_char,
        _: i64,
        _: *mut i64,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_pg_gloo_new(
        _: *mut c_void,
        _: c_int,
        _: c_int,
        _: i64,
        _: *const c_char,
        _: c_int,
        _: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_pg_free(_: *mut c_void) {}
    pub unsafe fn ssd_all_reduce(
        _: *mut c_void,
        _: *mut c_void,
        _: c_int,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_all_reduce_sum_autograd(
        _: *mut c_void,
        _: *mut c_void,
        _: *mut *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_all_gather(
        _: *mut c_void,
        _: *mut c_void,
        _: *mut *mut c_void,
        _: c_int,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_broadcast(
        _: *mut c_void,
        _: *mut c_void,
        _: c_int,
        err: *mut *mut c_char,
    ) -> c_int {
        fail(err)
    }
    pub unsafe fn ssd_barrier(_: *mut c_void, err: *mut *mut c_char) -> c_int {
        fail(err)
    }
}

/// Runs one shim call with an error slot and turns a failure into [`Error::Backend`].
fn call(op: &'static str, f: impl FnOnce(*mut *mut c_char) -> c_int) -> Result<()> {
    let mut err: *mut c_char = std::ptr::null_mut();
    let rc = f(&mut err);
    if rc == 0 {
        return Ok(());
    }
    let message = if err.is_null() {
        "unknown error".to_string()
    } else {
        // SAFETY: the shim returns a NUL-terminated malloc'd string that we own and free once.
        let m = unsafe { CStr::from_ptr(err) }
            .to_string_lossy()
            .into_owned();
        unsafe { ffi::ssd_free_string(err) };
        m
    };
    Err(Error::Backend { op, message })
}

fn cstring(field: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::config(field, "must not contain NUL bytes"))
}

fn timeout_ms(t: Duration) -> i64 {
    t.as_millis().clamp(1, i64::MAX as u128) as i64
}

fn tensor_ptr(t: &Tensor) -> *mut c_void {
    t.as_ptr() as *mut c_void
}

/// A c10d key-value store, the rendezvous of a process group: [`Store::file`] for one machine (or a
/// shared file system), [`Store::tcp`] for several (rank 0 hosts the server).
pub struct Store {
    ptr: *mut c_void,
}

// SAFETY: c10d stores are thread-safe (FileStore locks its file, TCPStore its socket).
unsafe impl Send for Store {}
unsafe impl Sync for Store {}

impl Store {
    /// c10d's `FileStore` at `path` shared by `world_size` processes; the file is removed when the
    /// last of them drops its store. Operations wait at most `timeout`.
    pub fn file(path: impl AsRef<Path>, world_size: usize, timeout: Duration) -> Result<Store> {
        let p = cstring("store.path", &path.as_ref().to_string_lossy())?;
        let mut out = std::ptr::null_mut();
        // SAFETY: `p` outlives the call; `out` receives a box freed in Drop.
        call("FileStore", |err| unsafe {
            ffi::ssd_file_store_new(
                p.as_ptr(),
                world_size as c_int,
                timeout_ms(timeout),
                &mut out,
                err,
            )
        })?;
        Ok(Store { ptr: out })
    }

    /// c10d's `TCPStore` at `host:port`: the master (rank 0) listens and waits for `world_size`
    /// clients (itself included) up to `timeout`; the others connect.
    pub fn tcp(
        host: &str,
        port: u16,
        world_size: usize,
        is_master: bool,
        timeout: Duration,
    ) -> Result<Store> {
        let h = cstring("MASTER_ADDR", host)?;
        let mut out = std::ptr::null_mut();
        // SAFETY: as in `file`.
        call("TCPStore", |err| unsafe {
            ffi::ssd_tcp_store_new(
                h.as_ptr(),
                port as c_int,
                world_size as c_int,
                is_master as c_int,
                timeout_ms(timeout),
                &mut out,
                err,
            )
        })?;
        Ok(Store { ptr: out })
    }

    /// A view of this store whose keys are prefixed by `prefix/` (c10d's `PrefixStore`), so that
    /// several process groups can rendezvous on one store.
    pub fn prefixed(&self, prefix: &str) -> Result<Store> {
        let p = cstring("prefix", prefix)?;
        let mut out = std::ptr::null_mut();
        // SAFETY: `self.ptr` is a live store box; the new box holds its own reference.
        call("PrefixStore", |err| unsafe {
            ffi::ssd_prefix_store_new(p.as_ptr(), self.ptr, &mut out, err)
        })?;
        Ok(Store { ptr: out })
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        let k = cstring("key", key)?;
        // SAFETY: `value` is a valid slice for the call.
        call("store.set", |err| unsafe {
            ffi::ssd_store_set(self.ptr, k.as_ptr(), value.as_ptr(), value.len(), err)
        })
    }

    /// The value of `key`, waiting for it up to the store's timeout.
    pub fn get(&self, key: &str) -> Result<Vec<u8>> {
        let k = cstring("key", key)?;
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: on success the shim returns a malloc'd buffer of `len` bytes that we copy and free.
        call("store.get", |err| unsafe {
            ffi::ssd_store_get(self.ptr, k.as_ptr(), &mut data, &mut len, err)
        })?;
        let v = unsafe { std::slice::from_raw_parts(data, len) }.to_vec();
        unsafe { ffi::ssd_free_string(data as *mut c_char) };
        Ok(v)
    }

    /// Atomically adds `delta` to the integer at `key` (created as 0) and returns the new value.
    pub fn add(&self, key: &str, delta: i64) -> Result<i64> {
        let k = cstring("key", key)?;
        let mut out = 0i64;
        // SAFETY: plain values.
        call("store.add", |err| unsafe {
            ffi::ssd_store_add(self.ptr, k.as_ptr(), delta, &mut out, err)
        })?;
        Ok(out)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: the box was created by the shim and is freed once.
        unsafe { ffi::ssd_store_free(self.ptr) }
    }
}

/// A reduction for [`ProcessGroup::all_reduce`] (c10d's `ReduceOp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// Element-wise sum.
    Sum,
    /// Element-wise mean over ranks (sum, then division by the world size: Gloo has no native
    /// AVG); floating-point tensors only.
    Avg,
    /// Element-wise maximum.
    Max,
    /// Element-wise minimum.
    Min,
    /// Element-wise product.
    Product,
}

/// Options of a Gloo process group.
#[derive(Clone, Debug)]
pub struct GlooOptions {
    /// Timeout of rendezvous and of every collective: a dead or stuck peer gives an error after at
    /// most this long (a peer whose process died usually fails the collective at once, as its
    /// sockets close). PyTorch's default is 30 minutes; ours is 5.
    pub timeout: Duration,
    /// Address Gloo binds to (`127.0.0.1` for one machine); `None` uses c10d's default device
    /// (`GLOO_SOCKET_IFNAME` if set, else this machine's hostname, else loopback).
    pub hostname: Option<String>,
    /// Gloo worker threads (PyTorch's default 2).
    pub threads: usize,
}

impl Default for GlooOptions {
    fn default() -> Self {
        GlooOptions {
            timeout: Duration::from_secs(300),
            hostname: None,
            threads: 2,
        }
    }
}

/// A c10d `ProcessGroupGloo`: the CPU collectives PyTorch DDP uses. Every collective is blocking
/// (it waits for its work with the group's timeout) and must be called by every rank in the same
/// order with tensors of the same shape and dtype.
pub struct ProcessGroup {
    ptr: *mut c_void,
    rank: usize,
    size: usize,
}

// SAFETY: c10d process groups may be used from any thread (their work runs on Gloo's own threads).
unsafe impl Send for ProcessGroup {}

impl ProcessGroup {
    /// Joins a Gloo group of `size` ranks as `rank`, rendezvousing through `store` (blocks until all
    /// ranks joined, or fails after the timeout).
    pub fn gloo(store: &Store, rank: usize, size: usize, opts: &GlooOptions) -> Result<Self> {
        if size == 0 || rank >= size {
            return Err(Error::config(
                "rank",
                format!("must be < world_size ({size}), got {rank}"),
            ));
        }
        let host = cstring("hostname", opts.hostname.as_deref().unwrap_or(""))?;
        let mut out = std::ptr::null_mut();
        // SAFETY: `store.ptr` is live for the call (the group keeps its own reference).
        call("ProcessGroupGloo", |err| unsafe {
            ffi::ssd_pg_gloo_new(
                store.ptr,
                rank as c_int,
                size as c_int,
                timeout_ms(opts.timeout),
                host.as_ptr(),
                opts.threads as c_int,
                &mut out,
                err,
            )
        })?;
        tracing::debug!(rank, size, "joined Gloo process group");
        Ok(ProcessGroup {
            ptr: out,
            rank,
            size,
        })
    }

    /// This process's rank in `0..size()`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Reduces `t` across ranks in place (every rank ends with the result). Works on any CPU
    /// tensor; a non-contiguous one goes through a contiguous copy.
    pub fn all_reduce(&self, t: &Tensor, op: ReduceOp) -> Result<()> {
        let code = match op {
            ReduceOp::Sum | ReduceOp::Avg => 0,
            ReduceOp::Max => 2,
            ReduceOp::Min => 3,
            ReduceOp::Product => 4,
        };
        if op == ReduceOp::Avg && !t.is_floating_point() {
            return Err(Error::config(
                "op",
                format!("Avg needs a floating-point tensor, got {:?}", t.kind()),
            ));
        }
        let _guard = tch::no_grad_guard();
        let mut work = if t.is_contiguous() {
            t.shallow_clone()
        } else {
            t.contiguous()
        };
        // SAFETY: `work` is a live at::Tensor for the call.
        call("all_reduce", |err| unsafe {
            ffi::ssd_all_reduce(self.ptr, tensor_ptr(&work), code, err)
        })?;
        if op == ReduceOp::Avg {
            let _ = work.f_div_scalar_(self.size as f64)?;
        }
        if !t.is_contiguous() {
            t.shallow_clone().f_copy_(&work)?;
        }
        Ok(())
    }

    /// The sum of `t` over ranks as a new tensor, **differentiable**: its backward sums the
    /// incoming gradients over ranks (the adjoint of "every rank gets the sum"; PyTorch's
    /// `torch.distributed.nn.functional.all_reduce`). Every rank must run the backward through it
    /// (it is a collective), as every rank does when all run the same graph. `t` is unchanged.
    pub fn all_reduce_sum_with_grad(&self, t: &Tensor) -> Result<Tensor> {
        let mut out: *mut c_void = std::ptr::null_mut();
        // SAFETY: `t` is a live at::Tensor for the call; on success the shim hands us a new
        // heap-allocated at::Tensor, which tch's Tensor owns (and frees) from here on.
        call("all_reduce_sum_with_grad", |err| unsafe {
            ffi::ssd_all_reduce_sum_autograd(self.ptr, tensor_ptr(t), &mut out, err)
        })?;
        // SAFETY: `out` is the non-null at::Tensor* the shim allocated for us.
        Ok(unsafe { Tensor::from_ptr(out as *mut _) })
    }

    /// Gathers `t` (same shape on every rank) from all ranks, concatenated along a new leading
    /// dimension flattened into dim 0: an `N×…` input gives `size·N×…` with rank `r`'s rows at
    /// `r·N..(r+1)·N`; a scalar gives a vector of `size`. The result does not require grad (see
    /// [`crate::gather_with_grad`]).
    pub fn all_gather(&self, t: &Tensor) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let input = if t.dim() == 0 {
            t.reshape([1])
        } else {
            t.contiguous()
        };
        let mut shape = input.size();
        let n = shape[0];
        shape[0] = n * self.size as i64;
        let out = Tensor::f_empty(shape.as_slice(), (input.kind(), input.device()))?;
        let chunks: Vec<Tensor> = (0..self.size as i64)
            .map(|r| out.narrow(0, r * n, n))
            .collect();
        let mut ptrs: Vec<*mut c_void> = chunks.iter().map(tensor_ptr).collect();
        // SAFETY: `input`, `chunks` (views into `out`) and `ptrs` live for the call.
        call("all_gather", |err| unsafe {
            ffi::ssd_all_gather(
                self.ptr,
                tensor_ptr(&input),
                ptrs.as_mut_ptr(),
                ptrs.len() as c_int,
                err,
            )
        })?;
        Ok(out)
    }

    /// Copies `t` of rank `root` into `t` on every rank (in place).
    pub fn broadcast(&self, t: &Tensor, root: usize) -> Result<()> {
        if root >= self.size {
            return Err(Error::config(
                "root",
                format!("must be < world_size ({}), got {root}", self.size),
            ));
        }
        let _guard = tch::no_grad_guard();
        let work = if t.is_contiguous() {
            t.shallow_clone()
        } else {
            t.contiguous()
        };
        // SAFETY: `work` is a live at::Tensor for the call.
        call("broadcast", |err| unsafe {
            ffi::ssd_broadcast(self.ptr, tensor_ptr(&work), root as c_int, err)
        })?;
        if !t.is_contiguous() {
            t.shallow_clone().f_copy_(&work)?;
        }
        Ok(())
    }

    /// Blocks until every rank reached the barrier (or fails after the timeout).
    pub fn barrier(&self) -> Result<()> {
        // SAFETY: `self.ptr` is live.
        call("barrier", |err| unsafe { ffi::ssd_barrier(self.ptr, err) })
    }

    /// Sums a host `f64` across ranks (metrics, loss logging).
    pub fn all_reduce_f64(&self, value: f64, op: ReduceOp) -> Result<f64> {
        let t = Tensor::from_slice(&[value]);
        self.all_reduce(&t, op)?;
        Ok(t.double_value(&[0]))
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // SAFETY: the box was created by the shim and is freed once.
        unsafe { ffi::ssd_pg_free(self.ptr) }
    }
}
