//! Phase-vocoder time stretching and pitch shifting (librosa's `time_stretch` / `pitch_shift` algorithm).
//!
//! Time stretch by `rate` (> 1 faster, shorter): STFT (periodic Hann, `n_fft`, hop `n_fft / 4`,
//! centred with reflect padding); output frame `i` reads the input at fractional frame `t = i · rate`,
//! interpolates the magnitudes of frames `⌊t⌋` and `⌊t⌋ + 1` linearly, and carries a running phase that
//! advances by the measured phase difference between those two frames; an inverse STFT with
//! window-square normalisation gives `round(len / rate)` samples. The running phase is kept as a unit
//! complex number: librosa's `phase_acc += φ_advance + princarg(Δφ − φ_advance)` equals adding `Δφ`
//! modulo 2π, so multiplying by `(c1 · conj c0) / |c1 · c0|` is the same update without any trigonometry.
//! One deliberate difference from librosa: the first analysis frame is mostly reflect padding, so the
//! running phase starts from frame 1 (moved back by the advance of frames 1 → 2) and the padded pair
//! (0, 1) borrows that clean advance; otherwise, for rates below 1, the padded pair is used several
//! times and a pure tone comes out with a third less amplitude.
//!
//! Pitch shift by `n` semitones: time-stretch by `rate = 2^(−n/12)`, then resample by `rate`
//! (band-limited, [`super::resample`](mod@super::resample)) back to the original length, so durations are unchanged and every
//! frequency is multiplied by `2^(n/12)`.
//!
//! `n_fft` defaults to the power of two nearest 64 ms of audio (512 at 8 kHz, 1024 at 16 kHz, 4096 at
//! 44.1 kHz), which keeps the frequency resolution of librosa's 2048 at 22 kHz across rates.

use crate::audio::resample::{ResampleQuality, Resampler};
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Forward and inverse plans plus the Hann window for one `n_fft`.
pub(crate) struct VocoderPlan {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
}

impl VocoderPlan {
    fn new(n_fft: usize) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        VocoderPlan {
            n_fft,
            hop: n_fft / 4,
            window: super::features::WindowKind::Hann.periodic(n_fft),
            fwd: planner.plan_fft_forward(n_fft),
            inv: planner.plan_fft_inverse(n_fft),
        }
    }
}

/// A cache of plans keyed by `n_fft`, shared by all threads.
#[derive(Default)]
pub(crate) struct PlanCache {
    plans: RwLock<HashMap<usize, Arc<VocoderPlan>>>,
}

impl std::fmt::Debug for PlanCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlanCache")
    }
}

impl PlanCache {
    pub(crate) fn get(&self, n_fft: usize) -> Arc<VocoderPlan> {
        if let Some(p) = self.plans.read().ok().and_then(|m| m.get(&n_fft).cloned()) {
            return p;
        }
        let plan = Arc::new(VocoderPlan::new(n_fft));
        if let Ok(mut m) = self.plans.write() {
            m.entry(n_fft).or_insert_with(|| plan.clone());
        }
        plan
    }
}

/// The default vocoder FFT size for a sample rate: the power of two nearest 64 ms, in [256, 4096].
pub fn default_n_fft(sample_rate: u32) -> usize {
    let target = f64::from(sample_rate) * 0.064;
    let p = target.log2().round().clamp(8.0, 12.0);
    1usize << (p as u32)
}

fn reflect(i: i64, n: i64) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let mut k = i.rem_euclid(period);
    if k >= n {
        k = period - k;
    }
    k as usize
}

