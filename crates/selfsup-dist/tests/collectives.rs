//! Collectives of the c10d shim across 2 and 3 real processes: results equal their closed forms for
//! f32, f64 and i64 in several shapes (including a scalar and a non-contiguous tensor), over a
//! FileStore and over a TCPStore (whose set/get/add and prefixed views are checked too); a rank that dies or stops answering makes the others fail within
//! the timeout instead of hanging.

mod common;

use selfsup_dist::ReduceOp;
use std::time::{Duration, Instant};
use tch::{Kind, Tensor};

const SHAPES: &[&[i64]] = &[&[], &[7], &[3, 4], &[2, 3, 5]];
const KINDS: &[Kind] = &[Kind::Float, Kind::Double, Kind::Int64];

/// Rank r's tensor: element i (flat) is (r + 1)·(i + 1).
fn rank_tensor(r: usize, shape: &[i64], kind: Kind) -> Tensor {
    let n: i64 = shape.iter().product();
    (Tensor::arange(n, (Kind::Double, tch::Device::Cpu)) + 1.0)
        .g_mul_scalar((r + 1) as f64)
        .reshape(shape)
        .to_kind(kind)
}

/// Flat values of a tensor as f64.
fn values(t: &Tensor) -> Vec<f64> {
    Vec::<f64>::try_from(&t.to_kind(Kind::Double).reshape([-1])).unwrap()
}

fn assert_close(what: &str, got: &[f64], want: impl Fn(usize) -> f64) {
    for (i, g) in got.iter().enumerate() {
        let w = want(i);
        assert!(
            (g - w).abs() <= 1e-6 * w.abs().max(1.0),
            "{what}: element {i} is {g}, expected {w}"
        );
    }
}

fn run_collectives() {
    let (store, pg) = common::join(Duration::from_secs(20));
    let (r, w) = (pg.rank(), pg.size());
    let wf = w as f64;
    // The store itself: every rank sees every rank's key; `add` counts all ranks; a prefixed view
    // has its own keys.
    store
        .set(&format!("key{r}"), format!("value {r}").as_bytes())
        .unwrap();
    for q in 0..w {
        assert_eq!(
            store.get(&format!("key{q}")).unwrap(),
            format!("value {q}").as_bytes()
        );
    }
    store.add("counter", 1).unwrap();
    let sub = store.prefixed("sub").unwrap();
    sub.set(&format!("key{r}"), b"prefixed").unwrap();
    pg.barrier().unwrap();
    assert_eq!(store.add("counter", 0).unwrap(), w as i64);
    assert_eq!(sub.get(&format!("key{r}")).unwrap(), b"prefixed");
    assert_eq!(
        store.get(&format!("key{r}")).unwrap(),
        format!("value {r}").as_bytes()
    );
    for &kind in KINDS {
        for &shape in SHAPES {
            let what = format!("{kind:?} {shape:?}");
            // all_reduce: Σ_r (r+1)(i+1) = (i+1)·W(W+1)/2; max = W(i+1); min = i+1.
            let t = rank_tensor(r, shape, kind);
            pg.all_reduce(&t, ReduceOp::Sum).unwrap();
            assert_eq!(t.size(), shape, "{what}");
            assert_eq!(t.kind(), kind, "{what}");
            assert_close(&format!("sum {what}"), &values(&t), |i| {
                (i + 1) as f64 * wf * (wf + 1.0) / 2.0
            });
            let t = rank_tensor(r, shape, kind);
            pg.all_reduce(&t, ReduceOp::Max).unwrap();
            assert_close(&format!("max {what}"), &values(&t), |i| (i + 1) as f64 * wf);
            let t = rank_tensor(r, shape, kind);
            pg.all_reduce(&t, ReduceOp::Min).unwrap();
            assert_close(&format!("min {what}"), &values(&t), |i| (i + 1) as f64);
            let t = rank_tensor(r, shape, kind);
            if kind == Kind::Int64 {
                assert!(pg.all_reduce(&t, ReduceOp::Avg).is_err(), "Avg of int64");
            } else {
                pg.all_reduce(&t, ReduceOp::Avg).unwrap();
                assert_close(&format!("avg {what}"), &values(&t), |i| {
                    (i + 1) as f64 * (wf + 1.0) / 2.0
                });
            }
            // all_gather: chunk q is rank q's tensor.
            let t = rank_tensor(r, shape, kind);
            let g = pg.all_gather(&t).unwrap();
            let n: usize = shape.iter().product::<i64>() as usize;
            let mut want_shape = if shape.is_empty() {
                vec![1]
            } else {
                shape.to_vec()
            };
            want_shape[0] *= w as i64;
            assert_eq!(g.size(), want_shape, "gather {what}");
            assert_close(&format!("gather {what}"), &values(&g), |j| {
                let (q, i) = (j / n, j % n);
                ((q + 1) * (i + 1)) as f64
            });
            // broadcast from the last rank: everyone ends with rank W-1's tensor.
            let t = rank_tensor(r, shape, kind);
            pg.broadcast(&t, w - 1).unwrap();
            assert_close(&format!("broadcast {what}"), &values(&t), |i| {
                (w * (i + 1)) as f64
            });
        }
    }
    // A non-contiguous tensor (a transpose) is reduced in place too.
    let t = rank_tensor(r, &[3, 4], Kind::Float).tr();
    assert!(!t.is_contiguous());
    pg.all_reduce(&t, ReduceOp::Sum).unwrap();
    let base = Tensor::arange(12, (Kind::Double, tch::Device::Cpu)) + 1.0;
    let want = values(&(base.reshape([3, 4]).tr() * (wf * (wf + 1.0) / 2.0)));
    assert_close("non-contiguous sum", &values(&t), |i| want[i]);
    // A root outside the group is an error, not an abort.
    assert!(pg.broadcast(&Tensor::from(1.0f32), w).is_err());
    pg.barrier().unwrap();
}

