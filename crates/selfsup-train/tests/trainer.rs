//! The training loop: loss falls, exact resume after an interruption (for every optimizer), gradient
//! accumulation equals a larger batch, clipping bounds the update, the NaN guard names the step and
//! leaves the last checkpoint intact, the run folder holds config, metrics and plots, and the
//! gradient hook runs once per step before the gradient norm; the online probe trains on the step's
//! own features when the method returns them.

mod common;

use common::{serial, weights, ToyMethod, ToySource};
use selfsup_train::{
    Error, OptimizerKind, Outcome, ProgressMode, ScheduleKind, TrainConfig, Trainer,
};

fn cfg(kind: OptimizerKind, epochs: u64) -> TrainConfig {
    let mut c = TrainConfig {
        epochs,
        seed: 11,
        log_every: 1,
        progress: ProgressMode::Off,
        ..Default::default()
    };
    c.optimizer.kind = kind;
    c.optimizer.lr = match kind {
        OptimizerKind::Sgd => 0.05,
        OptimizerKind::Lars => 0.5,
        _ => 0.01,
    };
    c.optimizer.weight_decay = 1e-3;
    c.optimizer.nesterov = kind == OptimizerKind::Sgd;
    c.schedule.kind = ScheduleKind::WarmupCosine;
    c.schedule.warmup_epochs = 1.0;
    c.clip_grad_norm = Some(5.0);
    c
}

fn losses(t: &Trainer<'_>) -> Vec<f64> {
    t.history().iter().map(|r| r.loss).collect()
}

#[test]
fn the_loop_trains_and_the_loss_falls() {
    let _serial = serial();
    let src = ToySource {
        n: 32,
        dim: 6,
        batch: 8,
    };
    let mut c = cfg(OptimizerKind::Adam, 8);
    c.optimizer.lr = 0.02;
    let mut t = Trainer::new(Box::new(ToyMethod::new(1, 6)), c, None).unwrap();
    assert_eq!(t.run(&src).unwrap(), Outcome::Finished);
    let l = losses(&t);
    assert_eq!(l.len(), 8 * 4);
    let first: f64 = l[..4].iter().sum::<f64>() / 4.0;
    let last: f64 = l[l.len() - 4..].iter().sum::<f64>() / 4.0;
    assert!(last < 0.5 * first, "loss did not fall: {first} -> {last}");
    assert_eq!(t.step(), 32);
}

#[test]
fn an_interrupted_and_resumed_run_replays_the_uninterrupted_losses_exactly() {
    let _serial = serial();
    let src = ToySource {
        n: 48,
        dim: 5,
        batch: 4,
    };
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Adam,
        OptimizerKind::Adamw,
        OptimizerKind::Lars,
    ] {
        let mut c = cfg(kind, 3);
        c.grad_accum = 2; // 12 batches → 6 steps per epoch, 18 in all
                          // With the online probe: its weights and Adam state must be restored too.
        let mut full = Trainer::new(Box::new(ToyMethod::new(3, 5)), c.clone(), None)
            .unwrap()
            .with_online_probe(3, 0.01)
            .unwrap();
        full.run(&src).unwrap();
        let expected = losses(&full);
        assert_eq!(expected.len(), 18);
        let expected_records = full.history().to_vec();
        assert!(expected_records[0]
            .scalars
            .iter()
            .any(|(n, _)| n == "online_probe_acc"));

        let dir = tempfile::tempdir().unwrap();
        // Stop mid-epoch (step 8 = epoch 1, step 2 of 6), as Ctrl-C would.
        let mut a = Trainer::new(Box::new(ToyMethod::new(3, 5)), c.clone(), Some(dir.path()))
            .unwrap()
            .with_online_probe(3, 0.01)
            .unwrap()
            .stop_at_step(8);
        let out = a.run(&src).unwrap();
        assert!(
            matches!(
                out,
                Outcome::Interrupted {
                    step: 8,
                    checkpoint: Some(_)
                }
            ),
            "{out:?}"
        );
        let mut got = losses(&a);
        let mut got_records = a.history().to_vec();
        drop(a);
        // A fresh process: different initial weights, everything must come from the checkpoint.
        let mut b = Trainer::new(Box::new(ToyMethod::new(99, 5)), c.clone(), Some(dir.path()))
            .unwrap()
            .with_online_probe(3, 0.01)
            .unwrap();
        assert!(b.resume().unwrap());
        assert_eq!(b.step(), 8);
        assert_eq!(b.run(&src).unwrap(), Outcome::Finished);
        got.extend(losses(&b));
        assert_eq!(got, expected, "{kind:?}: resumed losses differ");
        got_records.extend(b.history().iter().cloned());
        assert_eq!(
            got_records, expected_records,
            "{kind:?}: lr, grad norm or probe scalars differ"
        );
        assert_eq!(
            weights(b.method().var_store()),
            weights(full.method().var_store()),
            "{kind:?}"
        );
        // The metrics file reads as one run: 18 train rows, steps 1..=18 once each.
        let rows = selfsup_train::metrics::read_jsonl(&dir.path().join("metrics.jsonl")).unwrap();
        let steps: Vec<u64> = rows
            .iter()
            .filter(|r| r.kind == "train")
            .map(|r| r.step)
            .collect();
        assert_eq!(steps, (1..=18).collect::<Vec<_>>());
    }
}

