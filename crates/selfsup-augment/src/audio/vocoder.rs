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
//! Cost: the frames are real, so each complex FFT carries two of them (analysis and synthesis), in
//! fixed pairs (0, 1), (2, 3), … whatever the output length; working buffers are per-thread and
//! reused; only the synthesis frames that reach the kept output are computed.
//!
//! `n_fft` defaults to the power of two nearest 64 ms of audio (512 at 8 kHz, 1024 at 16 kHz, 4096 at
//! 44.1 kHz), which keeps the frequency resolution of librosa's 2048 at 22 kHz across rates.

use crate::audio::resample::{ResampleQuality, Resampler};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Complex forward and inverse plans plus the Hann window for one `n_fft`. The frames are real, so
/// each complex transform carries two of them: one as the real part, one as the imaginary part.
pub(crate) struct VocoderPlan {
    n_fft: usize,
    hop: usize,
    window: Vec<f32>,
    /// The squared window, summed by the overlap-add normalisation.
    window_sq: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
    ifft: Arc<dyn Fft<f32>>,
}

impl VocoderPlan {
    fn new(n_fft: usize) -> Self {
        let mut planner = FftPlanner::<f32>::new();
        let window = super::features::WindowKind::Hann.periodic(n_fft);
        VocoderPlan {
            n_fft,
            hop: n_fft / 4,
            window_sq: window.iter().map(|w| w * w).collect(),
            window,
            fft: planner.plan_fft_forward(n_fft),
            ifft: planner.plan_fft_inverse(n_fft),
        }
    }

