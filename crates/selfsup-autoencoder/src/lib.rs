//! # selfsup-autoencoder
//!
//! Auto-associative self-supervised learning: plain, denoising and sparse autoencoders, the VAE, and the
//! masked autoencoder. Each model is a [`selfsup_nn::Method`] whose step is a reconstruction loss, so the
//! trainer runs it like any contrastive method.
//!
//! ## Must never depend on
//! `selfsup-train` (the trainer depends on methods, not the other way round) or the data crates.
//!
//! Status: the crate's home and its public shape; the models land with the autoencoder issue.