#[test]
fn gradient_accumulation_matches_one_larger_batch() {
    let _serial = serial();
    let mut c = cfg(OptimizerKind::Sgd, 2);
    c.optimizer.weight_decay = 0.0;
    c.clip_grad_norm = None;
    // Without dropout and batch norm, the mean loss of 8 samples equals the mean of two means of 4.
    let mut m1 = ToyMethod::new(5, 4);
    m1.dropout = 0.0;
    m1.use_bn = false;
    let mut m2 = ToyMethod::new(5, 4);
    m2.dropout = 0.0;
    m2.use_bn = false;
    // The toy source cuts batches from one per-epoch order, so 2 × 4 covers the same 8 samples as 1 × 8.
    let big = ToySource {
        n: 32,
        dim: 4,
        batch: 8,
    };
    let small = ToySource {
        n: 32,
        dim: 4,
        batch: 4,
    };
    let mut a = Trainer::new(Box::new(m1), c.clone(), None).unwrap();
    a.run(&big).unwrap();
    c.grad_accum = 2;
    let mut b = Trainer::new(Box::new(m2), c, None).unwrap();
    b.run(&small).unwrap();
    assert_eq!(a.history().len(), 8);
    assert_eq!(a.history().len(), b.history().len());
    for (x, y) in a.history().iter().zip(b.history()) {
        assert_eq!(x.lr, y.lr);
        assert!(
            (x.loss - y.loss).abs() <= 1e-5 * x.loss.abs(),
            "{} vs {}",
            x.loss,
            y.loss
        );
        assert!(
            (x.grad_norm - y.grad_norm).abs() <= 1e-4 * x.grad_norm,
            "{} vs {}",
            x.grad_norm,
            y.grad_norm
        );
    }
    assert_eq!(
        b.method().var_store().variables().len(),
        a.method().var_store().variables().len()
    );
}

