//! Downstream task for the language models: attribute a 64-character window of Shakespeare to its play
//! (8 classes, the plays of `data/shakespeare/train.txt`; the last 10 % of each play is the test split).
//! Linear probe and weighted kNN on frozen features — the last position's hidden state of a GPT, the
//! mean over positions of a BERT encoder — for each pretrained model against the same architecture at
//! random initialisation.
//!
//! The GPT comes from a `char_gpt` run (`--gpt-run runs/char_gpt`: `vocab.json`, `model.json`,
//! `model.safetensors`) or a `selfsup pretrain --dataset shakespeare` run (`encoder.safetensors`); the BERT is pretrained here with `MaskedToken` (`--bert-steps`, default 1000,
//! 0 to skip) on keyed random windows with the same optimizer and schedule as `char_gpt`.
#![allow(clippy::print_stdout)] // an example program reports to its user

use anyhow::{bail, Context, Result};
use selfsup::core::SampleKey;
use selfsup::data::plays::{find_play_starts, play_attribution, SHAKESPEARE_PLAYS};
use selfsup::data::{RandomWindows, TokenStream, Vocab};
use selfsup::nn::backbones::GptConfig;
use selfsup::nn::{Batch, Method, StepInfo};
use selfsup::pretext::language::{MaskedToken, MaskedTokenConfig, NextToken, TokenPool};
use selfsup::train::config::{OptimizerConfig, OptimizerKind, ScheduleConfig, ScheduleKind};
use selfsup::train::eval::{knn_accuracy, linear_probe, KnnConfig, LinearProbeConfig};
use selfsup::train::schedule::LrSchedule;
use selfsup::train::Optimizer;
use std::path::PathBuf;
use std::time::Instant;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Features of every window, in chunks of 256: the GPT's final hidden states pooled with `pool`, or
/// the method's own `embed` (the BERT's mean over positions).
fn features(
    m: &dyn Method,
    gpt: Option<(&NextToken, TokenPool)>,
    windows: &[Vec<i64>],
) -> Result<Tensor> {
    let mut out = Vec::new();
    for chunk in windows.chunks(256) {
        let flat: Vec<i64> = chunk.concat();
        let x = Tensor::from_slice(&flat).reshape([chunk.len() as i64, -1]);
        out.push(match gpt {
            Some((g, pool)) => g.pooled(&x, pool)?,
            None => m.embed(&x)?,
        });
    }
    Ok(Tensor::cat(&out, 0))
}

/// Counts of each vocabulary id in each window: the no-model baseline (what the characters alone tell).
fn bag_of_characters(windows: &[Vec<i64>], vocab: i64) -> Tensor {
    let flat: Vec<i64> = windows.concat();
    let n = windows.len() as i64;
    let x = Tensor::from_slice(&flat).reshape([n, -1]);
    Tensor::zeros([n, vocab], (Kind::Float, Device::Cpu)).scatter_add(
        1,
        &x,
        &Tensor::ones(x.size(), (Kind::Float, Device::Cpu)),
    )
}