/// Rank W-1 leaves (exits, or sleeps without answering); the others must get an error from their
/// next collective within the timeout.
fn run_dead_peer(mode: &str) {
    let timeout = Duration::from_secs(3);
    let (_store, pg) = common::join(timeout);
    let (r, w) = (pg.rank(), pg.size());
    pg.barrier().unwrap();
    if r == w - 1 {
        if mode == "exit" {
            std::process::exit(3);
        }
        // Stay alive without answering until the others reported their errors (at most 60 s).
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60)
            && !(0..w - 1).all(|q| common::dir().join(format!("error-{q}.txt")).exists())
        {
            std::thread::sleep(Duration::from_millis(100));
        }
        std::process::exit(4);
    }
    let t0 = Instant::now();
    let t = Tensor::ones([1000], (Kind::Float, tch::Device::Cpu));
    let res = pg.all_reduce(&t, ReduceOp::Sum);
    let took = t0.elapsed();
    let err = res.expect_err("all_reduce with a dead peer must fail");
    assert!(
        took < timeout + Duration::from_secs(5),
        "error after {took:?}, timeout {timeout:?}: {err}"
    );
    std::fs::write(
        common::dir().join(format!("error-{r}.txt")),
        format!("{:.3}\n{err}", took.as_secs_f64()),
    )
    .unwrap();
    // Exit without running the group's destructor, which would wait for the dead peer.
    std::process::exit(0);
}

#[test]
fn worker() {
    match common::scenario().as_deref() {
        None => {}
        Some("collectives") => run_collectives(),
        Some("dead_exit") => run_dead_peer("exit"),
        Some("dead_stuck") => run_dead_peer("stuck"),
        Some(s) => panic!("unknown scenario {s}"),
    }
}

fn collectives(world: usize, store: &str) {
    let (_dir, workers) = common::launch("collectives", world, &[("SSD_STORE", store.into())]);
    workers
        .wait(Duration::from_secs(10))
        .expect("all workers pass");
}

#[test]
fn collectives_2_ranks_file_store() {
    collectives(2, "file");
}

#[test]
fn collectives_3_ranks_tcp_store() {
    collectives(3, "tcp");
}

fn dead_peer(mode: &str, world: usize) {
    let t0 = Instant::now();
    let (dir, workers) = common::launch(mode, world, &[]);
    let res = workers.wait(Duration::from_secs(15));
    let took = t0.elapsed();
    // The failing rank is the one that left; the survivors reported an error and exited 0.
    match res {
        Err(selfsup_dist::Error::Worker { rank, .. }) => assert_eq!(rank, world - 1),
        other => panic!("expected rank {} to fail, got {other:?}", world - 1),
    }
    for r in 0..world - 1 {
        let report = std::fs::read_to_string(dir.path().join(format!("error-{r}.txt")))
            .unwrap_or_else(|_| panic!("rank {r} did not report an error"));
        assert!(!report.is_empty());
    }
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[test]
fn killed_rank_is_an_error_not_a_hang() {
    dead_peer("dead_exit", 3);
}

#[test]
fn stuck_rank_times_out() {
    dead_peer("dead_stuck", 2);
}
