//! One training step of the character GPT of `examples/char_gpt`, paired by id with the PyTorch step of
//! `scripts/bench/char_gpt.py` (run by `cargo xtask bench`):
//! - `char_gpt/train_step_b12_ctx64_d128_l4`: forward, mean next-character cross-entropy, backward,
//!   gradient clipping at 1.0 and one AdamW update (betas 0.9/0.99, weight decay 0.1 on ≥ 2-D
//!   parameters, lr 1e-3) of the 4-layer, 4-head, width-128, context-64 model (804,864 parameters,
//!   the Shakespeare character vocabulary) on a batch of 12 windows of 65 characters — steps/s;
//! - `char_gpt/forward_backward_b12_ctx64_d128_l4`: the forward and backward alone (where the step's
//!   time goes; no PyTorch pair);
//! - `char_gpt/clip_adamw_804k_params`: the gradient clipping and the AdamW update alone (no pair).
//!
//! Batches: 64 fixed batches of keyed random windows of the training plays (`RandomWindows`, seed
//! 1337), cycled. Single-threaded libtorch (`tch::set_num_threads(1)`), as the Python side. The
//! process keeps freed memory as the trainer does by default (`selfsup::train::memory::keep_freed_memory`,
//! `train.keep_freed_memory`); the PyTorch side runs with glibc's defaults unless the caller sets
//! `MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483648` (the same two settings; `docs/benchmarks.md`
//! reports both).

use criterion::{criterion_main, Criterion, Throughput};
use selfsup::data::{RandomWindows, TokenStream, TokenizerKind, UnknownPolicy};
use selfsup::nn::backbones::GptConfig;
use selfsup::nn::{Batch, Method, StepInfo};
use selfsup::pretext::language::NextToken;
use selfsup::train::config::{OptimizerConfig, OptimizerKind};
use selfsup::train::Optimizer;
use tch::nn::VarStore;
use tch::{Device, Tensor};

const BATCH: usize = 12;
const BLOCK: usize = 64;

struct Setup {
    method: NextToken,
    opt: Optimizer,
    batches: Vec<Batch>,
}

fn setup() -> Setup {
    tch::set_num_threads(1);
    selfsup::train::memory::keep_freed_memory();
    tch::manual_seed(1337);
    let train = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/shakespeare/train.txt");
    let vocab = TokenStream::vocab_from_file(train, TokenizerKind::Char, UnknownPolicy::Error)
        .expect("the vendored plays");
    let windows = RandomWindows::new(
        TokenStream::from_file(train, &vocab).expect("the vendored plays"),
        BLOCK,
        Some(BATCH),
    )
    .expect("windows");
    let batches = (0..64u64)
        .map(|s| {
            let rows: Vec<i64> = (0..BATCH as u64)
                .flat_map(|b| {
                    let o = windows.offset(1337, s, b);
                    windows.stream().ids()[o..o + BLOCK + 1].to_vec()
                })
                .collect();
            Batch {
                views: vec![Tensor::from_slice(&rows).reshape([BATCH as i64, BLOCK as i64 + 1])],
                labels: None,
                targets: None,
                indices: None,
            }
        })
        .collect();
    let cfg = GptConfig {
        vocab_size: vocab.len() as i64,
        block_size: BLOCK as i64,
        n_layer: 4,
        n_head: 4,
        n_embd: 128,
        dropout: 0.0,
        bias: false,
        causal: true,
    };
    let method = NextToken::new(VarStore::new(Device::Cpu), &cfg).expect("model");
    let opt = Optimizer::new(
        method.var_store(),
        &OptimizerConfig {
            kind: OptimizerKind::Adamw,
            lr: 1e-3,
            betas: [0.9, 0.99],
            eps: 1e-8,
            weight_decay: 0.1,
            exclude_bias_and_norm: true,
            ..Default::default()
        },
    )
    .expect("optimizer");
    Setup {
        method,
        opt,
        batches,
    }
}

const INFO: StepInfo = StepInfo {
    step: 0,
    total_steps: 1,
    epoch: 0,
    total_epochs: 1,
};

fn char_gpt(c: &mut Criterion) {
    let Setup {
        mut method,
        mut opt,
        batches,
    } = setup();
    let mut g = c.benchmark_group("char_gpt");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("train_step_b12_ctx64_d128_l4", |b| {
        b.iter(|| {
            let out = method.step(&batches[i % batches.len()], &INFO).unwrap();
            i += 1;
            opt.zero_grad();
            out.loss.backward();
            opt.clip_grad_norm(1.0).unwrap();
            opt.step(1e-3).unwrap();
        })
    });
    g.bench_function("forward_backward_b12_ctx64_d128_l4", |b| {
        b.iter(|| {
            let out = method.step(&batches[i % batches.len()], &INFO).unwrap();
            i += 1;
            opt.zero_grad();
            out.loss.backward();
        })
    });
    g.bench_function("clip_adamw_804k_params", |b| {
        b.iter(|| {
            opt.clip_grad_norm(1.0).unwrap();
            opt.step(1e-3).unwrap();
        })
    });
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::char_gpt);
}
criterion_main!(group::benches);