fn score(
    name: &str,
    ftr: &Tensor,
    fte: &Tensor,
    train: &(Vec<Vec<i64>>, Tensor),
    test: &(Vec<Vec<i64>>, Tensor),
    probe: &LinearProbeConfig,
    t0: Instant,
) -> Result<()> {
    let knn = knn_accuracy(ftr, &train.1, fte, &test.1, 8, &KnnConfig::default())?;
    let p = linear_probe(ftr, &train.1, fte, &test.1, 8, probe)?;
    println!(
        "{name:<34} kNN {:.3}   linear probe {:.3} (train {:.3})   [{:.1} s]",
        knn,
        p.test_acc,
        p.train_acc,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn report(
    name: &str,
    m: &dyn Method,
    gpt: Option<(&NextToken, TokenPool)>,
    train: &(Vec<Vec<i64>>, Tensor),
    test: &(Vec<Vec<i64>>, Tensor),
    probe: &LinearProbeConfig,
) -> Result<()> {
    let t0 = Instant::now();
    let ftr = features(m, gpt, &train.0)?;
    let fte = features(m, gpt, &test.0)?;
    score(name, &ftr, &fte, train, test, probe, t0)
}

/// Both poolings of a GPT.
fn report_gpt(
    name: &str,
    g: &NextToken,
    train: &(Vec<Vec<i64>>, Tensor),
    test: &(Vec<Vec<i64>>, Tensor),
    probe: &LinearProbeConfig,
) -> Result<()> {
    for (what, pool) in [
        ("last token", TokenPool::Last),
        ("mean-pooled", TokenPool::Mean),
    ] {
        report(
            &format!("{name}, {what}"),
            g,
            Some((g, pool)),
            train,
            test,
            probe,
        )?;
    }
    Ok(())
}

/// Loads a GPT's weights from a `char_gpt` run (`model.safetensors`, the whole method's variables) or a
/// `selfsup pretrain --dataset shakespeare` run (`encoder.safetensors`: the backbone's variables, named
/// without the method's `backbone.` prefix).
fn load_gpt_weights(vs: &mut VarStore, run: &std::path::Path) -> Result<()> {
    let model = run.join("model.safetensors");
    if model.exists() {
        return Ok(vs.load(&model)?);
    }
    let file = run.join("encoder.safetensors");
    let named: std::collections::HashMap<String, Tensor> = Tensor::read_safetensors(&file)
        .with_context(|| format!("no model.safetensors or readable {}", file.display()))?
        .into_iter()
        .collect();
    tch::no_grad(|| -> Result<()> {
        for (name, mut v) in vs.variables() {
            let key = name.strip_prefix("backbone.").unwrap_or(&name);
            let t = named
                .get(key)
                .with_context(|| format!("{} has no tensor `{key}`", file.display()))?;
            v.f_copy_(t)?;
        }
        Ok(())
    })
}

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/shakespeare");
    let mut gpt_run = PathBuf::from("runs/char_gpt");
    let mut bert_steps = 1000u64;
    let mut seed = 1u64;
    let mut probe = LinearProbeConfig::default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--gpt-run" => gpt_run = v()?.into(),
            "--bert-steps" => bert_steps = v()?.parse()?,
            "--seed" => seed = v()?.parse()?,
            "--probe-epochs" => probe.epochs = v()?.parse()?,
            "--probe-lr" => probe.lr = v()?.parse()?,
            other => bail!("unknown argument `{other}`"),
        }
    }
    tch::set_num_threads(1);
    let vocab = Vocab::load(gpt_run.join("vocab.json"))
        .with_context(|| format!("run `char_gpt --out {}` first", gpt_run.display()))?;
    let cfg: GptConfig =
        serde_json::from_str(&std::fs::read_to_string(gpt_run.join("model.json"))?)?;
    let text = std::fs::read_to_string(root.join("train.txt"))?;
    let stream = TokenStream::from_text(&text, &vocab, "train.txt")?;
    let starts = find_play_starts(&text, &SHAKESPEARE_PLAYS)?;
    let names: Vec<&str> = SHAKESPEARE_PLAYS.iter().map(|p| p.0).collect();
    let seq = cfg.block_size as usize;
    let (tr, te) = play_attribution(stream.ids(), &starts, &names, seq, 0.1)?;
    let labels = |l: &[i64]| Tensor::from_slice(l).to_kind(Kind::Int64);
    let train = (tr.windows().to_vec(), labels(tr.labels()));
    let test = (te.windows().to_vec(), labels(te.labels()));
    println!(
        "play attribution: 8 plays, {} train / {} test windows of {seq} characters (chance {:.3})",
        train.0.len(),
        test.0.len(),
        1.0 / 8.0
    );

    println!("linear probe: {probe}");
    let t0 = Instant::now();
    let v = vocab.len() as i64;
    score(
        "bag of characters (no model)",
        &bag_of_characters(&train.0, v),
        &bag_of_characters(&test.0, v),
        &train,
        &test,
        &probe,
        t0,
    )?;
    tch::manual_seed(seed as i64);
    let random_gpt = NextToken::new(VarStore::new(Device::Cpu), &cfg)?;
    report_gpt("GPT, random init", &random_gpt, &train, &test, &probe)?;
    let mut gpt = NextToken::new(VarStore::new(Device::Cpu), &cfg)?;
    load_gpt_weights(gpt.var_store_mut(), &gpt_run)?;
    report_gpt("GPT, pretrained (char_gpt)", &gpt, &train, &test, &probe)?;

    if bert_steps > 0 {
        let bcfg = MaskedTokenConfig::default();
        tch::manual_seed(seed as i64);
        let random_bert = MaskedToken::new(VarStore::new(Device::Cpu), &cfg, &bcfg)?;
        report(
            "BERT, random init",
            &random_bert,
            None,
            &train,
            &test,
            &probe,
        )?;
        tch::manual_seed(seed as i64);
        let mut bert = MaskedToken::new(VarStore::new(Device::Cpu), &cfg, &bcfg)?;
        let windows = RandomWindows::new(stream.clone(), seq, Some(12))?;
        let mut opt = Optimizer::new(
            bert.var_store(),
            &OptimizerConfig {
                kind: OptimizerKind::Adamw,
                lr: 1e-3,
                betas: [0.9, 0.99],
                weight_decay: 0.1,
                ..Default::default()
            },
        )?;
        let sched = LrSchedule::new(
            &ScheduleConfig {
                kind: ScheduleKind::WarmupCosine,
                warmup_epochs: 100.0,
                min_lr: 1e-4,
                ..Default::default()
            },
            1e-3,
            1,
            bert_steps,
        );
        let t0 = Instant::now();
        let masker = bert.masker().clone();
        for step in 0..bert_steps {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for b in 0..12u64 {
                let key = SampleKey::new(seed, step, b);
                let w = windows.window(key);
                let (x, y) = masker.apply(&w[..seq], &mut key.with_view(1).rng())?;
                xs.extend(x);
                ys.extend(y);
            }
            let batch = Batch {
                views: vec![Tensor::from_slice(&xs).reshape([12, seq as i64])],
                labels: None,
                targets: Some(Tensor::from_slice(&ys).reshape([12, seq as i64])),
                indices: None,
            };
            let info = StepInfo {
                step,
                total_steps: bert_steps,
                epoch: step,
                total_epochs: bert_steps,
            };
            let out = bert.step(&batch, &info)?;
            opt.zero_grad();
            out.loss.backward();
            opt.clip_grad_norm(1.0)?;
            opt.step(sched.lr(step))?;
            if (step + 1) % 250 == 0 {
                let acc = out
                    .scalars
                    .iter()
                    .find(|(k, _)| k == "mlm_acc")
                    .map_or(0.0, |s| s.1);
                println!(
                    "  BERT step {:>5}: masked-token loss {:.3}, accuracy {acc:.3}",
                    step + 1,
                    out.loss.double_value(&[])
                );
            }
        }
        println!(
            "  BERT pretraining: {bert_steps} steps in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        report(
            &format!("BERT, pretrained ({bert_steps} st)"),
            &bert,
            None,
            &train,
            &test,
            &probe,
        )?;
    }
    Ok(())
}
