//! The smallest selfsup program: checks libtorch and trains a two-layer MLP on the vendored MNIST subset
//! for a few dozen steps, printing the loss. Run: `cargo run --release -p selfsup-examples --example mlp_smoke`.

#![allow(clippy::print_stdout)] // an example program reports to its user

use anyhow::Result;
use selfsup::nn::{Mlp, MlpConfig};
use std::io::Read;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

fn main() -> Result<()> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/mnist5k/mnist_5k.csv.gz"
    );
    let mut text = String::new();
    flate2_read(path, &mut text)?;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let vals: Vec<f32> = line
            .split(',')
            .map(|v| v.trim().parse::<f32>())
            .collect::<Result<_, _>>()?;
        xs.extend(vals[..784].iter().map(|v| v / 255.0));
        ys.push(vals[784] as i64);
    }
    let n = ys.len() as i64;
    let x = Tensor::from_slice(&xs).reshape([n, 784]);
    let y = Tensor::from_slice(&ys);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let mlp = Mlp::new(
        &vs.root(),
        &MlpConfig {
            input_dim: 784,
            hidden: vec![128],
            output_dim: 10,
            batch_norm: false,
        },
    )?;
    let mut opt = nn::Adam::default().build(&vs, 1e-3)?;
    for step in 0..200i64 {
        let start = (step * 256) % (n - 256);
        let loss = mlp
            .forward_t(&x.narrow(0, start, 256), true)
            .cross_entropy_for_logits(&y.narrow(0, start, 256));
        opt.backward_step(&loss);
        if step % 50 == 0 || step == 199 {
            println!("step {step:>3}  loss {:.4}", loss.double_value(&[]));
        }
    }
    let acc = mlp
        .forward_t(&x, false)
        .argmax(-1, false)
        .eq_tensor(&y)
        .to_kind(Kind::Float)
        .mean(Kind::Float);
    println!(
        "training-set accuracy after 200 steps: {:.3}",
        acc.double_value(&[])
    );
    Ok(())
}

fn flate2_read(path: &str, out: &mut String) -> Result<()> {
    let bytes = std::fs::read(path)?;
    let mut d = flate2::read::GzDecoder::new(&bytes[..]);
    d.read_to_string(out)?;
    Ok(())
}
