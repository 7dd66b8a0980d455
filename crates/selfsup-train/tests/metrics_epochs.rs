//! A run's metrics number epochs one way: the steps of the first epoch and the row that ends it are
//! all `epoch = 1` (before: `train` rows were 0-based and `epoch` rows counted epochs done, so the
//! first epoch's steps said 0 and its end said 1). The TensorBoard file of the run holds the same rows.

mod common;

use common::{serial, ToyMethod, ToySource};
use selfsup_train::{OptimizerKind, ProgressMode, TrainConfig, Trainer};

#[test]
fn train_and_epoch_rows_number_epochs_from_one_and_agree() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let src = ToySource {
        n: 16,
        dim: 4,
        batch: 4,
    };
    let mut c = TrainConfig {
        epochs: 3,
        seed: 5,
        log_every: 1,
        progress: ProgressMode::Off,
        ..Default::default()
    };
    c.optimizer.kind = OptimizerKind::Adam;
    let mut t = Trainer::new(Box::new(ToyMethod::new(1, 4)), c, Some(dir.path())).unwrap();
    t.run(&src).unwrap();
    drop(t);
    let rows = selfsup_train::metrics::read_jsonl(&dir.path().join("metrics.jsonl")).unwrap();
    let train: Vec<(u64, u64)> = rows
        .iter()
        .filter(|r| r.kind == "train")
        .map(|r| (r.step, r.epoch))
        .collect();
    // 4 steps per epoch: steps 1–4 are epoch 1, 5–8 epoch 2, 9–12 epoch 3.
    assert_eq!(
        train,
        (1..=12).map(|s| (s, (s - 1) / 4 + 1)).collect::<Vec<_>>()
    );
    let ends: Vec<(u64, u64)> = rows
        .iter()
        .filter(|r| r.kind == "epoch")
        .map(|r| (r.step, r.epoch))
        .collect();
    assert_eq!(ends, [(4, 1), (8, 2), (12, 3)]);
    // Every step's epoch is the epoch of the row that ends it.
    for (step, epoch) in &train {
        let end = ends.iter().find(|(s, _)| s >= step).unwrap();
        assert_eq!(end.1, *epoch, "step {step}");
    }
    // TensorBoard: one `train/loss` point per step, at that step.
    let events = selfsup_train::tensorboard::read_events(
        &dir.path().join(selfsup_train::tensorboard::EVENTS_FILE),
    )
    .unwrap();
    let loss_steps: Vec<i64> = events
        .iter()
        .filter(|e| e.scalars.iter().any(|(k, _)| k == "train/loss"))
        .map(|e| e.step)
        .collect();
    assert_eq!(loss_steps, (1..=12).collect::<Vec<_>>());
}
