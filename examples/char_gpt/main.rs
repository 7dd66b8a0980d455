//! A character-level GPT on the vendored Shakespeare plays, the Rust side of the side-by-side benchmark
//! with `scripts/bench/char_gpt.py` (same model, initialisation scheme, AdamW + warmup/cosine, batch and
//! data-order semantics). Trains on `data/shakespeare/train.txt`, evaluates the validation loss (nats
//! per character) on The Tempest (`val.txt`) at fixed steps, reports steps/s and peak RSS, prints one
//! JSON summary line, and samples a continuation.
//!
//! Pieces: `selfsup_data` (char vocabulary, keyed random windows, sequential validation windows),
//! `selfsup_pretext::language::NextToken` (the `selfsup_nn` GPT and its loss), `selfsup_train`
//! (`Optimizer` AdamW with weight decay on ≥ 2-D parameters, `LrSchedule` warmup + cosine, gradient
//! clipping). See the README for flags and measured figures.
#![allow(clippy::print_stdout)] // an example program reports to its user

use anyhow::{bail, Context, Result};
use selfsup::core::SampleKey;
use selfsup::data::{
    Dataset, RandomWindows, SequentialWindows, TokenStream, TokenizerKind, UnknownPolicy,
};
use selfsup::nn::backbones::GptConfig;
use selfsup::nn::{Batch, Method, StepInfo};
use selfsup::pretext::language::NextToken;
use selfsup::train::config::{OptimizerConfig, OptimizerKind, ScheduleConfig, ScheduleKind};
use selfsup::train::schedule::LrSchedule;
use selfsup::train::Optimizer;
use std::path::PathBuf;
use std::time::Instant;
use tch::nn::VarStore;
use tch::{Device, Tensor};

struct Args {
    data: PathBuf,
    steps: u64,
    batch: usize,
    block: usize,
    layers: i64,
    heads: i64,
    width: i64,
    dropout: f64,
    lr: f64,
    min_lr: f64,
    warmup: u64,
    weight_decay: f64,
    clip: f64,
    seed: u64,
    eval_every: u64,
    threads: i32,
    out: PathBuf,
    sample_tokens: usize,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        data: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/shakespeare"),
        steps: 2000,
        batch: 12,
        block: 64,
        layers: 4,
        heads: 4,
        width: 128,
        dropout: 0.0,
        lr: 1e-3,
        min_lr: 1e-4,
        warmup: 100,
        weight_decay: 0.1,
        clip: 1.0,
        seed: 1337,
        eval_every: 500,
        threads: 1,
        out: PathBuf::from("runs/char_gpt"),
        sample_tokens: 300,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--data" => a.data = v()?.into(),
            "--steps" => a.steps = v()?.parse()?,
            "--batch" => a.batch = v()?.parse()?,
            "--block" => a.block = v()?.parse()?,
            "--layers" => a.layers = v()?.parse()?,
            "--heads" => a.heads = v()?.parse()?,
            "--width" => a.width = v()?.parse()?,
            "--dropout" => a.dropout = v()?.parse()?,
            "--lr" => a.lr = v()?.parse()?,
            "--min-lr" => a.min_lr = v()?.parse()?,
            "--warmup" => a.warmup = v()?.parse()?,
            "--weight-decay" => a.weight_decay = v()?.parse()?,
            "--clip" => a.clip = v()?.parse()?,
            "--seed" => a.seed = v()?.parse()?,
            "--eval-every" => a.eval_every = v()?.parse()?,
            "--threads" => a.threads = v()?.parse()?,
            "--out" => a.out = v()?.into(),
            "--sample-tokens" => a.sample_tokens = v()?.parse()?,
            other => bail!("unknown argument `{other}` (see examples/char_gpt/README.md)"),
        }
    }
    Ok(a)
}