    /// Analysis frame `t` of `x` (centred, reflect-padded) times the window, into `frame`.
    fn window_frame(&self, x: &[f32], t: usize, frame: &mut [f32]) {
        let n_fft = self.n_fft;
        let n = x.len() as i64;
        let start = (t * self.hop) as i64 - (n_fft / 2) as i64;
        // Reflect only the part of the window that lies outside the clip.
        let lo = (-start).clamp(0, n_fft as i64) as usize;
        let hi = (n - start).clamp(lo as i64, n_fft as i64) as usize;
        for (j, (f, &w)) in frame.iter_mut().zip(&self.window).enumerate().take(lo) {
            *f = x[reflect(start + j as i64, n)] * w;
        }
        let inside = &x[(start + lo as i64) as usize..(start + hi as i64) as usize];
        for ((f, &v), &w) in frame[lo..hi]
            .iter_mut()
            .zip(inside)
            .zip(&self.window[lo..hi])
        {
            *f = v * w;
        }
        for (j, (f, &w)) in frame.iter_mut().zip(&self.window).enumerate().skip(hi) {
            *f = x[reflect(start + j as i64, n)] * w;
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
    // One reflection at either end covers every frame of a clip longer than half a window.
    if (0..n).contains(&i) {
        return i as usize;
    }
    if (1 - n..0).contains(&i) {
        return (-i) as usize;
    }
    if (n..2 * n - 1).contains(&i) {
        return (2 * (n - 1) - i) as usize;
    }
    let period = 2 * (n - 1);
    let mut k = i.rem_euclid(period);
    if k >= n {
        k = period - k;
    }
    k as usize
}

/// Per-thread working buffers of [`time_stretch_into`], reused from call to call (they only grow), so a
/// clip costs no allocation. Results never depend on what a buffer held before.
#[derive(Default)]
struct Scratch {
    /// Two real frames, and the spectra of two synthesis frames.
    frame: Vec<f32>,
    frame_b: Vec<f32>,
    bins: Vec<Complex<f32>>,
    bins_b: Vec<Complex<f32>>,
    /// A complex transform's buffer, its mirror image `z[(n_fft − k) mod n_fft]` (k ≤ n_fft / 2),
    /// and its scratch space.
    z: Vec<Complex<f32>>,
    mirror: Vec<Complex<f32>>,
    fft: Vec<Complex<f32>>,
    /// Magnitude and unit phasor (split into real and imaginary parts) of every analysis bin.
    mags: Vec<f32>,
    unit_re: Vec<f32>,
    unit_im: Vec<f32>,
    /// The running phase, as unit phasors.
    acc_re: Vec<f32>,
    acc_im: Vec<f32>,
    y: Vec<f32>,
    wsum: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// `v` resized to `len` and filled with `value`.
fn reset<T: Clone>(v: &mut Vec<T>, len: usize, value: T) -> &mut [T] {
    v.clear();
    v.resize(len, value);
    v
}

/// The first `len` elements of `v` (grown with `value` if shorter), with whatever they held: for
/// buffers that are written in full before they are read.
fn first<T: Clone>(v: &mut Vec<T>, len: usize, value: T) -> &mut [T] {
    if v.len() < len {
        v.resize(len, value);
    }
    &mut v[..len]
}

/// One synthesis frame's bins: magnitudes interpolated between two analysis frames times the running
/// phase, then the running phase advanced by `arg(u1) − arg(u0)` (every 16th frame renormalised to
/// stop the rounding drift of the unit phasors). The arithmetic is that of `Complex<f32>` products,
/// written out on split real/imaginary arrays so that it vectorises.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn synthesise_bins<const RENORMALISE: bool>(
    alpha: f32,
    (m0, m1): (&[f32], &[f32]),
    (u0_re, u0_im): (&[f32], &[f32]),
    (u1_re, u1_im): (&[f32], &[f32]),
    acc_re: &mut [f32],
    acc_im: &mut [f32],
    bins: &mut [Complex<f32>],
) {
    let nf = bins.len();
    let (m0, m1) = (&m0[..nf], &m1[..nf]);
    let (u0_re, u0_im, u1_re, u1_im) = (&u0_re[..nf], &u0_im[..nf], &u1_re[..nf], &u1_im[..nf]);
    let (acc_re, acc_im) = (&mut acc_re[..nf], &mut acc_im[..nf]);
    for b in 0..nf {
        let mag = (1.0 - alpha) * m0[b] + alpha * m1[b];
        let (ar, ai) = (acc_re[b], acc_im[b]);
        bins[b] = Complex::new(ar * mag, ai * mag);
        // d = u1 · conj(u0); next = acc · d.
        let dr = u1_re[b] * u0_re[b] + u1_im[b] * u0_im[b];
        let di = u1_im[b] * u0_re[b] - u1_re[b] * u0_im[b];
        let mut nr = ar * dr - ai * di;
        let mut ni = ar * di + ai * dr;
        if RENORMALISE {
            let nm = (nr * nr + ni * ni).sqrt();
            (nr, ni) = if nm > 0.0 {
                (nr / nm, ni / nm)
            } else {
                (1.0, 0.0)
            };
        }
        acc_re[b] = nr;
        acc_im[b] = ni;
    }
}

/// Time-stretches one channel by `rate` into `out`: `out[o]` is sample `o` of the stretched signal of
/// `stretched_len` samples (`round(len / rate)` for librosa's behaviour), and zero past it. Only the
/// synthesis frames that reach `out` are computed, so a shorter `out` (a stretched clip cut back to
/// its input length) costs less and holds exactly the same samples.
pub(crate) fn time_stretch_into(
    plan: &VocoderPlan,
    x: &[f32],
    rate: f64,
    stretched_len: usize,
    out: &mut [f32],
) {
    out.fill(0.0);
    let keep = out.len().min(stretched_len);
    if x.is_empty() || keep == 0 {
        return;
    }
    SCRATCH.with_borrow_mut(|s| stretch_with(plan, x, rate, &mut out[..keep], s));
}

/// Magnitude and unit phasor of one bin (a zero bin has phase 0, as numpy's angle).
#[inline(always)]
fn polar(re: f32, im: f32) -> (f32, f32, f32) {
    let mag = (re * re + im * im).sqrt();
    let inv = if mag > 0.0 { 1.0 / mag } else { 0.0 };
    if mag > 0.0 {
        (mag, re * inv, im * inv)
    } else {
        (mag, 1.0, 0.0)
    }
}

/// Magnitudes and unit phasors of one frame's bins `0 ..= n_fft / 2`, given as `bin(k)`.
#[inline(always)]
fn store_polar(
    (mags, unit_re, unit_im): (&mut [f32], &mut [f32], &mut [f32]),
    z: &[Complex<f32>],
    mirror: &[Complex<f32>],
    bin: impl Fn(Complex<f32>, Complex<f32>) -> (f32, f32),
) {
    for ((((&zk, &mk), m), ur), ui) in z
        .iter()
        .zip(mirror)
        .zip(mags.iter_mut())
        .zip(unit_re.iter_mut())
        .zip(unit_im.iter_mut())
    {
        let (re, im) = bin(zk, mk);
        (*m, *ur, *ui) = polar(re, im);
    }
}

fn stretch_with(plan: &VocoderPlan, x: &[f32], rate: f64, out: &mut [f32], s: &mut Scratch) {
    let n_fft = plan.n_fft;
    let hop = plan.hop;
    let half = n_fft / 2;
    let nf = n_fft / 2 + 1;
    let n_frames = 1 + x.len() / hop;
    // Synthesis frame i reads the analysis frames around t = i · rate, for every t < n_frames; only
    // those starting before the end of `out` (after trimming n_fft / 2) matter.
    let n_out_frames = (0..)
        .map(|i| i as f64 * rate)
        .take_while(|&t| t < n_frames as f64)
        .count();
    // Frames go through the transforms in pairs (0, 1), (2, 3), …, so a pair is always the same two
    // frames whatever `out`'s length (and the rounding of the samples kept never depends on it).
    let n_used = n_out_frames.min((half + out.len()).div_ceil(hop).next_multiple_of(2));
    let k_last = ((n_used - 1) as f64 * rate).floor() as usize;
    // Analysis frames read: 0 ..= k_last + 1 (and 0 ..= 2 for the clean start); those at or past
    // n_frames are all zero (magnitude 0, phase 0).
    let n_store = (k_last + 2).max(3);
    let n_computed = n_store.min(n_frames);
    let mags = first(&mut s.mags, n_store * nf, 0.0);
    let unit_re = first(&mut s.unit_re, n_store * nf, 1.0);
    let unit_im = first(&mut s.unit_im, n_store * nf, 0.0);
    mags[n_computed * nf..].fill(0.0);
    unit_re[n_computed * nf..].fill(1.0);
    unit_im[n_computed * nf..].fill(0.0);
    let zero = Complex::new(0.0f32, 0.0);
    let frame = first(&mut s.frame, n_fft, 0.0);
    let frame_b = first(&mut s.frame_b, n_fft, 0.0);
    let bins = first(&mut s.bins, nf, zero);
    let bins_b = first(&mut s.bins_b, nf, zero);
    let z = first(&mut s.z, n_fft, zero);
    let mirror = first(&mut s.mirror, nf, zero);
    let scratch_len = plan
        .fft
        .get_inplace_scratch_len()
        .max(plan.ifft.get_inplace_scratch_len());
    let fft = first(&mut s.fft, scratch_len, zero);
    // Analysis: centred, reflect-padded STFT, two frames per transform (z = a + i·b, so that
    // A[k] = (Z[k] + conj Z[N−k]) / 2 and B[k] = (Z[k] − conj Z[N−k]) / 2i); each spectrum goes
    // straight to magnitudes and unit phasors.
    for t in (0..n_computed).step_by(2) {
        plan.window_frame(x, t, frame);
        if t + 1 < n_frames {
            plan.window_frame(x, t + 1, frame_b);
        } else {
            frame_b.fill(0.0);
        }
        for ((zj, &a), &b) in z.iter_mut().zip(frame.iter()).zip(frame_b.iter()) {
            *zj = Complex::new(a, b);
        }
        plan.fft.process_with_scratch(z, fft);
        mirror[0] = z[0];
        for (m, &v) in mirror[1..].iter_mut().zip(z[n_fft - nf + 1..].iter().rev()) {
            *m = v;
        }
        let (head, tail) = mags.split_at_mut((t + 1) * nf);
        let (head_re, tail_re) = unit_re.split_at_mut((t + 1) * nf);
        let (head_im, tail_im) = unit_im.split_at_mut((t + 1) * nf);
        let a = t * nf..(t + 1) * nf;
        store_polar(
            (
                &mut head[a.clone()],
                &mut head_re[a.clone()],
                &mut head_im[a],
            ),
            &z[..nf],
            mirror,
            |zk, mk| (0.5 * (zk.re + mk.re), 0.5 * (zk.im - mk.im)),
        );
        if t + 1 < n_computed {
            store_polar(
                (&mut tail[..nf], &mut tail_re[..nf], &mut tail_im[..nf]),
                &z[..nf],
                mirror,
                |zk, mk| (0.5 * (zk.im + mk.im), 0.5 * (mk.re - zk.re)),
            );
        }
    }
    // The first frame is mostly reflect padding, so its phases and its advance to frame 1 are not
    // those of the signal. librosa uses them anyway; for rates < 1 the pair (0, 1) is then used
    // several times and its error stays in the running phase for the whole clip (a pure tone loses a
    // third of its amplitude). Here the running phase starts from frame 1 moved back by the clean
    // advance of frames 1 → 2 (u1 · conj(u2 · conj(u1))), and that advance also serves the pair (0, 1).
    let clean_start = n_frames >= 3;
    let acc_re = first(&mut s.acc_re, nf, 0.0);
    let acc_im = first(&mut s.acc_im, nf, 0.0);
    for b in 0..nf {
        if clean_start {
            let (u1r, u1i) = (unit_re[nf + b], unit_im[nf + b]);
            let (u2r, u2i) = (unit_re[2 * nf + b], unit_im[2 * nf + b]);
            let (dr, di) = (u2r * u1r + u2i * u1i, u2i * u1r - u2r * u1i);
            acc_re[b] = u1r * dr + u1i * di;
            acc_im[b] = u1i * dr - u1r * di;
        } else {
            acc_re[b] = unit_re[b];
            acc_im[b] = unit_im[b];
        }
    }
    // Synthesis frame i's bins (advancing the running phase).
    let mut synthesise = |i: usize, bins: &mut [Complex<f32>]| {
        let t = i as f64 * rate;
        let k = t.floor() as usize;
        let alpha = (t - k as f64) as f32;
        let m = (
            &mags[k * nf..(k + 1) * nf],
            &mags[(k + 1) * nf..(k + 2) * nf],
        );
        // Phase advance source: the pair (k, k+1), or (1, 2) for the padded first pair.
        let pk = if k == 0 && clean_start { 1 } else { k };
        let u0 = (
            &unit_re[pk * nf..(pk + 1) * nf],
            &unit_im[pk * nf..(pk + 1) * nf],
        );
        let u1 = (
            &unit_re[(pk + 1) * nf..(pk + 2) * nf],
            &unit_im[(pk + 1) * nf..(pk + 2) * nf],
        );
        if i % 16 == 15 {
            synthesise_bins::<true>(alpha, m, u0, u1, acc_re, acc_im, bins);
        } else {
            synthesise_bins::<false>(alpha, m, u0, u1, acc_re, acc_im, bins);
        }
        // A real frame's spectrum: the DC and Nyquist bins are real.
        bins[0].im = 0.0;
        bins[nf - 1].im = 0.0;
    };
    let y_len = ((n_used - 1) * hop + n_fft).max(half + out.len());
    let y = reset(&mut s.y, y_len, 0.0);
    let wsum = reset(&mut s.wsum, y_len, 0.0);
    let inv_n = 1.0 / n_fft as f32;
    let mut overlap_add = |i: usize, frame: &[f32]| {
        let off = i * hop;
        for (((yv, wv), &f), (&w, &w2)) in y[off..off + n_fft]
            .iter_mut()
            .zip(&mut wsum[off..off + n_fft])
            .zip(frame)
            .zip(plan.window.iter().zip(&plan.window_sq))
        {
            *yv += f * w * inv_n;
            *wv += w2;
        }
    };
    // Two synthesis frames per inverse transform: Z = A + i·B over the full (Hermitian) spectra,
    // whose inverse has frame a as its real part and frame b as its imaginary part.
    for i in (0..n_used).step_by(2) {
        let pair = i + 1 < n_used;
        synthesise(i, bins);
        if pair {
            synthesise(i + 1, bins_b);
        } else {
            bins_b.fill(zero);
        }
        for ((zk, a), b) in z[..nf].iter_mut().zip(bins.iter()).zip(bins_b.iter()) {
            *zk = Complex::new(a.re - b.im, a.im + b.re);
        }
        for ((zk, a), b) in z[nf..]
            .iter_mut()
            .rev()
            .zip(&bins[1..nf - 1])
            .zip(&bins_b[1..nf - 1])
        {
            *zk = Complex::new(a.re + b.im, b.re - a.im);
        }
        plan.ifft.process_with_scratch(z, fft);
        for ((a, b), zj) in frame.iter_mut().zip(frame_b.iter_mut()).zip(z.iter()) {
            *a = zj.re;
            *b = zj.im;
        }
        overlap_add(i, frame);
        if pair {
            overlap_add(i + 1, frame_b);
        }
    }
    for ((o, &yv), &w) in out.iter_mut().zip(&y[half..]).zip(&wsum[half..]) {
        *o = if w > 1e-8 { yv / w } else { yv };
    }
}

/// Shifts the pitch of one channel by `semitones` into `out` (which has the length of `x`).
pub(crate) fn pitch_shift_into(
    plan: &VocoderPlan,
    x: &[f32],
    semitones: f64,
    quality: ResampleQuality,
    out: &mut [f32],
) {
    if semitones == 0.0 || x.is_empty() {
        out.copy_from_slice(x);
        return;
    }
    let rate = 2f64.powf(-semitones / 12.0);
    let stretched_len = (x.len() as f64 / rate).round() as usize;
    let mut stretched = vec![0.0f32; stretched_len];
    time_stretch_into(plan, x, rate, stretched_len, &mut stretched);
    // Resample from sr / rate to sr: ratio `rate`.
    let r = Resampler::new(1.0, rate, quality).expect("rate is positive");
    r.process_into(&stretched, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chirp with a little deterministic hash noise: energy in every bin, no periodicity.
    fn signal(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f64 / 8000.0;
                let tone = 0.5 * (std::f64::consts::TAU * (200.0 * t + 900.0 * t * t)).sin();
                let hash = ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as f64;
                (tone + 0.05 * (hash / (1u64 << 24) as f64 - 0.5)) as f32
            })
            .collect()
    }

    #[test]
    fn reflect_matches_the_periodic_definition() {
        for n in [1i64, 2, 3, 7, 64] {
            for i in -3 * n..4 * n {
                let want = if n == 1 {
                    0
                } else {
                    let period = 2 * (n - 1);
                    let k = i.rem_euclid(period);
                    if k >= n {
                        period - k
                    } else {
                        k
                    }
                };
                assert_eq!(reflect(i, n) as i64, want, "i {i} n {n}");
            }
        }
    }

    #[test]
    fn a_shorter_output_is_exactly_the_start_of_the_full_stretch() {
        let plan = VocoderPlan::new(512);
        let x = signal(3001);
        for rate in [0.8, 0.93, 1.0, 1.17, 1.25] {
            let stretched = (x.len() as f64 / rate).round() as usize;
            let mut full = vec![1.0f32; stretched.max(x.len()) + 37];
            time_stretch_into(&plan, &x, rate, stretched, &mut full);
            assert!(full[stretched..].iter().all(|&v| v == 0.0), "rate {rate}");
            assert!(full[..stretched].iter().any(|&v| v != 0.0), "rate {rate}");
            for keep in [1, 100, 1000, x.len(), stretched - 1, stretched + 5] {
                let mut out = vec![1.0f32; keep];
                time_stretch_into(&plan, &x, rate, stretched, &mut out);
                assert_eq!(out, full[..keep], "rate {rate} keep {keep}");
            }
        }
    }

    #[test]
    fn rate_one_gives_the_input_back_past_the_first_frame() {
        // At rate 1 every synthesis frame is its analysis frame with its own phases (the running
        // phase from frame 1 on is exactly u_i), so the window-square normalised overlap-add
        // reconstructs the clip; only the first frame's phases are replaced (clean start).
        let plan = VocoderPlan::new(512);
        for n in [3001, 4096, 777] {
            let x = signal(n);
            let mut out = vec![0.0f32; n];
            time_stretch_into(&plan, &x, 1.0, n, &mut out);
            let err = out[256..]
                .iter()
                .zip(&x[256..])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-5, "n {n}: max error {err}");
        }
    }

    #[test]
    fn reused_scratch_buffers_do_not_leak_between_clips() {
        // The same clips on a fresh thread, and after a longer clip left its buffers behind.
        let run = |warm_up: bool| {
            std::thread::spawn(move || {
                let plan = VocoderPlan::new(512);
                if warm_up {
                    let mut big = vec![0.0f32; 40_000];
                    time_stretch_into(&plan, &signal(30_000), 0.77, 38_961, &mut big);
                }
                [(200, 0.8), (700, 1.25), (3001, 0.9)].map(|(n, rate)| {
                    let x = signal(n);
                    let stretched = (n as f64 / rate).round() as usize;
                    let mut out = vec![0.0f32; stretched];
                    time_stretch_into(&plan, &x, rate, stretched, &mut out);
                    out
                })
            })
            .join()
            .unwrap()
        };
        assert_eq!(run(false), run(true));
    }
}
