//! Heads sized for small datasets and short schedules: the widths of lightly's CIFAR-10 benchmark
//! (`benchmarks/cifar10_benchmark.py`, ResNet-18 features of 512), where the paper defaults
//! (ImageNet, hundreds of epochs) cost more than the small encoders they sit on.
//!
//! | method | paper default | small data |
//! | --- | --- | --- |
//! | Barlow Twins, VICReg | projector 8192-8192-8192 | 2048-2048-2048 |
//! | DINO | K = 65,536 outputs, teacher momentum 0.996 | K = 2,048, momentum 0.99 |
//! | BYOL | 4096-wide heads, momentum 0.996 | 1024-wide, momentum 0.99 |
//! | MoCo v3 | 4096-wide heads | 1024-wide |
//! | SwAV | 3,000 prototypes | 512 |
//!
//! The other methods' defaults already are lightly's benchmark sizes or close to them (SimCLR, DCL,
//! SupCon and MoCo v2 `d-2048-128`, SimSiam, NNCLR) and are left as they are. A teacher momentum of
//! 0.996 is meant for runs of tens of thousands of steps; over a few hundred the EMA teacher barely
//! leaves its random initialisation, so the benchmark's 0.99 is used.

use super::MethodConfig;

impl MethodConfig {
    /// Resizes the heads (and the EMA teachers' momentum) to lightly's CIFAR-10 benchmark; see the
    /// module documentation. Other hyper-parameters are kept.
    pub fn use_small_data_heads(&mut self) {
        match self {
            MethodConfig::BarlowTwins(c) => (c.hidden_dim, c.output_dim) = (2048, 2048),
            MethodConfig::Vicreg(c) => (c.hidden_dim, c.output_dim) = (2048, 2048),
            MethodConfig::Dino(c) => (c.output_dim, c.momentum_start) = (2048, 0.99),
            MethodConfig::Byol(c) => (c.hidden_dim, c.momentum_start) = (1024, 0.99),
            MethodConfig::MocoV3(c) => c.hidden_dim = 1024,
            MethodConfig::Swav(c) => c.n_prototypes = 512,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_data_heads_shrink_the_wide_heads_and_keep_the_rest() {
        let mut b = MethodConfig::from(super::super::BarlowTwinsConfig::default());
        b.use_small_data_heads();
        let MethodConfig::BarlowTwins(c) = &b else {
            panic!("kind changed")
        };
        assert_eq!((c.hidden_dim, c.output_dim), (2048, 2048));
        assert_eq!(c.lambda, super::super::BarlowTwinsConfig::default().lambda);
        let mut d = MethodConfig::from(super::super::DinoConfig::default());
        d.use_small_data_heads();
        let MethodConfig::Dino(c) = &d else {
            panic!("kind changed")
        };
        assert_eq!((c.output_dim, c.momentum_start), (2048, 0.99));
        let mut s = MethodConfig::from(super::super::SimClrConfig::default());
        s.use_small_data_heads();
        assert_eq!(s, MethodConfig::from(super::super::SimClrConfig::default()));
    }
}
