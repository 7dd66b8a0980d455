//! Shared test helpers: deterministic test data, tensor conversions and the float64 plain-loop
//! reference implementations of every loss (written from the papers' formulas, independently of the
//! tensor code under test).
#![allow(dead_code, clippy::ptr_arg)]

use tch::{Kind, Tensor};

pub type M = Vec<Vec<f64>>;

/// Deterministic pseudo-random matrix in roughly [-1, 1) (SplitMix64), for test inputs only.
pub fn data(rows: usize, cols: usize, seed: u64) -> M {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    (0..rows)
        .map(|_| (0..cols).map(|_| next()).collect())
        .collect()
}

pub fn t64(m: &M) -> Tensor {
    let r = m.len() as i64;
    let c = if r > 0 { m[0].len() as i64 } else { 0 };
    let flat: Vec<f64> = m.iter().flatten().copied().collect();
    Tensor::from_slice(&flat).reshape([r, c])
}

pub fn t32(m: &M) -> Tensor {
    t64(m).to_kind(Kind::Float)
}

pub fn val(t: &Tensor) -> f64 {
    t.to_kind(Kind::Double).double_value(&[])
}

pub fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub fn unit(a: &[f64]) -> Vec<f64> {
    let n = dot(a, a).sqrt().max(1e-12);
    a.iter().map(|x| x / n).collect()
}

fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// NT-Xent over 2N anchors.
pub fn ntxent_ref(z0: &M, z1: &M, t: f64) -> f64 {
    let n = z0.len();
    let z: Vec<Vec<f64>> = z0.iter().chain(z1.iter()).map(|r| unit(r)).collect();
    let mut total = 0.0;
    for a in 0..2 * n {
        let p = if a < n { a + n } else { a - n };
        let logits: Vec<f64> = (0..2 * n)
            .filter(|&k| k != a)
            .map(|k| dot(&z[a], &z[k]) / t)
            .collect();
        total += -dot(&z[a], &z[p]) / t + logsumexp(&logits);
    }
    total / (2 * n) as f64
}

/// NT-Xent with explicit negatives (anchors = z0).
pub fn ntxent_bank_ref(z0: &M, z1: &M, bank: &M, t: f64) -> f64 {
    let mut total = 0.0;
    for i in 0..z0.len() {
        let a = unit(&z0[i]);
        let pos = dot(&a, &unit(&z1[i])) / t;
        let mut logits = vec![pos];
        logits.extend(bank.iter().map(|b| dot(&a, &unit(b)) / t));
        total += -pos + logsumexp(&logits);
    }
    total / z0.len() as f64
}

/// DCL / DCLW (symmetric).
pub fn dcl_ref(z0: &M, z1: &M, t: f64, sigma: Option<f64>) -> f64 {
    let one = |a: &M, b: &M| {
        let n = a.len();
        let a: M = a.iter().map(|r| unit(r)).collect();
        let b: M = b.iter().map(|r| unit(r)).collect();
        let w: Vec<f64> = match sigma {
            None => vec![1.0; n],
            Some(s) => {
                let sims: Vec<f64> = (0..n).map(|i| dot(&a[i], &b[i]) / s).collect();
                let lse = logsumexp(&sims);
                sims.iter()
                    .map(|x| 2.0 - n as f64 * (x - lse).exp())
                    .collect()
            }
        };
        let mut total = 0.0;
        for i in 0..n {
            let pos = -w[i] * dot(&a[i], &b[i]) / t;
            let mut negs: Vec<f64> = (0..n)
                .filter(|&j| j != i)
                .map(|j| dot(&a[i], &a[j]) / t)
                .collect();
            negs.extend((0..n).filter(|&j| j != i).map(|j| dot(&a[i], &b[j]) / t));
            total += pos + logsumexp(&negs);
        }
        total / n as f64
    };
    0.5 * (one(z0, z1) + one(z1, z0))
}

/// SupCon with labels.
pub fn supcon_ref(z0: &M, z1: &M, labels: &[i64], t: f64) -> f64 {
    let n = z0.len();
    let f: M = z0.iter().chain(z1.iter()).map(|r| unit(r)).collect();
    let l: Vec<i64> = labels.iter().chain(labels.iter()).copied().collect();
    let mut total = 0.0;
    for i in 0..2 * n {
        let others: Vec<f64> = (0..2 * n)
            .filter(|&a| a != i)
            .map(|a| dot(&f[i], &f[a]) / t)
            .collect();
        let lse = logsumexp(&others);
        let pos: Vec<usize> = (0..2 * n).filter(|&p| p != i && l[p] == l[i]).collect();
        let s: f64 = pos.iter().map(|&p| dot(&f[i], &f[p]) / t - lse).sum();
        total += -s / pos.len() as f64;
    }
    total / (2 * n) as f64
}

