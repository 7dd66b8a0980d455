//! Every loss against its float64 plain-loop reference (tests/common), over batch sizes {1, 2, 4, 32},
//! widths {1, 16, 128} and temperatures {0.1, 1, 10} where they apply; closed forms from
//! REFERENCE.md; symmetry; Barlow Twins' affine invariance; finite-difference gradients.

mod common;
use common::*;
use selfsup_contrastive::losses::*;
use tch::{Kind, Tensor};

const NS: [usize; 4] = [1, 2, 4, 32];
const DS: [usize; 3] = [1, 16, 128];
const TS: [f64; 3] = [0.1, 1.0, 10.0];
const TOL: f64 = 1e-9;

#[test]
fn ntxent_matches_reference() {
    for &n in &NS {
        for &d in &DS {
            for &t in &TS {
                let (a, b) = (data(n, d, 1), data(n, d, 2));
                let got = val(&NtXentLoss::new(t)
                    .unwrap()
                    .forward(&t64(&a), &t64(&b))
                    .unwrap());
                let want = ntxent_ref(&a, &b, t);
                assert!(close(got, want, TOL), "n={n} d={d} t={t}: {got} vs {want}");
                // float32 path within float32 accuracy
                let got32 = val(&NtXentLoss::new(t)
                    .unwrap()
                    .forward(&t32(&a), &t32(&b))
                    .unwrap());
                assert!(
                    close(got32, want, 1e-4),
                    "f32 n={n} d={d} t={t}: {got32} vs {want}"
                );
            }
        }
    }
}

