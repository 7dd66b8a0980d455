//! `write_pictures` leaves libtorch's global generator alone (issue 15/18): the MAE's mask and the
//! VAE's prior samples come from a keyed host generator, so drawing pictures neither reseeds nor
//! advances the caller's generator, and the pictures do not depend on its state. A file of its own:
//! the test seeds and reads the global generator, which parallel tests in one binary would disturb.

use selfsup_autoencoder::{write_pictures, AutoencoderConfig, MaeConfig, VaeConfig};
use selfsup_nn::{BackboneConfig, MlpConfig};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

#[test]
fn pictures_neither_reseed_nor_advance_the_global_generator_and_ignore_its_state() {
    let mae = MaeConfig {
        embed_dim: 16,
        depth: 1,
        num_heads: 2,
        decoder_embed_dim: 16,
        decoder_depth: 1,
        decoder_num_heads: 2,
        ..Default::default()
    };
    let mlp = BackboneConfig::Mlp(MlpConfig {
        input_dim: 784,
        hidden: vec![32],
        output_dim: 8,
        batch_norm: false,
    });
    let x = Tensor::rand([6, 1, 28, 28], (Kind::Float, Device::Cpu));
    for (name, cfg, backbone) in [
        (
            "mae",
            AutoencoderConfig::Mae(mae),
            BackboneConfig::default(),
        ),
        ("vae", AutoencoderConfig::Vae(VaeConfig::default()), mlp),
    ] {
        let m = cfg
            .build_in(VarStore::new(Device::Cpu), &backbone, &[1, 28, 28])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        // What the caller draws next, without pictures in between...
        tch::manual_seed(5);
        let expected = Tensor::rand([16], (Kind::Float, Device::Cpu));
        // ... is what it draws next with pictures in between (seeded with another value).
        tch::manual_seed(5);
        let a = write_pictures(m.as_ref(), &[x.shallow_clone()], dir.path(), "a", 1).unwrap();
        let got = Tensor::rand([16], (Kind::Float, Device::Cpu));
        assert!(
            got.equal(&expected),
            "{name}: write_pictures changed libtorch's global generator"
        );
        // The same seed gives the same pictures whatever the global generator's state.
        tch::manual_seed(12345);
        let _ = Tensor::rand([7], (Kind::Float, Device::Cpu));
        let b = write_pictures(m.as_ref(), &[x.shallow_clone()], dir.path(), "b", 1).unwrap();
        assert_eq!(a.len(), b.len());
        assert!(!a.is_empty(), "{name}: no picture");
        for (pa, pb) in a.iter().zip(&b) {
            assert!(
                std::fs::read(pa).unwrap() == std::fs::read(pb).unwrap(),
                "{name}: {} differs from {} after another global seed",
                pb.display(),
                pa.display()
            );
        }
    }
}