/// CLIP symmetric cross-entropy.
pub fn clip_ref(a: &M, b: &M, t: f64) -> f64 {
    let n = a.len();
    let a: M = a.iter().map(|r| unit(r)).collect();
    let b: M = b.iter().map(|r| unit(r)).collect();
    let mut total = 0.0;
    for i in 0..n {
        let row: Vec<f64> = (0..n).map(|j| dot(&a[i], &b[j]) / t).collect();
        let col: Vec<f64> = (0..n).map(|j| dot(&a[j], &b[i]) / t).collect();
        total += -row[i] + logsumexp(&row) - col[i] + logsumexp(&col);
    }
    total / (2 * n) as f64
}

/// Negative cosine similarity.
pub fn negcos_ref(x0: &M, x1: &M) -> f64 {
    let n = x0.len();
    -(0..n)
        .map(|i| dot(&x0[i], &x1[i]) / (dot(&x0[i], &x0[i]) * dot(&x1[i], &x1[i])).sqrt().max(1e-8))
        .sum::<f64>()
        / n as f64
}

fn standardise(z: &M, eps: f64) -> M {
    let n = z.len();
    let d = z[0].len();
    let mut out = vec![vec![0.0; d]; n];
    for j in 0..d {
        let mean = z.iter().map(|r| r[j]).sum::<f64>() / n as f64;
        let var = z.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n as f64;
        for i in 0..n {
            out[i][j] = (z[i][j] - mean) / (var + eps).sqrt();
        }
    }
    out
}

/// Barlow Twins (batch-norm standardisation: biased variance + eps).
pub fn barlow_ref(z0: &M, z1: &M, lambda: f64, eps: f64) -> f64 {
    let (a, b) = (standardise(z0, eps), standardise(z1, eps));
    let n = z0.len();
    let d = z0[0].len();
    let mut loss = 0.0;
    for i in 0..d {
        for j in 0..d {
            let c: f64 = (0..n).map(|k| a[k][i] * b[k][j]).sum::<f64>() / n as f64;
            loss += if i == j {
                (1.0 - c).powi(2)
            } else {
                lambda * c * c
            };
        }
    }
    loss
}

/// VICReg.
pub fn vicreg_ref(z0: &M, z1: &M, lambda: f64, mu: f64, nu: f64, eps: f64) -> f64 {
    let n = z0.len();
    let d = z0[0].len();
    let inv = (0..n)
        .map(|i| (0..d).map(|j| (z0[i][j] - z1[i][j]).powi(2)).sum::<f64>())
        .sum::<f64>()
        / (n * d) as f64;
    let stats = |z: &M| {
        let means: Vec<f64> = (0..d)
            .map(|j| z.iter().map(|r| r[j]).sum::<f64>() / n as f64)
            .collect();
        let cov = |a: usize, b: usize| {
            (0..n)
                .map(|k| (z[k][a] - means[a]) * (z[k][b] - means[b]))
                .sum::<f64>()
                / (n - 1) as f64
        };
        let var_term = (0..d)
            .map(|j| (1.0 - (cov(j, j) + eps).sqrt()).max(0.0))
            .sum::<f64>()
            / d as f64;
        let mut cov_term = 0.0;
        for a in 0..d {
            for b in 0..d {
                if a != b {
                    cov_term += cov(a, b).powi(2);
                }
            }
        }
        (var_term, cov_term / d as f64)
    };
    let (v0, c0) = stats(z0);
    let (v1, c1) = stats(z1);
    lambda * inv + mu * 0.5 * (v0 + v1) + nu * (c0 + c1)
}

fn softmax(v: &[f64]) -> Vec<f64> {
    let l = logsumexp(v);
    v.iter().map(|x| (x - l).exp()).collect()
}

/// DINO with teacher views, student views, centre, temperatures.
pub fn dino_ref(teacher: &[M], student: &[M], center: &[f64], tt: f64, ts: f64) -> f64 {
    let mut total = 0.0;
    let mut pairs = 0;
    for (v, t) in teacher.iter().enumerate() {
        for (w, s) in student.iter().enumerate() {
            if v == w {
                continue;
            }
            let n = t.len();
            let mut ce = 0.0;
            for b in 0..n {
                let pt = softmax(
                    &t[b]
                        .iter()
                        .zip(center)
                        .map(|(x, c)| (x - c) / tt)
                        .collect::<Vec<_>>(),
                );
                let ls: Vec<f64> = s[b].iter().map(|x| x / ts).collect();
                let l = logsumexp(&ls);
                ce += -pt.iter().zip(&ls).map(|(p, x)| p * (x - l)).sum::<f64>();
            }
            total += ce / n as f64;
            pairs += 1;
        }
    }
    total / pairs as f64
}

