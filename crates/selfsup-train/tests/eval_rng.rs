//! The evaluations leave libtorch's global generator alone (issue 15/18): the linear probe, the
//! fine-tune and the online probe draw their initial weights and batch orders from keyed host
//! generators, so they neither reseed nor advance the caller's generator, and their results do not
//! depend on its state. A file of its own: the test seeds and reads the global generator, which
//! parallel tests in one binary would disturb.

use selfsup_train::eval::{
    finetune, linear_probe, FinetuneConfig, LinearProbeConfig, OnlineProbe, ProbeOptimizer,
};
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

/// Two noisy Gaussian blobs in 4-D, drawn from a fixed LCG (not from libtorch): `(x, y)`.
fn blobs(n: usize, salt: u64) -> (Tensor, Tensor) {
    let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ salt;
    let mut u = || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let c = (i % 2) as i64;
        for d in 0..4 {
            let centre = if d == 0 { c as f32 - 0.5 } else { 0.0 };
            x.push(centre + 2.0 * u());
        }
        y.push(c);
    }
    (
        Tensor::from_slice(&x).view([n as i64, 4]),
        Tensor::from_slice(&y),
    )
}

/// Runs `f` between `manual_seed(5)` and a draw, and checks the draw is what it is without `f`:
/// `f` neither reseeded nor advanced the global generator.
fn leaves_the_generator_alone<T>(what: &str, f: impl FnOnce() -> T) -> T {
    tch::manual_seed(5);
    let expected = Tensor::rand([16], (Kind::Float, Device::Cpu));
    tch::manual_seed(5);
    let out = f();
    let got = Tensor::rand([16], (Kind::Float, Device::Cpu));
    assert!(
        got.equal(&expected),
        "{what} changed libtorch's global generator"
    );
    out
}

#[test]
fn probes_and_finetuning_neither_touch_nor_depend_on_the_global_generator() {
    let (x, y) = blobs(96, 1);
    let (xt, yt) = blobs(64, 2);
    // Mini-batch Adam: the init and a permutation every epoch.
    let cfg = LinearProbeConfig {
        optimizer: ProbeOptimizer::Adam,
        epochs: 5,
        batch_size: 16,
        seed: 7,
        ..Default::default()
    };
    let a = leaves_the_generator_alone("linear_probe", || {
        linear_probe(&x, &y, &xt, &yt, 2, &cfg).unwrap()
    });
    tch::manual_seed(999);
    let b = linear_probe(&x, &y, &xt, &yt, 2, &cfg).unwrap();
    assert_eq!(a, b, "the probe depends on the global generator's state");
    let c = linear_probe(&x, &y, &xt, &yt, 2, &LinearProbeConfig { seed: 8, ..cfg }).unwrap();
    assert_ne!(a.final_loss, c.final_loss, "the probe ignores its seed");

    // Fine-tuning: a linear encoder whose weights are set by hand, a new head from the seed.
    let tune = || {
        let vs = VarStore::new(Device::Cpu);
        let enc = nn::linear(
            vs.root() / "enc",
            4,
            3,
            nn::LinearConfig {
                bias: false,
                ..Default::default()
            },
        );
        tch::no_grad(|| {
            let mut w = enc.ws.shallow_clone();
            w.copy_(
                &Tensor::from_slice(&[
                    0.5f32, 0.1, 0.0, 0.2, -0.3, 0.4, 0.1, 0.0, 0.2, 0.2, -0.1, 0.3,
                ])
                .view([3, 4]),
            );
        });
        let cfg = FinetuneConfig {
            epochs: 3,
            batch_size: 32,
            seed: 3,
            ..Default::default()
        };
        finetune(
            &vs,
            &|t, _| enc.forward(t),
            3,
            (&x, &y),
            (&xt, &yt),
            2,
            &cfg,
        )
        .unwrap()
    };
    // (The hand-made encoder's own `nn::linear` draws from the generator before its weights are
    // overwritten, so only the dependence is checked here, not the generator afterwards.)
    tch::manual_seed(1);
    let f1 = tune();
    tch::manual_seed(2);
    let f2 = tune();
    assert_eq!(
        f1, f2,
        "fine-tuning depends on the global generator's state"
    );

    // The online probe: the same initial weights for a seed, whatever the global state.
    let weights = |seed: u64| {
        let p = leaves_the_generator_alone("OnlineProbe::seeded", || {
            OnlineProbe::seeded(Device::Cpu, 4, 2, 0.01, seed).unwrap()
        });
        let mut v: Vec<(String, Tensor)> = p.var_store().variables().into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    };
    let (w1, w2, w3) = (weights(4), weights(4), weights(5));
    assert!(w1.iter().zip(&w2).all(|(a, b)| a.equal(b)));
    assert!(
        !w1.iter().zip(&w3).all(|(a, b)| a.equal(b)),
        "the seed is ignored"
    );
}