#[test]
fn ntxent_with_negatives_matches_reference() {
    for &n in &NS {
        for &d in &DS {
            for &t in &TS {
                let (a, b, bank) = (data(n, d, 3), data(n, d, 4), data(7, d, 5));
                let got = val(&NtXentLoss::new(t)
                    .unwrap()
                    .forward_with_negatives(&t64(&a), &t64(&b), &t64(&bank))
                    .unwrap());
                let want = ntxent_bank_ref(&a, &b, &bank, t);
                assert!(close(got, want, TOL), "n={n} d={d} t={t}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn ntxent_closed_forms() {
    for &n in &NS {
        for &t in &TS {
            let same = vec![vec![0.3, -1.2, 2.0]; n];
            let got = val(&NtXentLoss::new(t)
                .unwrap()
                .forward(&t64(&same), &t64(&same))
                .unwrap());
            let want = ((2 * n - 1) as f64).ln();
            assert!(
                close(got, want, 1e-12),
                "equal embeddings n={n}: {got} vs ln(2N-1)={want}"
            );
            for m in [1usize, 16, 100] {
                let bank = vec![vec![0.3, -1.2, 2.0]; m];
                let got = val(&NtXentLoss::new(t)
                    .unwrap()
                    .forward_with_negatives(&t64(&same), &t64(&same), &t64(&bank))
                    .unwrap());
                let want = ((m + 1) as f64).ln();
                assert!(
                    close(got, want, 1e-12),
                    "full bank M={m}: {got} vs ln(M+1)={want}"
                );
            }
        }
    }
}

#[test]
fn ntxent_is_symmetric() {
    let (a, b) = (data(8, 16, 7), data(8, 16, 8));
    let l = NtXentLoss::new(0.5).unwrap();
    let ab = val(&l.forward(&t64(&a), &t64(&b)).unwrap());
    let ba = val(&l.forward(&t64(&b), &t64(&a)).unwrap());
    assert!(close(ab, ba, 1e-12), "{ab} vs {ba}");
}

#[test]
fn dcl_and_dclw_match_reference() {
    for &n in &NS[1..] {
        for &d in &DS {
            for &t in &TS {
                let (a, b) = (data(n, d, 11), data(n, d, 12));
                let got = val(&DclLoss::dcl(t)
                    .unwrap()
                    .forward(&t64(&a), &t64(&b))
                    .unwrap());
                let want = dcl_ref(&a, &b, t, None);
                assert!(
                    close(got, want, TOL),
                    "dcl n={n} d={d} t={t}: {got} vs {want}"
                );
                let got = val(&DclLoss::dclw(t, 0.5)
                    .unwrap()
                    .forward(&t64(&a), &t64(&b))
                    .unwrap());
                let want = dcl_ref(&a, &b, t, Some(0.5));
                assert!(
                    close(got, want, TOL),
                    "dclw n={n} d={d} t={t}: {got} vs {want}"
                );
            }
        }
    }
    assert!(DclLoss::dcl(0.1)
        .unwrap()
        .forward(&t64(&data(1, 4, 1)), &t64(&data(1, 4, 2)))
        .is_err());
}

#[test]
fn supcon_matches_reference_and_reduces_to_ntxent() {
    for &n in &NS {
        for &d in &DS {
            for &t in &TS {
                let (a, b) = (data(n, d, 21), data(n, d, 22));
                let labels: Vec<i64> = (0..n as i64).map(|i| i % 3).collect();
                let lt = Tensor::from_slice(&labels);
                let got = val(&SupConLoss::new(t)
                    .unwrap()
                    .forward(&t64(&a), &t64(&b), Some(&lt))
                    .unwrap());
                let want = supcon_ref(&a, &b, &labels, t);
                assert!(close(got, want, TOL), "n={n} d={d} t={t}: {got} vs {want}");
                let unl = val(&SupConLoss::new(t)
                    .unwrap()
                    .forward(&t64(&a), &t64(&b), None)
                    .unwrap());
                assert!(close(unl, ntxent_ref(&a, &b, t), TOL));
            }
        }
    }
}

#[test]
fn clip_matches_reference() {
    for &n in &NS {
        for &d in &DS {
            for &t in &TS {
                let (a, b) = (data(n, d, 31), data(n, d, 32));
                let got = val(&ClipLoss::new(t)
                    .unwrap()
                    .forward(&t64(&a), &t64(&b))
                    .unwrap());
                let want = clip_ref(&a, &b, t);
                assert!(close(got, want, TOL), "n={n} d={d} t={t}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn negative_cosine_matches_reference() {
    for &n in &NS {
        for &d in &DS {
            let (a, b) = (data(n, d, 41), data(n, d, 42));
            let got = val(&NegativeCosineSimilarity
                .forward(&t64(&a), &t64(&b))
                .unwrap());
            assert!(close(got, negcos_ref(&a, &b), TOL));
        }
    }
}

#[test]
fn barlow_twins_matches_reference_and_is_affine_invariant() {
    for &n in &NS[1..] {
        for &d in &DS {
            let (a, b) = (data(n, d, 51), data(n, d, 52));
            let got = val(&BarlowTwinsLoss::default()
                .forward(&t64(&a), &t64(&b))
                .unwrap());
            let want = barlow_ref(&a, &b, 5e-3, 1e-5);
            assert!(close(got, want, 1e-8), "n={n} d={d}: {got} vs {want}");
        }
    }
    let x = data(32, 16, 53);
    let y: M = x
        .iter()
        .map(|r| r.iter().map(|v| 2.0 * v + 4.0).collect())
        .collect();
    // Exactly invariant without eps; within eps's effect with the default eps.
    let l = BarlowTwinsLoss {
        eps: 0.0,
        ..BarlowTwinsLoss::default()
    };
    let xx = val(&l.forward(&t64(&x), &t64(&x)).unwrap());
    let xy = val(&l.forward(&t64(&x), &t64(&y)).unwrap());
    assert!(close(xx, xy, 1e-10), "loss(x,x)={xx} loss(x,2x+4)={xy}");
    let l = BarlowTwinsLoss::default();
    let xx = val(&l.forward(&t64(&x), &t64(&x)).unwrap());
    let xy = val(&l.forward(&t64(&x), &t64(&y)).unwrap());
    assert!(close(xx, xy, 1e-3), "loss(x,x)={xx} loss(x,2x+4)={xy}");
}

#[test]
fn vicreg_matches_reference() {
    for &n in &NS[1..] {
        for &d in &DS {
            let (a, b) = (data(n, d, 61), data(n, d, 62));
            let got = val(&VicRegLoss::default().forward(&t64(&a), &t64(&b)).unwrap());
            let want = vicreg_ref(&a, &b, 25.0, 25.0, 1.0, 1e-4);
            assert!(close(got, want, 1e-8), "n={n} d={d}: {got} vs {want}");
        }
    }
}

#[test]
fn triplet_losses_match_reference() {
    for &n in &NS {
        for &d in &DS {
            let (a, p, q) = (data(n, d, 71), data(n, d, 72), data(n, d, 73));
            let got = val(&TripletLoss::new(1.0)
                .unwrap()
                .forward(&t64(&a), &t64(&p), &t64(&q))
                .unwrap());
            assert!(close(got, triplet_ref(&a, &p, &q, 1.0), TOL));
            let labels: Vec<i64> = (0..n as i64).map(|i| i % 3).collect();
            let got = val(&TripletLoss::new(0.5)
                .unwrap()
                .batch_hard(&t64(&a), &Tensor::from_slice(&labels))
                .unwrap());
            assert!(
                close(got, batch_hard_ref(&a, &labels, 0.5), 1e-8),
                "n={n} d={d}"
            );
        }
    }
}

#[test]
fn dino_matches_reference_and_centre_update() {
    for &n in &NS {
        for &k in &DS {
            let teacher: Vec<M> = (0..2).map(|i| data(n, k, 80 + i)).collect();
            let student: Vec<M> = (0..4).map(|i| data(n, k, 90 + i)).collect();
            let center = data(1, k, 99);
            let loss = DinoLoss::default();
            let tt: Vec<Tensor> = teacher.iter().map(t64).collect();
            let st: Vec<Tensor> = student.iter().map(t64).collect();
            for epoch in [0u64, 10, 29, 30, 100] {
                let got = val(&loss.forward(&tt, &st, &t64(&center), epoch).unwrap());
                let want = dino_ref(
                    &teacher,
                    &student,
                    &center[0],
                    loss.teacher_temp_at(epoch),
                    0.1,
                );
                assert!(
                    close(got, want, TOL),
                    "n={n} k={k} epoch={epoch}: {got} vs {want}"
                );
            }
            let c2 = loss.updated_center(&tt, &t64(&center));
            for j in 0..k {
                let mean = teacher.iter().flatten().map(|r| r[j]).sum::<f64>() / (2 * n) as f64;
                let want = 0.9 * center[0][j] + 0.1 * mean;
                assert!(close(c2.double_value(&[0, j as i64]), want, 1e-12));
            }
        }
    }
    // Teacher temperature warm-up: linspace(0.04, 0.07, 30) then 0.07.
    let l = DinoLoss {
        teacher_temp: 0.07,
        ..DinoLoss::default()
    };
    assert!(close(l.teacher_temp_at(0), 0.04, 1e-15));
    assert!(close(l.teacher_temp_at(29), 0.07, 1e-15));
    assert!(close(
        l.teacher_temp_at(15),
        0.04 + 15.0 / 29.0 * 0.03,
        1e-15
    ));
    assert!(close(l.teacher_temp_at(1000), 0.07, 1e-15));
}

#[test]
fn sinkhorn_and_swav_match_reference() {
    for &n in &NS {
        for &k in &DS {
            let s = data(n, k, 100);
            let q = sinkhorn(&t64(&s), 3, 0.05);
            let want = sinkhorn_ref(&s, 3, 0.05);
            for b in 0..n {
                for kk in 0..k {
                    let g = q.double_value(&[b as i64, kk as i64]);
                    assert!(close(g, want[b][kk], 1e-9), "sinkhorn n={n} k={k}");
                }
            }
            let high: Vec<M> = (0..2).map(|i| data(n, k, 110 + i)).collect();
            let low: Vec<M> = (0..3).map(|i| data(n, k, 120 + i)).collect();
            let ht: Vec<Tensor> = high.iter().map(t64).collect();
            let lt: Vec<Tensor> = low.iter().map(t64).collect();
            for &t in &TS {
                let l = SwavLoss {
                    temperature: t,
                    ..SwavLoss::default()
                };
                let got = val(&l.forward(&ht, &lt, None).unwrap());
                let want = swav_ref(&high, &low, t, 3, 0.05);
                assert!(
                    close(got, want, 1e-9),
                    "swav n={n} k={k} t={t}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn cpc_matches_reference() {
    for &n in &NS {
        for &d in &[1usize, 16] {
            let t = 6;
            let z: Vec<M> = (0..n).map(|i| data(t, d, 200 + i as u64)).collect();
            let preds: Vec<Vec<M>> = (0..3)
                .map(|k| {
                    (0..n)
                        .map(|i| data(t, d, 300 + 10 * k + i as u64))
                        .collect()
                })
                .collect();
            let to3 = |x: &Vec<M>| Tensor::stack(&x.iter().map(t64).collect::<Vec<_>>(), 0);
            let got = val(&CpcLoss
                .forward(&to3(&z), &preds.iter().map(to3).collect::<Vec<_>>())
                .unwrap());
            let want = cpc_ref(&z, &preds);
            assert!(close(got, want, TOL), "n={n} d={d}: {got} vs {want}");
        }
    }
}

#[test]
fn cpc_negatives_match_reference() {
    for &n in &[1usize, 2, 4] {
        let (t, d) = (6, 16);
        let z: Vec<M> = (0..n).map(|i| data(t, d, 400 + i as u64)).collect();
        let preds: Vec<Vec<M>> = (0..3)
            .map(|k| {
                (0..n)
                    .map(|i| data(t, d, 500 + 10 * k + i as u64))
                    .collect()
            })
            .collect();
        let to3 = |x: &Vec<M>| Tensor::stack(&x.iter().map(t64).collect::<Vec<_>>(), 0);
        let pt: Vec<Tensor> = preds.iter().map(to3).collect();
        for (neg, others, times) in [
            (CpcNegatives::Batch, true, false),
            (CpcNegatives::Sequence, false, true),
            (CpcNegatives::All, true, true),
        ] {
            let got = val(&CpcLoss.forward_with(&to3(&z), &pt, neg).unwrap());
            let want = cpc_ref_negatives(&z, &preds, others, times);
            assert!(close(got, want, TOL), "{neg:?} n={n}: {got} vs {want}");
        }
        // The batch form is `forward` (and the old reference).
        let batch = val(&CpcLoss.forward(&to3(&z), &pt).unwrap());
        assert!(close(batch, cpc_ref(&z, &preds), TOL));
        if n > 1 {
            // The three candidate sets differ, so do the losses.
            let seq = val(&CpcLoss
                .forward_with(&to3(&z), &pt, CpcNegatives::Sequence)
                .unwrap());
            let all = val(&CpcLoss
                .forward_with(&to3(&z), &pt, CpcNegatives::All)
                .unwrap());
            assert!((seq - batch).abs() > 1e-6 && (all - seq).abs() > 1e-6);
        }
    }
}

/// Central finite differences of `f` at a few coordinates of both inputs vs autograd.
#[allow(clippy::ptr_arg)]
fn grad_check(name: &str, f: &dyn Fn(&Tensor, &Tensor) -> Tensor, a: &M, b: &M) {
    let ta = t64(a).set_requires_grad(true);
    let tb = t64(b).set_requires_grad(true);
    let loss = f(&ta, &tb);
    loss.backward();
    let (ga, gb) = (ta.grad(), tb.grad());
    let h = 1e-6;
    for (which, g, m) in [(0, &ga, a), (1, &gb, b)] {
        for &(i, j) in &[(0usize, 0usize), (1, 2), (m.len() - 1, m[0].len() - 1)] {
            let mut p = m.clone();
            p[i][j] += h;
            let mut q = m.clone();
            q[i][j] -= h;
            let (fp, fq) = if which == 0 {
                (val(&f(&t64(&p), &t64(b))), val(&f(&t64(&q), &t64(b))))
            } else {
                (val(&f(&t64(a), &t64(&p))), val(&f(&t64(a), &t64(&q))))
            };
            let fd = (fp - fq) / (2.0 * h);
            let an = g.double_value(&[i as i64, j as i64]);
            assert!(
                (fd - an).abs() <= 1e-6 * (1.0 + fd.abs()),
                "{name} input {which} ({i},{j}): fd {fd} vs autograd {an}"
            );
        }
    }
}

#[test]
fn gradients_match_finite_differences() {
    let (a, b) = (data(6, 5, 401), data(6, 5, 402));
    let labels = Tensor::from_slice(&[0i64, 1, 0, 2, 1, 2]);
    let bank = t64(&data(9, 5, 403));
    grad_check(
        "ntxent",
        &|x, y| NtXentLoss::new(0.5).unwrap().forward(x, y).unwrap(),
        &a,
        &b,
    );
    grad_check(
        "ntxent_bank",
        &|x, y| {
            NtXentLoss::new(0.2)
                .unwrap()
                .forward_with_negatives(x, y, &bank)
                .unwrap()
        },
        &a,
        &b,
    );
    grad_check(
        "dcl",
        &|x, y| DclLoss::dcl(0.3).unwrap().forward(x, y).unwrap(),
        &a,
        &b,
    );
    // DCLW is not checked here: its weights are computed without gradient (as in lightly), so
    // finite differences of the full function differ from autograd by design.
    grad_check(
        "supcon",
        &|x, y| {
            SupConLoss::new(0.3)
                .unwrap()
                .forward(x, y, Some(&labels))
                .unwrap()
        },
        &a,
        &b,
    );
    grad_check(
        "clip",
        &|x, y| ClipLoss::new(0.5).unwrap().forward(x, y).unwrap(),
        &a,
        &b,
    );
    grad_check(
        "negcos",
        &|x, y| NegativeCosineSimilarity.forward(x, y).unwrap(),
        &a,
        &b,
    );
    grad_check(
        "barlow",
        &|x, y| BarlowTwinsLoss::default().forward(x, y).unwrap(),
        &a,
        &b,
    );
    grad_check(
        "vicreg",
        &|x, y| VicRegLoss::default().forward(x, y).unwrap(),
        &a,
        &b,
    );
    grad_check(
        "triplet",
        &|x, y| {
            TripletLoss::new(1.0)
                .unwrap()
                .forward(x, y, &t64(&data(6, 5, 404)))
                .unwrap()
        },
        &a,
        &b,
    );
    // SwAV's codes and DINO's teacher carry no gradient: keep them fixed while x, y are the
    // predicting / student views, so finite differences see only the differentiable path.
    let fixed = t64(&data(6, 5, 405));
    grad_check(
        "swav",
        &|x, y| {
            SwavLoss::default()
                .forward(
                    &[fixed.shallow_clone()],
                    &[x.shallow_clone(), y.shallow_clone()],
                    None,
                )
                .unwrap()
        },
        &a,
        &b,
    );
    let c = Tensor::zeros([1, 5], (Kind::Double, tch::Device::Cpu));
    grad_check(
        "dino",
        &|x, y| {
            DinoLoss::default()
                .forward(
                    &[fixed.shallow_clone()],
                    &[fixed.shallow_clone(), x.shallow_clone(), y.shallow_clone()],
                    &c,
                    0,
                )
                .unwrap()
        },
        &a,
        &b,
    );
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let a = t64(&data(4, 3, 1));
    let b = t64(&data(5, 3, 2));
    assert!(NtXentLoss::new(0.0).is_err());
    assert!(NtXentLoss::new(f64::NAN).is_err());
    assert!(NtXentLoss::default().forward(&a, &b).is_err());
    assert!(NtXentLoss::default()
        .forward(&a.reshape([12]), &a.reshape([12]))
        .is_err());
    assert!(NtXentLoss::default()
        .forward_with_negatives(&a, &a, &t64(&data(3, 4, 1)))
        .is_err());
    assert!(BarlowTwinsLoss::default()
        .forward(&t64(&data(1, 3, 1)), &t64(&data(1, 3, 1)))
        .is_err());
    assert!(VicRegLoss::new(25.0, 25.0, 1.0, 0.0).is_err());
    let msg = NtXentLoss::new(-1.0).unwrap_err().to_string();
    assert!(msg.contains("temperature"), "{msg}");
}