/// Sinkhorn-Knopp on B×K scores, returning B×K codes.
pub fn sinkhorn_ref(scores: &M, iters: usize, eps: f64) -> M {
    let b = scores.len();
    let k = scores[0].len();
    // q[kk][bb]
    let mut q: M = (0..k)
        .map(|kk| (0..b).map(|bb| (scores[bb][kk] / eps).exp()).collect())
        .collect();
    let s: f64 = q.iter().flatten().sum();
    q.iter_mut().flatten().for_each(|x| *x /= s);
    for _ in 0..iters {
        for row in q.iter_mut() {
            let r: f64 = row.iter().sum();
            row.iter_mut().for_each(|x| *x /= r * k as f64);
        }
        for bb in 0..b {
            let c: f64 = (0..k).map(|kk| q[kk][bb]).sum();
            for kk in 0..k {
                q[kk][bb] /= c * b as f64;
            }
        }
    }
    (0..b)
        .map(|bb| (0..k).map(|kk| q[kk][bb] * b as f64).collect())
        .collect()
}

/// SwAV without queue.
pub fn swav_ref(high: &[M], low: &[M], t: f64, iters: usize, eps: f64) -> f64 {
    let all: Vec<&M> = high.iter().chain(low.iter()).collect();
    let mut total = 0.0;
    for (i, h) in high.iter().enumerate() {
        let q = sinkhorn_ref(h, iters, eps);
        let mut sub = 0.0;
        for (v, z) in all.iter().enumerate() {
            if v == i {
                continue;
            }
            let n = z.len();
            let mut l = 0.0;
            for b in 0..n {
                let s: Vec<f64> = z[b].iter().map(|x| x / t).collect();
                let lse = logsumexp(&s);
                l += -q[b]
                    .iter()
                    .zip(&s)
                    .map(|(qq, x)| qq * (x - lse))
                    .sum::<f64>();
            }
            sub += l / n as f64;
        }
        total += sub / (all.len() - 1) as f64;
    }
    total / high.len() as f64
}

/// Triplet loss with explicit triplets (torch's pairwise distance with eps 1e-6).
pub fn triplet_ref(a: &M, p: &M, n: &M, margin: f64) -> f64 {
    let d = |x: &[f64], y: &[f64]| {
        x.iter()
            .zip(y)
            .map(|(u, v)| (u - v + 1e-6).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    (0..a.len())
        .map(|i| (d(&a[i], &p[i]) - d(&a[i], &n[i]) + margin).max(0.0))
        .sum::<f64>()
        / a.len() as f64
}

/// Batch-hard triplet loss.
pub fn batch_hard_ref(e: &M, labels: &[i64], margin: f64) -> f64 {
    let d = |x: &[f64], y: &[f64]| {
        x.iter()
            .zip(y)
            .map(|(u, v)| (u - v).powi(2))
            .sum::<f64>()
            .max(1e-12)
            .sqrt()
    };
    let n = e.len();
    let mut total = 0.0;
    let mut count = 0;
    for i in 0..n {
        let pos: Vec<f64> = (0..n)
            .filter(|&j| j != i && labels[j] == labels[i])
            .map(|j| d(&e[i], &e[j]))
            .collect();
        let neg: Vec<f64> = (0..n)
            .filter(|&j| labels[j] != labels[i])
            .map(|j| d(&e[i], &e[j]))
            .collect();
        if pos.is_empty() || neg.is_empty() {
            continue;
        }
        let hp = pos.iter().cloned().fold(f64::MIN, f64::max);
        let hn = neg.iter().cloned().fold(f64::MAX, f64::min);
        total += (hp - hn + margin).max(0.0);
        count += 1;
    }
    if count == 0 {
        0.0
    } else {
        total / count as f64
    }
}

/// CPC's loss over `z[n][t][d]` and predictions `preds[k][n][t][d]`, with candidates `z[m][t']` for `t' ∈ [k, T)` kept when `(m == n || other_sequences)` and
/// `(t' == t + k || other_times)`: `(true, false)` is [`cpc_ref`] (batch negatives), `(false, true)`
/// the same sequence's other times, `(true, true)` every latent of the batch.
pub fn cpc_ref_negatives(
    z: &[M],
    preds: &[Vec<M>],
    other_sequences: bool,
    other_times: bool,
) -> f64 {
    let n = z.len();
    let t = z[0].len();
    let mut total = 0.0;
    for (ki, p) in preds.iter().enumerate() {
        let k = ki + 1;
        let mut l = 0.0;
        let mut cnt = 0;
        for tt in 0..t - k {
            for a in 0..n {
                let mut scores = Vec::new();
                let mut positive = f64::NAN;
                for m in 0..n {
                    for tp in k..t {
                        let s = dot(&p[a][tt], &z[m][tp]);
                        if m == a && tp == tt + k {
                            positive = s;
                            scores.push(s);
                        } else if (m == a || other_sequences) && (tp == tt + k || other_times) {
                            scores.push(s);
                        }
                    }
                }
                l += -positive + logsumexp(&scores);
                cnt += 1;
            }
        }
        total += l / cnt as f64;
    }
    total / preds.len() as f64
}

/// CPC InfoNCE with the batch's latents at the predicted time as candidates (CPC's own negatives).
pub fn cpc_ref(z: &[M], preds: &[Vec<M>]) -> f64 {
    cpc_ref_negatives(z, preds, true, false)
}
