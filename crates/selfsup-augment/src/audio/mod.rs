//! Audio: WAV I/O, waveform transforms, spectrogram features and SpecAugment.
//!
//! (Filled by the audio-augmentation work.)