#[test]
fn the_nan_guard_names_the_step_and_keeps_the_last_checkpoint() {
    let _serial = serial();
    let src = ToySource {
        n: 16,
        dim: 4,
        batch: 4,
    };
    let mut c = cfg(OptimizerKind::Adam, 3);
    c.checkpoint.every_steps = 2;
    c.checkpoint.keep_last = 10;
    let mut m = ToyMethod::new(1, 4);
    m.nan_at = Some(5);
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(Box::new(m), c, Some(dir.path())).unwrap();
    let e = t.run(&src).unwrap_err();
    match &e {
        Error::NonFinite {
            what,
            step,
            last_checkpoint,
            ..
        } => {
            assert_eq!(*what, "loss");
            assert_eq!(*step, 5);
            let p = last_checkpoint.as_ref().unwrap();
            assert!(
                p.ends_with("ckpt-step0000000004.safetensors"),
                "{}",
                p.display()
            );
            let ck = selfsup_train::checkpoint::load(p).unwrap();
            assert_eq!(ck.state.step, 4);
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    assert!(e.to_string().contains("step 5"), "{e}");
    let ck = selfsup_train::Checkpointer::new(dir.path().join("checkpoints"), 10).unwrap();
    let steps: Vec<u64> = ck.list().unwrap().into_iter().map(|(s, _)| s).collect();
    assert_eq!(steps, vec![2, 4]);
}

#[test]
fn a_checkpoint_with_infinite_batch_norm_statistics_is_never_written() {
    let _serial = serial();
    let src = ToySource {
        n: 16,
        dim: 4,
        batch: 4,
    };
    let mut c = cfg(OptimizerKind::Adam, 3);
    c.checkpoint.every_steps = 2;
    c.checkpoint.keep_last = 10;
    let mut m = ToyMethod::new(1, 4);
    // The update of step 4 (0-based) leaves running_var = inf; the loss stays finite.
    m.inf_buffers_at = Some(4);
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(Box::new(m), c, Some(dir.path())).unwrap();
    let e = t.run(&src).unwrap_err();
    match &e {
        Error::NonFiniteState {
            name,
            step,
            last_checkpoint,
        } => {
            assert_eq!(name, "backbone.bn.running_var");
            assert_eq!(*step, 6);
            let p = last_checkpoint.as_ref().unwrap();
            assert!(
                p.ends_with("ckpt-step0000000004.safetensors"),
                "{}",
                p.display()
            );
        }
        other => panic!("expected NonFiniteState, got {other}"),
    }
    assert!(e.to_string().contains("running_var"), "{e}");
    // The newest checkpoint on disk is the good one, and every variable in it is finite.
    let ck = selfsup_train::Checkpointer::new(dir.path().join("checkpoints"), 10).unwrap();
    let latest = ck.latest().unwrap().unwrap();
    assert_eq!(latest.state.step, 4);
    for (n, v) in &latest.model {
        let all: bool = v.isfinite().all().int64_value(&[]) != 0;
        assert!(all, "{n} is not finite in the last good checkpoint");
    }
    // The run folder records libtorch's intra-op thread count (results depend on it).
    let threads: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("threads.json")).unwrap())
            .unwrap();
    assert_eq!(
        threads["torch_intra_op_threads"].as_i64(),
        Some(i64::from(tch::get_num_threads()))
    );
    // best.safetensors (of epoch 1, before the damage) is finite too.
    let best = selfsup_train::checkpoint::load(&ck.best_path()).unwrap();
    assert_eq!(best.state.step, 4);
}

#[test]
fn the_step_history_is_bounded_and_the_epoch_means_do_not_depend_on_it() {
    let _serial = serial();
    let src = ToySource {
        n: 16,
        dim: 4,
        batch: 2,
    };
    let run = |limit: Option<usize>| {
        let mut t = Trainer::new(
            Box::new(ToyMethod::new(1, 4)),
            cfg(OptimizerKind::Sgd, 3),
            None,
        )
        .unwrap();
        if let Some(l) = limit {
            t = t.with_history_limit(l);
        }
        t.run(&src).unwrap();
        (t.history().to_vec(), t.epoch_scalar_means())
    };
    let (full, full_means) = run(None);
    assert_eq!(full.len(), 24);
    let (short, means) = run(Some(3));
    assert!(
        (3..=6).contains(&short.len()),
        "{} records kept",
        short.len()
    );
    // The newest records are kept, unchanged.
    assert_eq!(short[..], full[full.len() - short.len()..]);
    // The last epoch's mean of the method's scalar, from the full history by hand.
    let last: Vec<f64> = full
        .iter()
        .filter(|r| r.epoch == 2)
        .map(|r| r.scalars.iter().find(|(k, _)| k == "loss_copy").unwrap().1)
        .collect();
    let expected = last.iter().sum::<f64>() / last.len() as f64;
    assert_eq!(means, full_means);
    assert_eq!(means.len(), 1);
    assert_eq!(means[0].0, "loss_copy");
    assert!(
        (means[0].1 - expected).abs() <= 1e-12 * expected.abs(),
        "{means:?} vs {expected}"
    );
}

