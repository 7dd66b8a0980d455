"""Python counterparts of crates/selfsup-augment/benches/audio_pipeline.rs (same clips, same settings).

Every 5th FSDD clip (600 clips, sorted by name) is decoded once; each pipeline runs over all of them, on
both sides. Every transform has p=1.0. `<id>` lines use 2 worker processes (the Rust side: a 2-thread rayon
pool); `<id>/1thread` lines run in this process on one thread (the Rust side: a 1-thread pool), with the
per-CPU-second figure. Prints one JSON object per line with the per-pass times of N repeats (see _bench.py).

Pinned to what selfsup does: TimeStretch and PitchShift use `method="librosa_phase_vocoder"` (selfsup's
vocoder is librosa's algorithm; audiomentations' default is signalsmith_stretch), and Shift has
`fade_duration=0.0` (selfsup's Shift rolls over without a fade; audiomentations' default fades 5 ms).
Known remaining differences: librosa's vocoder uses n_fft 2048 where selfsup uses 512 at 8 kHz, and librosa
resamples the pitch shift with soxr where selfsup uses its windowed sinc.

    .venv-fixtures/bin/python scripts/bench/audio_pipeline.py
"""
import multiprocessing as mp
import os
import wave

import numpy as np

from _bench import run, selected, versions

CLIPS = None


def load():
    d = os.path.join("data", "fsdd", "recordings")
    names = sorted(n for n in os.listdir(d) if n.endswith(".wav"))[::5]
    out = []
    for n in names:
        with wave.open(os.path.join(d, n)) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        out.append(x)
    return out


def make(kind):
    import torch
    torch.set_num_threads(1)
    if kind == "mel":
        import torchaudio
        m = torchaudio.transforms.MelSpectrogram(sample_rate=8000, n_fft=256, hop_length=80, n_mels=40)
        return lambda x: m(torch.from_numpy(x))
    from audiomentations import AddGaussianNoise, Compose, Gain, PitchShift, Shift, TimeStretch
    vocoder = "librosa_phase_vocoder"
    if kind == "full":
        c = Compose([AddGaussianNoise(p=1.0), TimeStretch(method=vocoder, p=1.0),
                     PitchShift(method=vocoder, p=1.0), Shift(fade_duration=0.0, p=1.0), Gain(p=1.0)])
    else:
        c = Compose([AddGaussianNoise(p=1.0), Shift(fade_duration=0.0, p=1.0), Gain(p=1.0)])
    return lambda x: c(samples=x, sample_rate=8000)


def work(args):
    kind, lo, hi = args
    f = make(kind)
    for x in CLIPS[lo:hi]:
        f(x)
    return hi - lo


def pass_fn(kind, workers, pool):
    """One pass over all clips: in this process (1 worker) or split over the pool's worker processes."""
    n = len(CLIPS)
    if workers == 1:
        f = make(kind)

        def one_pass():
            for x in CLIPS:
                f(x)
        return one_pass
    pool.map(work, [(kind, 0, 2)] * workers)  # warm up imports in the workers
    step = (n + workers - 1) // workers

    def parallel_pass():
        assert sum(pool.map(work, [(kind, i, min(n, i + step)) for i in range(0, n, step)])) == n
    return parallel_pass


if __name__ == "__main__":
    cases = [
        ("audio_pipeline/noise_stretch_pitch_shift_gain", "full",
         "audiomentations AddGaussianNoise+TimeStretch+PitchShift (librosa_phase_vocoder)+Shift (no fade)+Gain (p=1)"),
        ("audio_pipeline/noise_shift_gain", "light",
         "audiomentations AddGaussianNoise+Shift (no fade)+Gain (p=1)"),
        ("audio_pipeline/mel_spectrogram_n256_h80_m40", "mel",
         "torchaudio MelSpectrogram(8 kHz, n_fft 256, hop 80, 40 mels), torch 1 thread per worker"),
    ]
    todo = [(id_ + ("" if w == 2 else "/1thread"), kind, what, w)
            for id_, kind, what in cases for w in (2, 1)]
    todo = [t for t in todo if selected(t[0])]
    if todo:
        VERSIONS = versions("torch", "torchaudio", "audiomentations", "librosa", "numpy", "soxr")
        CLIPS = load()
        with mp.get_context("fork").Pool(2) as pool:
            for id_, kind, what, workers in todo:
                run(id_, pass_fn(kind, workers, pool), len(CLIPS), "clips/s",
                    f"{what}, {workers} worker process(es), {len(CLIPS)} FSDD clips",
                    f"{workers} process(es), torch 1 thread each", min_time=0.0, cpu=workers == 1,
                    versions=VERSIONS)
