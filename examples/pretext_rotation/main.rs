//! RotNet on the vendored MNIST subset: train the rotation pretext task, then measure what it taught.
//!
//! `cargo run --release -p selfsup-examples --example pretext_rotation -- [epochs]` (default 3).
//! Reports, on 1000 held-out images, the rotation accuracy of the head (chance 0.25) and the encoder's
//! kNN and linear-probe digit accuracy at random initialisation and after pretext training.
#![allow(clippy::print_stdout)] // an example program reports to its user

use anyhow::Result;
use selfsup::core::{Sample, SampleKey};
use selfsup::data::{Dataset, MnistCsv};
use selfsup::pretext::methods::PretextMethod;
use selfsup::pretext::{pretext_generator, PretextConfig, PretextGenerator, Target};
use selfsup_nn::backbones::ConvNetConfig;
use selfsup_nn::{BackboneConfig, Batch, Method, StepInfo};
use selfsup_train::eval::{knn_accuracy, linear_probe, KnnConfig, LinearProbeConfig};
use tch::nn::{OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};

fn image_tensor(s: &Sample) -> Result<Tensor> {
    match s {
        Sample::Image(img) => {
            let (c, h, w) = img.dims();
            Ok(Tensor::from_slice(img.data()).reshape([c as i64, h as i64, w as i64]))
        }
        Sample::ImageU8(img) => image_tensor(&Sample::Image(img.to_f32())),
        _ => anyhow::bail!("expected an image"),
    }
}

/// One batch of the pretext task, collated as the loader does (view 0 stacked, class targets).
fn pretext_batch(
    g: &dyn PretextGenerator,
    samples: &[(usize, Sample)],
    epoch: u64,
) -> Result<Batch> {
    let (mut xs, mut ts) = (Vec::new(), Vec::new());
    for (i, s) in samples {
        let (views, t) = g.generate_keyed(s, SampleKey::new(0, epoch, *i as u64))?;
        xs.push(image_tensor(&views[0])?);
        let Target::Class(k) = t else {
            anyhow::bail!("rotation gives class targets")
        };
        ts.push(Tensor::from(k));
    }
    Ok(Batch {
        views: vec![Tensor::stack(&xs, 0)],
        labels: None,
        targets: Some(Tensor::stack(&ts, 0)),
        indices: None,
    })
}

fn features(m: &dyn Method, x: &Tensor) -> Result<Tensor> {
    let parts: Vec<Tensor> = x
        .split(500, 0)
        .iter()
        .map(|c| m.embed(c))
        .collect::<Result<_, _>>()?;
    Ok(Tensor::cat(&parts, 0))
}

fn downstream(m: &dyn Method, x: (&Tensor, &Tensor), y: (&Tensor, &Tensor)) -> Result<(f64, f64)> {
    let (ftr, fte) = (features(m, x.0)?, features(m, x.1)?);
    let knn = knn_accuracy(&ftr, y.0, &fte, y.1, 10, &KnnConfig::default())?;
    let probe = linear_probe(&ftr, y.0, &fte, y.1, 10, &LinearProbeConfig::default())?;
    Ok((knn, probe.test_acc))
}

fn main() -> Result<()> {
    selfsup_examples::init_logging();
    let epochs = selfsup_examples::epochs_arg(3)?;
    let t0 = std::time::Instant::now();
    let ds = MnistCsv::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/mnist5k/mnist_5k.csv.gz"
    ))?;
    let (n_train, n_test) = (4000usize, 1000usize);
    // The CSV is sorted by digit: split on a seeded permutation.
    let order = selfsup::core::Generator::from_domain("example_split", &[0]).permutation(ds.len());
    let all: Vec<(usize, Sample, i64)> = order[..n_train + n_test]
        .iter()
        .map(|&i| ds.get(i).map(|it| (i, it.sample, it.label.unwrap_or(-1))))
        .collect::<Result<_, _>>()?;
    let stack = |r: std::ops::Range<usize>| -> Result<(Tensor, Tensor)> {
        let x: Vec<Tensor> = all[r.clone()]
            .iter()
            .map(|(_, s, _)| image_tensor(s))
            .collect::<Result<_>>()?;
        let y: Vec<i64> = all[r].iter().map(|(_, _, l)| *l).collect();
        Ok((Tensor::stack(&x, 0), Tensor::from_slice(&y)))
    };
    let (xtr, ytr) = stack(0..n_train)?;
    let (xte, yte) = stack(n_train..n_train + n_test)?;

    let cfg = PretextConfig::from_kind("rotation")?;
    let g = pretext_generator(&cfg)?;
    let backbone = BackboneConfig::ConvNet(ConvNetConfig::default());
    tch::manual_seed(0);
    let mut m = PretextMethod::new(VarStore::new(Device::Cpu), &cfg, &backbone, &[1, 28, 28])?;
    let (knn0, probe0) = downstream(&m, (&xtr, &xte), (&ytr, &yte))?;
    println!("random init: kNN {knn0:.3}, linear probe {probe0:.3}");

    let mut opt = tch::nn::Adam::default().build(m.var_store(), 1e-3)?;
    let batch = 128;
    let steps_per_epoch = n_train / batch;
    let train: Vec<(usize, Sample)> = all[..n_train]
        .iter()
        .map(|(i, s, _)| (*i, s.clone()))
        .collect();
    for epoch in 0..epochs {
        let mut order: Vec<usize> = (0..n_train).collect();
        selfsup::core::Generator::from_domain("example_shuffle", &[epoch]).shuffle(&mut order);
        let mut acc = 0.0;
        for s in 0..steps_per_epoch {
            let chunk: Vec<(usize, Sample)> = order[s * batch..(s + 1) * batch]
                .iter()
                .map(|&i| train[i].clone())
                .collect();
            let b = pretext_batch(g.as_ref(), &chunk, epoch)?;
            let info = StepInfo {
                step: epoch * steps_per_epoch as u64 + s as u64,
                total_steps: epochs * steps_per_epoch as u64,
                epoch,
                total_epochs: epochs,
            };
            let out = m.step(&b, &info)?;
            opt.backward_step(&out.loss);
            acc += out.scalars[0].1;
        }
        println!(
            "epoch {epoch}: train pretext_acc {:.3}",
            acc / steps_per_epoch as f64
        );
    }
    let held: Vec<(usize, Sample)> = all[n_train..]
        .iter()
        .map(|(i, s, _)| (*i, s.clone()))
        .collect();
    let b = pretext_batch(g.as_ref(), &held, 1000)?;
    let pred = m.predict(&b)?;
    let rot_acc = pred
        .eq_tensor(b.targets.as_ref().expect("targets"))
        .to_kind(Kind::Float)
        .mean(Kind::Float)
        .double_value(&[]);
    let (knn1, probe1) = downstream(&m, (&xtr, &xte), (&ytr, &yte))?;
    println!("held-out rotation accuracy {rot_acc:.3} (chance 0.25)");
    println!("after {epochs} epoch(s) of rotation: kNN {knn1:.3} (random init {knn0:.3}), linear probe {probe1:.3} (random init {probe0:.3})");
    println!("wall time {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}