#[test]
fn clipping_bounds_the_sgd_update_to_lr_times_max_norm() {
    let _serial = serial();
    let src = ToySource {
        n: 8,
        dim: 4,
        batch: 8,
    };
    let mut c = cfg(OptimizerKind::Sgd, 1);
    c.optimizer.momentum = 0.0;
    c.optimizer.nesterov = false;
    c.optimizer.weight_decay = 0.0;
    c.schedule.kind = ScheduleKind::Constant;
    c.schedule.warmup_epochs = 0.0;
    c.optimizer.lr = 0.1;
    c.clip_grad_norm = Some(1e-3);
    let m = ToyMethod::new(2, 4);
    let before = weights(selfsup_nn::Method::var_store(&m));
    let mut t = Trainer::new(Box::new(m), c, None).unwrap();
    t.run(&src).unwrap();
    let rec = &t.history()[0];
    assert!(rec.grad_norm > 1e-3);
    let after = weights(t.method().var_store());
    // Only trainable parameters count (BN running statistics move without the optimizer).
    let moved: f64 = before
        .iter()
        .zip(&after)
        .filter(|((n, _), _)| !n.contains("running"))
        .flat_map(|((_, b), (_, a))| b.iter().zip(a).map(|(x, y)| ((x - y) as f64).powi(2)))
        .sum::<f64>()
        .sqrt();
    let expected = 0.1 * 1e-3 * rec.grad_norm / (rec.grad_norm + 1e-6);
    assert!(
        (moved - expected).abs() < 1e-6,
        "moved {moved}, expected {expected}"
    );
}

#[test]
fn the_run_folder_holds_config_metrics_and_plots() {
    let _serial = serial();
    let src = ToySource {
        n: 16,
        dim: 4,
        batch: 4,
    };
    let dir = tempfile::tempdir().unwrap();
    let c = cfg(OptimizerKind::Adam, 2);
    let mut t = Trainer::new(Box::new(ToyMethod::new(1, 4)), c.clone(), Some(dir.path()))
        .unwrap()
        .with_epoch_eval(
            1,
            Box::new(|_m, epoch| Ok(vec![("fake_acc".into(), epoch as f64 / 10.0)])),
        );
    t.run(&src).unwrap();
    let back =
        TrainConfig::from_toml(&std::fs::read_to_string(dir.path().join("config.toml")).unwrap())
            .unwrap();
    assert_eq!(back, c);
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    assert!(csv.starts_with("kind,step,epoch,name,value\n"));
    assert!(csv.contains("epoch,8,2,fake_acc,0.2"), "{csv}");
    for f in ["loss.png", "eval.png", "checkpoints/best.safetensors"] {
        assert!(dir.path().join(f).exists(), "{f} missing");
    }
    let img = image::open(dir.path().join("loss.png")).unwrap();
    assert_eq!((img.width(), img.height()), (800, 500));
    // best = the epoch with the highest monitored value (fake_acc rises, so the last).
    let best =
        selfsup_train::checkpoint::load(&dir.path().join("checkpoints/best.safetensors")).unwrap();
    assert_eq!(best.state.best, Some(("fake_acc".to_string(), 0.2)));
}

#[test]
fn a_device_mismatch_is_a_config_error() {
    let _serial = serial();
    let mut c = cfg(OptimizerKind::Adam, 1);
    c.device = "cuda:0".into();
    if tch::Cuda::is_available() {
        return;
    }
    let e = match Trainer::new(Box::new(ToyMethod::new(1, 4)), c, None) {
        Err(e) => e,
        Ok(_) => panic!("expected an error"),
    };
    assert!(e.to_string().contains("device"), "{e}");
}

