//! libtorch smoke test: an MLP trains on the vendored MNIST subset for a few dozen steps and its loss falls.
//! (This is the check that libtorch is found, links, and computes gradients.)

use flate2::read::GzDecoder;
use selfsup_nn::{array_to_tensor, Mlp, MlpConfig};
use std::io::Read;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind};

fn load_mnist(limit: usize) -> (Vec<f32>, Vec<i64>) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/mnist5k/mnist_5k.csv.gz"
    );
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(path).expect("vendored MNIST subset"))
        .read_to_string(&mut text)
        .unwrap();
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for line in text.lines().take(limit) {
        let vals: Vec<f32> = line
            .split(',')
            .map(|v| v.trim().parse::<f32>().unwrap())
            .collect();
        assert_eq!(vals.len(), 785);
        xs.extend(vals[..784].iter().map(|v| v / 255.0));
        ys.push(vals[784] as i64);
    }
    (xs, ys)
}

#[test]
fn mlp_trains_on_mnist_and_its_loss_falls() {
    tch::manual_seed(0);
    let (xs, ys) = load_mnist(1024);
    let n = ys.len();
    let x = array_to_tensor(
        ndarray::ArrayView2::from_shape((n, 784), &xs).unwrap(),
        Device::Cpu,
    )
    .unwrap();
    let y = array_to_tensor(ndarray::ArrayView1::from(&ys[..]), Device::Cpu).unwrap();
    let vs = nn::VarStore::new(Device::Cpu);
    let mlp = Mlp::new(
        &vs.root(),
        &MlpConfig {
            input_dim: 784,
            hidden: vec![128],
            output_dim: 10,
            batch_norm: false,
        },
    )
    .unwrap();
    let mut opt = nn::Adam::default().build(&vs, 1e-3).unwrap();
    let eval = |mlp: &Mlp| {
        mlp.forward_t(&x, false)
            .cross_entropy_for_logits(&y)
            .double_value(&[])
    };
    let before = eval(&mlp);
    for step in 0..40 {
        let idx = tch::Tensor::arange_start(
            (step * 128 % n) as i64,
            ((step * 128 % n) + 128) as i64,
            (Kind::Int64, Device::Cpu),
        );
        let loss = mlp
            .forward_t(&x.index_select(0, &idx), true)
            .cross_entropy_for_logits(&y.index_select(0, &idx));
        opt.backward_step(&loss);
    }
    let after = eval(&mlp);
    assert!(
        before > 2.0,
        "untrained loss should be near ln 10, got {before}"
    );
    assert!(
        after < 0.6 * before,
        "loss should fall: {before} -> {after}"
    );
    let acc = mlp
        .forward_t(&x, false)
        .argmax(-1, false)
        .eq_tensor(&y)
        .to_kind(Kind::Float)
        .mean(Kind::Float)
        .double_value(&[]);
    assert!(acc > 0.8, "training accuracy {acc}");
}
