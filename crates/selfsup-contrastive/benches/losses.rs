//! Loss forward + backward on float32 `N×128` embeddings (two views), the counterpart of
//! `scripts/bench/losses.py` (lightly, same ids). Throughput is in pairs (`N`) per second.
//! Every case runs at 1 and at 2 libtorch threads (ids `<case>/1thread`, `<case>/2threads`), as the
//! Python side does; the table shows the median of N samples with the slowest and fastest.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use selfsup_contrastive::losses::*;
use tch::{Device, Kind, Tensor};

type LossFn = Box<dyn Fn(&Tensor, &Tensor) -> Tensor>;

fn bench(c: &mut Criterion) {
    tch::manual_seed(0);
    let cases: Vec<(&str, i64, LossFn)> = vec![
        (
            "ntxent/fwd_bwd_256x128",
            256,
            Box::new(|a, b| NtXentLoss::new(0.5).unwrap().forward(a, b).unwrap()),
        ),
        (
            "ntxent/fwd_bwd_1024x128",
            1024,
            Box::new(|a, b| NtXentLoss::new(0.5).unwrap().forward(a, b).unwrap()),
        ),
        (
            "dcl/fwd_bwd_256x128",
            256,
            Box::new(|a, b| DclLoss::dcl(0.1).unwrap().forward(a, b).unwrap()),
        ),
        (
            "supcon/fwd_bwd_256x128",
            256,
            Box::new(|a, b| SupConLoss::new(0.1).unwrap().forward(a, b, None).unwrap()),
        ),
        (
            "negative_cosine/fwd_bwd_256x128",
            256,
            Box::new(|a, b| NegativeCosineSimilarity.forward(a, b).unwrap()),
        ),
        (
            "barlow_twins/fwd_bwd_256x128",
            256,
            Box::new(|a, b| BarlowTwinsLoss::default().forward(a, b).unwrap()),
        ),
        (
            "vicreg/fwd_bwd_256x128",
            256,
            Box::new(|a, b| VicRegLoss::default().forward(a, b).unwrap()),
        ),
    ];
    for threads in [1, 2] {
        tch::set_num_threads(threads);
        let param = if threads == 1 {
            "1thread".to_string()
        } else {
            format!("{threads}threads")
        };
        for (id, n, f) in &cases {
            let (group, name) = id.split_once('/').unwrap();
            let mut g = c.benchmark_group(group);
            g.throughput(Throughput::Elements(*n as u64));
            let a = Tensor::randn([*n, 128], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            let b = Tensor::randn([*n, 128], (Kind::Float, Device::Cpu)).set_requires_grad(true);
            g.bench_function(BenchmarkId::new(name, &param), |bch| {
                bch.iter(|| {
                    let mut a = a.shallow_clone();
                    let mut b = b.shallow_clone();
                    a.zero_grad();
                    b.zero_grad();
                    let l = f(&a, &b);
                    l.backward();
                    l
                })
            });
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