#[test]
fn the_grad_hook_runs_once_per_step_between_backward_and_the_norm() {
    let _serial = serial();
    let src = ToySource {
        n: 16,
        dim: 4,
        batch: 4,
    };
    let mut c = cfg(OptimizerKind::Sgd, 1);
    c.clip_grad_norm = None;
    c.grad_accum = 2;
    // Without a hook, then with one that halves every gradient: the first step's measured norm
    // halves (the same seed and weights give the same gradients), and the hook sees every step.
    let mut plain = Trainer::new(Box::new(ToyMethod::new(3, 4)), c.clone(), None).unwrap();
    plain.run(&src).unwrap();
    let mut seen = Vec::new();
    let mut hooked = Trainer::new(Box::new(ToyMethod::new(3, 4)), c.clone(), None)
        .unwrap()
        .with_grad_hook(Box::new(|vs, info| {
            seen.push(info.step);
            tch::no_grad(|| {
                for v in vs.trainable_variables() {
                    let mut g = v.grad();
                    if g.defined() {
                        let _ = g.f_mul_scalar_(0.5).unwrap();
                    }
                }
            });
            Ok(())
        }));
    hooked.run(&src).unwrap();
    let (a, b) = (plain.history()[0].grad_norm, hooked.history()[0].grad_norm);
    assert!(a > 0.0);
    assert!((b - 0.5 * a).abs() <= 1e-6 * a, "{b} is not half of {a}");
    drop(hooked);
    assert_eq!(
        seen,
        vec![0, 1],
        "one call per optimizer step (4 batches, grad_accum 2)"
    );

    // An error of the hook ends the run with that error.
    let mut failing = Trainer::new(Box::new(ToyMethod::new(3, 4)), c, None)
        .unwrap()
        .with_grad_hook(Box::new(|_, _| {
            Err(selfsup_core::Error::Other("all-reduce failed".into()).into())
        }));
    let e = failing.run(&src).unwrap_err();
    assert!(e.to_string().contains("all-reduce failed"), "{e}");
}

#[test]
fn the_online_probe_uses_the_step_features_and_leaves_the_method_alone() {
    let _serial = serial();
    let src = ToySource {
        n: 24,
        dim: 4,
        batch: 4,
    };
    let c = cfg(OptimizerKind::Adam, 2);
    let run = |step_features: bool| {
        let mut m = ToyMethod::new(5, 4);
        m.step_features = step_features;
        let embed_calls = m.embed_calls.clone();
        let mut t = Trainer::new(Box::new(m), c.clone(), None)
            .unwrap()
            .with_online_probe(3, 0.05)
            .unwrap();
        t.run(&src).unwrap();
        let probe_loss: Vec<f64> = t
            .history()
            .iter()
            .map(|r| {
                r.scalars
                    .iter()
                    .find(|(n, _)| n == "online_probe_loss")
                    .unwrap()
                    .1
            })
            .collect();
        let w = weights(t.method().var_store());
        (losses(&t), w, probe_loss, embed_calls.get())
    };
    let (l_embed, w_embed, probe_embed, calls_embed) = run(false);
    let (l_feat, w_feat, probe_feat, calls_feat) = run(true);
    // Without step features the probe pays one `embed` per micro-batch (6 per epoch, 2 epochs);
    // with them, none.
    assert_eq!(calls_embed, 12);
    assert_eq!(calls_feat, 0);
    // The probe never touches the method: its losses and weights are bit-identical either way.
    assert_eq!(l_feat, l_embed);
    assert_eq!(w_feat, w_embed);
    // The probe trained on other inputs (training-mode features, BatchNorm with batch statistics,
    // instead of eval-mode ones), so its losses differ.
    assert_eq!(probe_feat.len(), 12);
    assert!(probe_feat.iter().all(|l| l.is_finite()));
    assert_ne!(probe_feat, probe_embed);
}