/// Peak resident set size of this process in MiB (`VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let wall = Instant::now();
    let a = parse()?;
    tch::set_num_threads(a.threads);
    // as the trainer does by default (`train.keep_freed_memory`): reuse freed blocks, no page faults
    selfsup::train::memory::keep_freed_memory();
    tch::manual_seed(a.seed as i64);
    std::fs::create_dir_all(&a.out)?;

    // data: the vocabulary comes from the training file and is saved for val/generation
    let train_path = a.data.join("train.txt");
    let vocab =
        TokenStream::vocab_from_file(&train_path, TokenizerKind::Char, UnknownPolicy::Error)?;
    vocab.save(a.out.join("vocab.json"))?;
    let train = RandomWindows::new(
        TokenStream::from_file(&train_path, &vocab)?,
        a.block,
        Some(a.batch),
    )?;
    let val = SequentialWindows::new(
        TokenStream::from_file(a.data.join("val.txt"), &vocab)?,
        a.block,
    )?;
    let val_windows: Vec<&[i64]> = (0..val.len()).map(|i| val.window(i)).collect();
    // the offsets of every step, for the PyTorch script (identical data order)
    let offsets: Vec<Vec<usize>> = (0..a.steps)
        .map(|s| {
            (0..a.batch as u64)
                .map(|b| train.offset(a.seed, s, b))
                .collect()
        })
        .collect();
    std::fs::write(
        a.out.join("offsets.json"),
        serde_json::to_string(
            &serde_json::json!({ "block": a.block, "batch": a.batch, "offsets": offsets }),
        )?,
    )?;

    // model
    let cfg = GptConfig {
        vocab_size: vocab.len() as i64,
        block_size: a.block as i64,
        n_layer: a.layers,
        n_head: a.heads,
        n_embd: a.width,
        dropout: a.dropout,
        bias: false,
        causal: true,
    };
    let mut method = NextToken::new(VarStore::new(Device::Cpu), &cfg)?;
    method.var_store().save(a.out.join("init.safetensors"))?;
    println!(
        "char GPT: vocab {}, {} parameters, {} train tokens, {} val windows",
        vocab.len(),
        cfg.num_params(),
        train.stream().len(),
        val.len()
    );

    let opt_cfg = OptimizerConfig {
        kind: OptimizerKind::Adamw,
        lr: a.lr,
        betas: [0.9, 0.99],
        eps: 1e-8,
        weight_decay: a.weight_decay,
        exclude_bias_and_norm: true,
        ..Default::default()
    };
    let mut opt = Optimizer::new(method.var_store(), &opt_cfg)?;
    let sched = LrSchedule::new(
        &ScheduleConfig {
            kind: ScheduleKind::WarmupCosine,
            warmup_epochs: a.warmup as f64,
            warmup_start_factor: 0.0,
            min_lr: a.min_lr,
            ..Default::default()
        },
        a.lr,
        1,
        a.steps,
    );

    let mut train_time = 0.0f64;
    let mut losses = Vec::with_capacity(a.steps as usize);
    let mut val_curve = Vec::new();
    let eval = |m: &NextToken| m.evaluate_windows(&val_windows, 128);
    for step in 0..a.steps {
        let t0 = Instant::now();
        let rows: Vec<i64> = offsets[step as usize]
            .iter()
            .flat_map(|&o| train.stream().ids()[o..o + a.block + 1].iter().copied())
            .collect();
        let x = Tensor::from_slice(&rows).reshape([a.batch as i64, a.block as i64 + 1]);
        let batch = Batch {
            views: vec![x],
            labels: None,
            targets: None,
            indices: None,
        };
        let info = StepInfo {
            step,
            total_steps: a.steps,
            epoch: step,
            total_epochs: a.steps,
        };
        let out = method.step(&batch, &info)?;
        opt.zero_grad();
        out.loss.backward();
        if a.clip > 0.0 {
            opt.clip_grad_norm(a.clip)?;
        }
        opt.step(sched.lr(step))?;
        let loss = out.loss.double_value(&[]);
        train_time += t0.elapsed().as_secs_f64();
        losses.push(loss);
        debug_assert_eq!(
            rows[..a.block + 1],
            train.window(SampleKey::new(a.seed, step, 0))[..]
        );
        let done = step + 1;
        if done % a.eval_every == 0 || done == a.steps {
            let e = eval(&method)?;
            println!(
                "step {done:>5}  train loss {loss:.4}  val loss {:.4} nats/char ({:.4} bits/char, ppl {:.3})  {:.2} steps/s",
                e.loss,
                e.bits_per_char,
                e.ppl,
                done as f64 / train_time
            );
            val_curve.push((done, e.loss));
        }
    }
    method.var_store().save(a.out.join("model.safetensors"))?;
    std::fs::write(
        a.out.join("model.json"),
        serde_json::to_string_pretty(&cfg)?,
    )?;
    let vocab_ref = &vocab;
    let prompt = vocab_ref.try_encode("PROSPERO:\n")?;
    let sample = method.generate(&prompt, a.sample_tokens, 0.8, Some(40), a.seed)?;
    println!(
        "--- sample (temperature 0.8, top-k 40, seed {}) ---\nPROSPERO:\n{}\n---",
        a.seed,
        vocab.decode(&sample)
    );
    let summary = serde_json::json!({
        "impl": "selfsup",
        "steps": a.steps,
        "batch": a.batch,
        "block": a.block,
        "params": cfg.num_params(),
        "threads": a.threads,
        "train_time_s": train_time,
        "steps_per_s": a.steps as f64 / train_time,
        "val": val_curve,
        "first_losses": &losses[..losses.len().min(5)],
        "peak_rss_mib": peak_rss_mib(),
        "wall_s": wall.elapsed().as_secs_f64(),
    });
    std::fs::write(a.out.join("summary.json"), summary.to_string())?;
    println!("{summary}");
    Ok(())
}
