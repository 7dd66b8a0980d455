//! The best checkpoint when the evaluation runs every few epochs (issue 17): epochs without an
//! evaluation must not replace a better evaluated epoch (a loss and an accuracy are not comparable,
//! and before the fix "best" became "latest").

mod common;

use common::{serial, ToyMethod, ToySource};
use selfsup_train::{ProgressMode, TrainConfig, Trainer};

#[test]
fn epochs_without_an_evaluation_do_not_replace_the_best_evaluated_one() {
    let _serial = serial();
    let src = ToySource {
        n: 16,
        dim: 4,
        batch: 4,
    };
    let dir = tempfile::tempdir().unwrap();
    let c = TrainConfig {
        epochs: 5,
        seed: 3,
        log_every: 1,
        progress: ProgressMode::Off,
        ..Default::default()
    };
    // Evaluated after epochs 2, 4 and 5 (the last): the accuracy peaks at epoch 2.
    let acc = |epoch: u64| match epoch {
        2 => 0.9,
        4 => 0.5,
        _ => 0.6,
    };
    let mut t = Trainer::new(Box::new(ToyMethod::new(1, 4)), c, Some(dir.path()))
        .unwrap()
        .with_epoch_eval(
            2,
            Box::new(move |_m, epoch| Ok(vec![("fake_acc".into(), acc(epoch))])),
        );
    t.run(&src).unwrap();
    let best =
        selfsup_train::checkpoint::load(&dir.path().join("checkpoints/best.safetensors")).unwrap();
    assert_eq!(best.state.best, Some(("fake_acc".to_string(), 0.9)));
    // Saved at the end of epoch 2: 2 epochs of 4 steps.
    assert_eq!((best.state.epoch, best.state.step), (2, 8));
}

#[test]
fn without_an_evaluation_the_lowest_epoch_loss_is_best() {
    let _serial = serial();
    let src = ToySource {
        n: 16,
        dim: 4,
        batch: 4,
    };
    let dir = tempfile::tempdir().unwrap();
    let mut c = TrainConfig {
        epochs: 3,
        seed: 3,
        log_every: 1,
        progress: ProgressMode::Off,
        ..Default::default()
    };
    c.optimizer.lr = 0.01;
    let mut t = Trainer::new(Box::new(ToyMethod::new(1, 4)), c, Some(dir.path())).unwrap();
    t.run(&src).unwrap();
    let rows = selfsup_train::metrics::read_jsonl(&dir.path().join("metrics.jsonl")).unwrap();
    let losses: Vec<f64> = rows
        .iter()
        .filter(|r| r.kind == "epoch")
        .map(|r| r.values["epoch_loss"])
        .collect();
    let (argmin, min) =
        losses
            .iter()
            .enumerate()
            .fold((0, f64::MAX), |a, (i, &l)| if l < a.1 { (i, l) } else { a });
    let best =
        selfsup_train::checkpoint::load(&dir.path().join("checkpoints/best.safetensors")).unwrap();
    let (name, v) = best.state.best.unwrap();
    assert_eq!(name, "epoch_loss_neg");
    assert!((v + min).abs() < 1e-12, "{v} vs {min}");
    assert_eq!(best.state.epoch, argmin as u64 + 1);
}
