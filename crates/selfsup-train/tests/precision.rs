//! bf16 CPU autocast: inside an [`AutocastGuard`] a matmul and a conv2d of fp32 tensors return bf16 and
//! outside fp32; guards nest and restore what they found; gradients reach the fp32 parameters; the
//! trainer with `train.precision = "bf16"` runs the step's forward in bf16, lowers the loss, keeps every
//! parameter fp32 and leaves autocast off after the run.

mod common;

use common::{serial, ToyMethod, ToySource};
use selfsup_train::precision::{cpu_autocast_enabled, AutocastGuard};
use selfsup_train::{OptimizerKind, Outcome, Precision, ProgressMode, TrainConfig, Trainer};
use tch::{Device, Kind, Tensor};

fn fp32(shape: &[i64]) -> Tensor {
    Tensor::rand(shape, (Kind::Float, Device::Cpu))
}

fn matmul_kind() -> Kind {
    fp32(&[4, 8]).matmul(&fp32(&[8, 3])).kind()
}

#[test]
fn inside_the_guard_matmul_and_conv2d_run_in_bf16_and_outside_in_fp32() {
    let (x, w) = (fp32(&[2, 3, 8, 8]), fp32(&[5, 3, 3, 3]));
    let conv = || {
        x.conv2d(&w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1)
            .kind()
    };
    assert_eq!((matmul_kind(), conv()), (Kind::Float, Kind::Float));
    {
        let _g = AutocastGuard::cpu(Kind::BFloat16).unwrap();
        assert!(cpu_autocast_enabled().unwrap());
        assert_eq!((matmul_kind(), conv()), (Kind::BFloat16, Kind::BFloat16));
        // An op on the fp32 list (a loss) still returns fp32.
        let logits = fp32(&[4, 3]).matmul(&fp32(&[3, 3]));
        let y = Tensor::from_slice(&[0i64, 1, 2, 0]);
        assert_eq!(logits.cross_entropy_for_logits(&y).kind(), Kind::Float);
    }
    assert!(!cpu_autocast_enabled().unwrap());
    assert_eq!((matmul_kind(), conv()), (Kind::Float, Kind::Float));
}

#[test]
fn guards_nest_and_restore_the_previous_state() {
    let outer = AutocastGuard::cpu(Kind::BFloat16).unwrap();
    {
        let _off = AutocastGuard::cpu_disabled().unwrap();
        assert!(!cpu_autocast_enabled().unwrap());
        assert_eq!(matmul_kind(), Kind::Float);
        {
            let _half = AutocastGuard::cpu(Kind::Half).unwrap();
            assert_eq!(matmul_kind(), Kind::Half);
        }
        assert_eq!(matmul_kind(), Kind::Float);
    }
    assert!(cpu_autocast_enabled().unwrap());
    assert_eq!(matmul_kind(), Kind::BFloat16, "the outer dtype is restored");
    drop(outer);
    assert!(!cpu_autocast_enabled().unwrap());
    assert_eq!(matmul_kind(), Kind::Float);
}

#[test]
fn gradients_of_a_bf16_forward_reach_the_fp32_parameters() {
    let w = fp32(&[8, 3]).set_requires_grad(true);
    let loss = {
        let _g = AutocastGuard::cpu(Kind::BFloat16).unwrap();
        let y = fp32(&[4, 8]).matmul(&w);
        assert_eq!(y.kind(), Kind::BFloat16);
        y.to_kind(Kind::Float).square().mean(Kind::Float)
    };
    loss.backward();
    let g = w.grad();
    assert_eq!((w.kind(), g.kind()), (Kind::Float, Kind::Float));
    assert!(g.abs().sum(Kind::Float).double_value(&[]) > 0.0);
}

#[test]
fn the_trainer_in_bf16_lowers_the_loss_and_keeps_fp32_parameters() {
    let _serial = serial();
    let src = ToySource {
        n: 32,
        dim: 6,
        batch: 8,
    };
    let mut c = TrainConfig {
        epochs: 8,
        seed: 11,
        log_every: 1,
        progress: ProgressMode::Off,
        precision: Precision::Bf16,
        ..Default::default()
    };
    c.optimizer.kind = OptimizerKind::Adam;
    c.optimizer.lr = 0.02;
    let mut m = ToyMethod::new(1, 6);
    m.step_features = true; // bf16 features into the fp32 online probe
    let hidden = m.hidden_kind.clone();
    let mut t = Trainer::new(Box::new(m), c, None)
        .unwrap()
        .with_online_probe(3, 0.01)
        .unwrap();
    assert_eq!(t.run(&src).unwrap(), Outcome::Finished);
    assert_eq!(
        hidden.get(),
        Some(Kind::BFloat16),
        "the step ran under autocast"
    );
    assert!(
        !cpu_autocast_enabled().unwrap(),
        "autocast ends with the step"
    );
    let l: Vec<f64> = t.history().iter().map(|r| r.loss).collect();
    let first: f64 = l[..4].iter().sum::<f64>() / 4.0;
    let last: f64 = l[l.len() - 4..].iter().sum::<f64>() / 4.0;
    assert!(last < 0.5 * first, "loss did not fall: {first} -> {last}");
    for (name, v) in t.method().var_store().variables() {
        assert_eq!(v.kind(), Kind::Float, "{name}");
    }
    for (name, v) in t.optimizer().state_tensors() {
        // Moments in fp32, step counts in fp64; nothing in a reduced type.
        assert!(
            matches!(v.kind(), Kind::Float | Kind::Double),
            "{name}: {:?}",
            v.kind()
        );
    }
}