/// Time-stretches one channel by `rate`; the output has exactly `out_len` samples
/// (`round(len / rate)` for librosa's behaviour).
pub(crate) fn time_stretch(plan: &VocoderPlan, x: &[f32], rate: f64, out_len: usize) -> Vec<f32> {
    let n_fft = plan.n_fft;
    let hop = plan.hop;
    let nf = n_fft / 2 + 1;
    if x.is_empty() || out_len == 0 {
        return vec![0.0; out_len];
    }
    // Analysis: centred, reflect-padded STFT.
    let n = x.len() as i64;
    let n_frames = 1 + x.len() / hop;
    let mut spec = vec![Complex::new(0.0f32, 0.0); (n_frames + 2) * nf];
    let mut frame = vec![0.0f32; n_fft];
    let mut scratch =
        vec![Complex::new(0.0f32, 0.0); plan.fwd.get_scratch_len().max(plan.inv.get_scratch_len())];
    for t in 0..n_frames {
        let start = (t * hop) as i64 - (n_fft / 2) as i64;
        if start >= 0 && start + n_fft as i64 <= n {
            let s = start as usize;
            for ((f, &v), &w) in frame.iter_mut().zip(&x[s..s + n_fft]).zip(&plan.window) {
                *f = v * w;
            }
        } else {
            for (j, (f, &w)) in frame.iter_mut().zip(&plan.window).enumerate() {
                *f = x[reflect(start + j as i64, n)] * w;
            }
        }
        plan.fwd
            .process_with_scratch(&mut frame, &mut spec[t * nf..(t + 1) * nf], &mut scratch)
            .expect("plan lengths");
    }
    // Synthesis frames needed to cover out_len samples after trimming n_fft/2.
    let n_out_frames = (0..)
        .map(|i| i as f64 * rate)
        .take_while(|&t| t < n_frames as f64)
        .count();
    let total = n_fft + hop * (n_out_frames.max(1) - 1);
    let mut y = vec![0.0f32; total.max(out_len + n_fft / 2)];
    let mut wsum = vec![0.0f32; y.len()];
    // Magnitudes and unit phasors of every analysis frame (a zero bin has phase 0, as numpy's angle).
    let mut mags = vec![0.0f32; spec.len()];
    let mut units = vec![Complex::new(1.0f32, 0.0); spec.len()];
    for (c, m) in spec.iter().zip(mags.iter_mut()) {
        *m = (c.re * c.re + c.im * c.im).sqrt();
    }
    for ((c, &m), u) in spec.iter().zip(&mags).zip(units.iter_mut()) {
        let inv = if m > 0.0 { 1.0 / m } else { 0.0 };
        let z = *c * inv;
        *u = if m > 0.0 { z } else { Complex::new(1.0, 0.0) };
    }
    // The first frame is mostly reflect padding, so its phases and its advance to frame 1 are not
    // those of the signal. librosa uses them anyway; for rates < 1 the pair (0, 1) is then used
    // several times and its error stays in the running phase for the whole clip (a pure tone loses a
    // third of its amplitude). Here the running phase starts from frame 1 moved back by the clean
    // advance of frames 1 → 2, and that advance also serves the pair (0, 1).
    let clean_start = n_frames >= 3;
    let advance = |k: usize, b: usize| units[(k + 1) * nf + b] * units[k * nf + b].conj();
    let mut acc: Vec<Complex<f32>> = if clean_start {
        (0..nf)
            .map(|b| units[nf + b] * advance(1, b).conj())
            .collect()
    } else {
        units[..nf].to_vec()
    };
    let mut cur = vec![Complex::new(0.0f32, 0.0); nf];
    let win2: Vec<f32> = plan.window.iter().map(|w| w * w).collect();
    let inv_n = 1.0 / n_fft as f32;
    for i in 0..n_out_frames {
        let t = i as f64 * rate;
        let k = t.floor() as usize;
        let alpha = (t - k as f64) as f32;
        let m0 = &mags[k * nf..(k + 1) * nf];
        let m1 = &mags[(k + 1) * nf..(k + 2) * nf];
        // Phase advance source: the pair (k, k+1), or (1, 2) for the padded first pair.
        let pk = if k == 0 && clean_start { 1 } else { k };
        let u0 = &units[pk * nf..(pk + 1) * nf];
        let u1 = &units[(pk + 1) * nf..(pk + 2) * nf];
        let renormalise = i % 16 == 15;
        for b in 0..nf {
            let mag = (1.0 - alpha) * m0[b] + alpha * m1[b];
            cur[b] = acc[b] * mag;
            // Advance the running phase by arg(u1) − arg(u0).
            let mut next = acc[b] * (u1[b] * u0[b].conj());
            if renormalise {
                // Stop the rounding drift of the unit phasor.
                let nm = (next.re * next.re + next.im * next.im).sqrt();
                next = if nm > 0.0 {
                    next / nm
                } else {
                    Complex::new(1.0, 0.0)
                };
            }
            acc[b] = next;
        }
        cur[0].im = 0.0;
        cur[nf - 1].im = 0.0;
        plan.inv
            .process_with_scratch(&mut cur, &mut frame, &mut scratch)
            .expect("plan lengths");
        let off = i * hop;
        for j in 0..n_fft {
            y[off + j] += frame[j] * plan.window[j] * inv_n;
            wsum[off + j] += win2[j];
        }
    }
    let half = n_fft / 2;
    let mut out = vec![0.0f32; out_len];
    for (o, idx) in out.iter_mut().zip(half..) {
        if idx < y.len() {
            let w = wsum[idx];
            *o = if w > 1e-8 { y[idx] / w } else { y[idx] };
        }
    }
    out
}

/// Shifts the pitch of one channel by `semitones`, keeping its length.
pub(crate) fn pitch_shift(
    plan: &VocoderPlan,
    x: &[f32],
    semitones: f64,
    quality: ResampleQuality,
) -> Vec<f32> {
    if semitones == 0.0 || x.is_empty() {
        return x.to_vec();
    }
    let rate = 2f64.powf(-semitones / 12.0);
    let stretched_len = (x.len() as f64 / rate).round() as usize;
    let stretched = time_stretch(plan, x, rate, stretched_len);
    // Resample from sr / rate to sr: ratio `rate`.
    let r = Resampler::new(1.0, rate, quality).expect("rate is positive");
    let mut out = vec![0.0f32; x.len()];
    r.process_into(&stretched, &mut out);
    out
}
