//! The FIFO memory bank (MoCo's queue, NNCLR's support set, SwAV's queue).
//!
//! A ring buffer of `size` rows of width `dim`, kept in the method's `VarStore` as non-trainable
//! variables (`bank` `size×dim`, `ptr` and `filled` as int64 scalars), so checkpoints carry it.
//! [`MemoryBank::contents`] returns the valid rows (what negatives are drawn from); enqueueing a batch
//! writes its rows at the write pointer, wrapping around, and overwrites the oldest rows once the bank is
//! full. Negatives for a batch are the contents *before* that batch is enqueued: call
//! [`MemoryBank::enqueue`] after computing the loss.
//!
//! Unlike lightly (which truncates a batch that crosses the end of the buffer and restarts at 0), a
//! batch that crosses the end wraps around, so the bank is a true FIFO for any batch size.
//! The bank starts empty, or — as MoCo's code and lightly do — full of random unit vectors
//! ([`MemoryBank::new`]'s `random_init`), drawn from libtorch's seeded generator.

use selfsup_nn::Result;
use tch::nn;
use tch::{Device, Kind, Tensor};

/// See the module documentation.
#[derive(Debug)]
pub struct MemoryBank {
    bank: Tensor,
    ptr: Tensor,
    filled: Tensor,
    size: i64,
    dim: i64,
}

impl MemoryBank {
    /// A bank of `size ≥ 1` rows of width `dim ≥ 1` under `p` (names `p.bank`, `p.ptr`, `p.filled`).
    pub fn new(p: &nn::Path<'_>, size: i64, dim: i64, random_init: bool) -> Result<Self> {
        selfsup_core::check::at_least("memory_bank_size", size.max(0) as usize, 1)?;
        selfsup_core::check::at_least("memory bank dim", dim.max(0) as usize, 1)?;
        let init = if random_init {
            crate::losses::normalize(&Tensor::randn([size, dim], (Kind::Float, p.device())))
        } else {
            Tensor::zeros([size, dim], (Kind::Float, p.device()))
        };
        let bank = p.add("bank", init, false);
        let ptr = p.add("ptr", Tensor::zeros([], (Kind::Int64, p.device())), false);
        let filled = p.add(
            "filled",
            Tensor::full(
                [],
                if random_init { size } else { 0 },
                (Kind::Int64, p.device()),
            ),
            false,
        );
        Ok(MemoryBank {
            bank,
            ptr,
            filled,
            size,
            dim,
        })
    }

    /// Capacity in rows.
    pub fn size(&self) -> i64 {
        self.size
    }

    /// Row width.
    pub fn dim(&self) -> i64 {
        self.dim
    }

    /// Number of valid rows.
    pub fn len(&self) -> i64 {
        self.filled.int64_value(&[])
    }

    /// Whether no row is valid yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The valid rows (`len × dim`, storage order, detached).
    pub fn contents(&self) -> Tensor {
        self.bank.narrow(0, 0, self.len()).detach()
    }

    /// The valid rows from oldest to newest (for inspection and tests).
    pub fn contents_fifo(&self) -> Tensor {
        let len = self.len();
        if len < self.size {
            return self.contents();
        }
        let ptr = self.ptr.int64_value(&[]);
        let idx = (Tensor::arange(self.size, (Kind::Int64, self.bank.device())) + ptr)
            .remainder(self.size);
        self.bank.index_select(0, &idx).detach()
    }

    /// Writes the rows of `batch` (`B×dim`, detached) at the write pointer, wrapping around.
    pub fn enqueue(&mut self, batch: &Tensor) -> Result<()> {
        let s = batch.size();
        if s.len() != 2 || s[1] != self.dim {
            return Err(selfsup_core::Error::shape(format!(
                "memory bank: expected B×{} rows, got shape {s:?}",
                self.dim
            ))
            .into());
        }
        let b = s[0];
        if b == 0 {
            return Ok(());
        }
        let rows = if b > self.size {
            batch.narrow(0, b - self.size, self.size)
        } else {
            batch.shallow_clone()
        };
        let rows = rows
            .detach()
            .to_kind(self.bank.kind())
            .to_device(self.bank.device());
        let nb = rows.size()[0];
        let ptr = self.ptr.int64_value(&[]);
        let idx =
            (Tensor::arange(nb, (Kind::Int64, self.bank.device())) + ptr).remainder(self.size);
        tch::no_grad(|| {
            let _ = self.bank.index_copy_(0, &idx, &rows);
            let _ = self.ptr.fill_((ptr + nb) % self.size);
            let filled = (self.len() + nb).min(self.size);
            let _ = self.filled.fill_(filled);
        });
        Ok(())
    }

    /// The device of the bank.
    pub fn device(&self) -> Device {
        self.bank.device()
    }
}
