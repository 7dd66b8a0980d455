//! Distribution tests of the samplers on [`Generator`]: the normal (scalar and bulk), Gamma and Beta
//! draws are compared with their closed-form CDFs by a Kolmogorov–Smirnov statistic, and with their
//! closed-form moments. The reference CDFs below (erfc, the regularised incomplete Gamma and Beta
//! functions, Numerical Recipes' series / continued fractions) are independent of the samplers, and are
//! themselves checked against identities with elementary closed forms.

use selfsup_core::rand::RngCore;
use selfsup_core::Generator;

/// Complementary error function, Numerical Recipes' `erfcc` (fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        ans
    } else {
        2.0 - ans
    }
}

fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// ln Γ(x) (Lanczos, g = 7, n = 9; relative error ~1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised lower incomplete Gamma function P(a, x).
fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x < a + 1.0 {
        // Series.
        let (mut ap, mut sum) = (a, 1.0 / a);
        let mut del = sum;
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        sum * (-x + a * x.ln() - ln_gamma(a)).exp()
    } else {
        // Continued fraction for Q (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        1.0 - (-x + a * x.ln() - ln_gamma(a)).exp() * h
    }
}

/// The continued fraction of the incomplete Beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..1000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + aa / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularised incomplete Beta function I_x(a, b).
fn beta_cdf(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The Kolmogorov–Smirnov statistic `sup |F_n − F|` of `xs` against `cdf`.
fn ks(mut xs: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len() as f64;
    xs.iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).abs().max((f - (i + 1) as f64 / n).abs())
        })
        .fold(0.0, f64::max)
}

/// The KS critical value at significance 0.001 for `n` draws (1.95 / √n).
fn ks_critical(n: usize) -> f64 {
    1.95 / (n as f64).sqrt()
}

fn moments(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    (m, xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n)
}

const N: usize = 20_000;

#[test]
fn the_reference_cdfs_match_elementary_closed_forms() {
    // Φ at tabulated points.
    for (x, p) in [(0.0, 0.5), (1.0, 0.841_344_746), (-1.96, 0.024_997_895)] {
        assert!((normal_cdf(x) - p).abs() < 1e-7, "Φ({x})");
    }
    // Gamma(1) is Exp(1); Gamma(2) has CDF 1 − (1 + x) e^{−x}.
    for x in [0.1, 0.7, 1.5, 4.0, 12.0] {
        assert!(
            (gamma_p(1.0, x) - (1.0 - (-x).exp())).abs() < 1e-12,
            "P(1,{x})"
        );
        let g2 = 1.0 - (1.0 + x) * (-x).exp();
        assert!((gamma_p(2.0, x) - g2).abs() < 1e-12, "P(2,{x})");
    }
    // Gamma(1/2) is χ²₁ / 2: P(1/2, x) = erf(√x).
    for x in [0.05f64, 0.5, 2.0] {
        let erf = 1.0 - erfc(x.sqrt());
        assert!((gamma_p(0.5, x) - erf).abs() < 1e-6, "P(1/2,{x})");
    }
    // Beta(a, 1) has CDF x^a, Beta(1, b) 1 − (1 − x)^b, Beta(1/2, 1/2) (2/π) asin √x.
    for x in [0.01f64, 0.3, 0.5, 0.9] {
        assert!((beta_cdf(2.5, 1.0, x) - x.powf(2.5)).abs() < 1e-12);
        assert!((beta_cdf(1.0, 3.0, x) - (1.0 - (1.0 - x).powi(3))).abs() < 1e-12);
        let arcsine = 2.0 / std::f64::consts::PI * x.sqrt().asin();
        assert!(
            (beta_cdf(0.5, 0.5, x) - arcsine).abs() < 1e-10,
            "I_{x}(1/2,1/2)"
        );
    }
}

#[test]
fn normal_draws_follow_the_standard_normal() {
    let mut g = Generator::seed_from_u64(11);
    let xs: Vec<f64> = (0..N).map(|_| g.normal()).collect();
    let d = ks(xs.clone(), normal_cdf);
    assert!(d < ks_critical(N), "scalar normal: KS {d}");
    let (m, v) = moments(&xs);
    assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.04, "mean {m} var {v}");

    // The bulk sampler: the same distribution, tails included.
    let mut bulk = vec![0.0f32; 400_000];
    Generator::seed_from_u64(12).fill_normal(&mut bulk);
    let zs: Vec<f64> = bulk.iter().map(|&z| f64::from(z)).collect();
    let d = ks(zs[..N].to_vec(), normal_cdf);
    assert!(d < ks_critical(N), "bulk normal: KS {d}");
    let n = zs.len() as f64;
    let (m, v) = moments(&zs);
    let kurt = zs.iter().map(|z| (z - m).powi(4)).sum::<f64>() / n / (v * v);
    assert!(
        m.abs() < 0.01 && (v - 1.0).abs() < 0.01 && (kurt - 3.0).abs() < 0.05,
        "{m} {v} {kurt}"
    );
    // P(|z| > 1.96) = 0.05 and P(|z| > 3.5) = 4.65e-4.
    let p196 = zs.iter().filter(|z| z.abs() > 1.96).count() as f64 / n;
    let p35 = zs.iter().filter(|z| z.abs() > 3.5).count() as f64 / n;
    assert!(
        (p196 - 0.05).abs() < 0.002 && (p35 - 4.65e-4).abs() < 1.2e-4,
        "{p196} {p35}"
    );
}

#[test]
fn bulk_normals_are_a_function_of_the_generator_state() {
    let mut a = vec![0.0f32; 101];
    let mut b = vec![0.0f32; 7];
    let (mut ga, mut gb) = (Generator::seed_from_u64(3), Generator::seed_from_u64(3));
    ga.fill_normal(&mut a);
    gb.fill_normal(&mut b);
    assert_eq!(&a[..7], &b[..], "a prefix of the same stream");
    // Both advanced by the same four words, whatever the length.
    assert_eq!(ga.next_u64(), gb.next_u64());
    let mut c = vec![0.0f32; 7];
    ga.fill_normal(&mut c);
    assert_ne!(&b[..], &c[..], "the next fill draws fresh noise");
}

#[test]
fn gamma_draws_follow_the_gamma_distribution() {
    let mut g = Generator::seed_from_u64(21);
    for shape in [0.2, 0.5, 1.0, 2.5, 9.0] {
        let xs: Vec<f64> = (0..N).map(|_| g.gamma(shape)).collect();
        assert!(xs.iter().all(|&x| x >= 0.0 && x.is_finite()));
        let d = ks(xs.clone(), |x| gamma_p(shape, x));
        assert!(d < ks_critical(N), "Gamma({shape}): KS {d}");
        let (m, v) = moments(&xs);
        // Mean and variance are both `shape`; allow 4 standard errors.
        let se_m = (shape / N as f64).sqrt();
        assert!((m - shape).abs() < 4.0 * se_m, "Gamma({shape}) mean {m}");
        assert!(
            (v - shape).abs() < 0.06 * shape.max(1.0),
            "Gamma({shape}) var {v}"
        );
    }
}

#[test]
fn beta_draws_follow_the_beta_distribution() {
    let mut g = Generator::seed_from_u64(31);
    for (a, b) in [(1.0, 1.0), (0.2, 0.2), (0.4, 0.4), (2.0, 5.0), (8.0, 0.7)] {
        let xs: Vec<f64> = (0..N).map(|_| g.beta(a, b)).collect();
        assert!(xs.iter().all(|&x| (0.0..=1.0).contains(&x)));
        let d = ks(xs.clone(), |x| beta_cdf(a, b, x));
        assert!(d < ks_critical(N), "Beta({a},{b}): KS {d}");
        let (m, v) = moments(&xs);
        let em = a / (a + b);
        let ev = a * b / ((a + b).powi(2) * (a + b + 1.0));
        assert!(
            (m - em).abs() < 0.01 && (v - ev).abs() < 0.01,
            "Beta({a},{b}): {m} {v}"
        );
    }
}

#[test]
#[should_panic(expected = "shape must be finite and > 0")]
fn gamma_refuses_a_non_positive_shape() {
    Generator::seed_from_u64(0).gamma(0.0);
}

#[test]
fn the_ks_check_rejects_a_slightly_wrong_distribution() {
    // The tests above can fail: the same number of draws tells apart shifts of this size.
    let mut g = Generator::seed_from_u64(41);
    let xs: Vec<f64> = (0..N).map(|_| g.normal()).collect();
    assert!(ks(xs, |x| normal_cdf(x - 0.05)) > ks_critical(N));
    let xs: Vec<f64> = (0..N).map(|_| g.gamma(2.5)).collect();
    assert!(ks(xs, |x| gamma_p(2.7, x)) > ks_critical(N));
    let xs: Vec<f64> = (0..N).map(|_| g.beta(0.4, 0.4)).collect();
    assert!(ks(xs, |x| beta_cdf(0.45, 0.45, x)) > ks_critical(N));
}
