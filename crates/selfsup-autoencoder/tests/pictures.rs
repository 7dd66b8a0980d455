//! `write_pictures`: every auto-encoder kind writes its PNGs, with the pixel size the layout implies
//! (28×28 digits in cells separated by 2-pixel gaps; spectrogram panels stacked with 2-pixel gaps),
//! and other methods write nothing.

use selfsup_autoencoder::pictures::{INTERPOLATION_STEPS, PAD, PICTURE_ROWS};
use selfsup_autoencoder::{
    write_pictures, AeConfig, AutoencoderConfig, DaeConfig, MaeConfig, SparseAeConfig, VaeConfig,
};
use selfsup_nn::backbones::ConvNetConfig;
use selfsup_nn::{BackboneConfig, MlpConfig};
use std::path::Path;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// Width and height from a PNG's IHDR chunk (bytes 16..24), read independently of any decoder.
fn png_size(path: &Path) -> (usize, usize) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let w = u32::from_be_bytes([b[16], b[17], b[18], b[19]]) as usize;
    let h = u32::from_be_bytes([b[20], b[21], b[22], b[23]]) as usize;
    (w, h)
}

/// Pixel extent of `cells` 28-pixel cells with `PAD` gaps around and between them.
fn extent(cells: usize) -> usize {
    cells * 28 + (cells + 1) * PAD
}

fn mlp(input: i64) -> BackboneConfig {
    BackboneConfig::Mlp(MlpConfig {
        input_dim: input,
        hidden: vec![32],
        output_dim: 8,
        batch_norm: false,
    })
}

fn tiny_mae() -> MaeConfig {
    MaeConfig {
        embed_dim: 16,
        depth: 1,
        num_heads: 2,
        decoder_embed_dim: 16,
        decoder_depth: 1,
        decoder_num_heads: 2,
        ..Default::default()
    }
}

fn names(paths: &[std::path::PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn image_pictures_appear_with_the_expected_pixel_size() {
    let rows = PICTURE_ROWS as usize;
    let x = Tensor::rand([10, 1, 28, 28], (Kind::Float, Device::Cpu));
    let noise = Tensor::randn([10, 1, 28, 28], (Kind::Float, Device::Cpu)) * 0.3;
    let noisy = (&x + noise).clamp(0.0, 1.0);
    let conv = BackboneConfig::ConvNet(ConvNetConfig {
        widths: vec![4, 8],
        ..Default::default()
    });
    let cases: Vec<(
        AutoencoderConfig,
        BackboneConfig,
        Vec<Tensor>,
        Vec<(&str, usize, usize)>,
    )> = vec![
        (
            AutoencoderConfig::Ae(AeConfig::default()),
            mlp(784),
            vec![x.shallow_clone()],
            vec![("t_recon.png", extent(2), extent(rows))],
        ),
        (
            AutoencoderConfig::SparseAe(SparseAeConfig::default()),
            conv.clone(),
            vec![x.shallow_clone()],
            vec![("t_recon.png", extent(2), extent(rows))],
        ),
        (
            // clean | corrupted | reconstruction
            AutoencoderConfig::Dae(DaeConfig::default()),
            mlp(784),
            vec![noisy.shallow_clone(), x.shallow_clone()],
            vec![("t_recon.png", extent(3), extent(rows))],
        ),
        (
            AutoencoderConfig::Vae(VaeConfig::default()),
            mlp(784),
            vec![x.shallow_clone()],
            vec![
                ("t_recon.png", extent(2), extent(rows)),
                ("t_samples.png", extent(rows), extent(2)),
                (
                    "t_interpolation.png",
                    extent(INTERPOLATION_STEPS as usize),
                    extent(1),
                ),
            ],
        ),
        (
            // masked | reconstruction | original
            AutoencoderConfig::Mae(tiny_mae()),
            BackboneConfig::default(),
            vec![x.shallow_clone()],
            vec![("t_recon.png", extent(3), extent(rows))],
        ),
    ];
    for (cfg, backbone, views, want) in cases {
        let kind = cfg.name();
        let m = cfg
            .build_in(VarStore::new(Device::Cpu), &backbone, &[1, 28, 28])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pictures");
        let written = write_pictures(m.as_ref(), &views, &out, "t", 3).unwrap();
        let expected: Vec<String> = want.iter().map(|w| w.0.to_string()).collect();
        assert_eq!(names(&written), expected, "{kind}");
        for (name, w, h) in want {
            assert_eq!(png_size(&out.join(name)), (w, h), "{kind}: {name}");
        }
    }
}

#[test]
fn mae_picture_is_reproducible_by_seed_and_shows_the_mask() {
    let x = Tensor::rand([8, 1, 28, 28], (Kind::Float, Device::Cpu)) * 0.5 + 0.5;
    let m = AutoencoderConfig::Mae(tiny_mae())
        .build_in(
            VarStore::new(Device::Cpu),
            &BackboneConfig::default(),
            &[1, 28, 28],
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = write_pictures(m.as_ref(), &[x.shallow_clone()], dir.path(), "a", 1).unwrap();
    let b = write_pictures(m.as_ref(), &[x.shallow_clone()], dir.path(), "b", 1).unwrap();
    let c = write_pictures(m.as_ref(), &[x.shallow_clone()], dir.path(), "c", 2).unwrap();
    let read = |p: &Path| std::fs::read(p).unwrap();
    assert_eq!(read(&a[0]), read(&b[0]), "same seed, same picture");
    assert_ne!(read(&a[0]), read(&c[0]), "another seed masks other patches");
}

#[test]
fn spectrogram_pictures_stack_the_panels_of_four_clips() {
    let (f, t) = (16usize, 20usize);
    let x = Tensor::randn([6, f as i64, t as i64], (Kind::Float, Device::Cpu));
    let audio_mlp = mlp((f * t) as i64);
    let clips = (PICTURE_ROWS / 2) as usize;
    let panels_height = |panels: usize| panels * f + (panels - 1) * 2;
    let mut mae = MaeConfig::audio(4, 5);
    mae.embed_dim = 16;
    mae.num_heads = 2;
    mae.depth = 1;
    mae.decoder_embed_dim = 16;
    mae.decoder_num_heads = 2;
    mae.decoder_depth = 1;
    let cases: Vec<(AutoencoderConfig, BackboneConfig, Vec<(&str, usize)>)> = vec![
        (
            AutoencoderConfig::Ae(AeConfig::default()),
            audio_mlp.clone(),
            vec![("t_spectrograms.png", panels_height(2 * clips))],
        ),
        (
            AutoencoderConfig::Vae(VaeConfig::default()),
            audio_mlp.clone(),
            vec![
                ("t_spectrograms.png", panels_height(2 * clips)),
                ("t_samples.png", panels_height(2 * clips)),
                (
                    "t_interpolation.png",
                    panels_height(INTERPOLATION_STEPS as usize),
                ),
            ],
        ),
        (
            AutoencoderConfig::Mae(mae),
            BackboneConfig::default(),
            vec![("t_spectrograms.png", panels_height(3 * clips))],
        ),
    ];
    for (cfg, backbone, want) in cases {
        let kind = cfg.name();
        let m = cfg
            .build_in(VarStore::new(Device::Cpu), &backbone, &[f as i64, t as i64])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let written = write_pictures(m.as_ref(), &[x.shallow_clone()], dir.path(), "t", 0).unwrap();
        let expected: Vec<String> = want.iter().map(|w| w.0.to_string()).collect();
        assert_eq!(names(&written), expected, "{kind}");
        for (name, h) in want {
            assert_eq!(png_size(&dir.path().join(name)), (t, h), "{kind}: {name}");
        }
    }
}

#[test]
fn methods_of_other_families_write_nothing() {
    struct NotAnAutoencoder(VarStore);
    impl selfsup_nn::Method for NotAnAutoencoder {
        fn name(&self) -> &str {
            "other"
        }
        fn var_store(&self) -> &VarStore {
            &self.0
        }
        fn var_store_mut(&mut self) -> &mut VarStore {
            &mut self.0
        }
        fn step(
            &mut self,
            _: &selfsup_nn::Batch,
            _: &selfsup_nn::StepInfo,
        ) -> selfsup_nn::Result<selfsup_nn::StepOutput> {
            unreachable!()
        }
        fn embed(&self, x: &Tensor) -> selfsup_nn::Result<Tensor> {
            Ok(x.shallow_clone())
        }
        fn embed_dim(&self) -> i64 {
            1
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let m = NotAnAutoencoder(VarStore::new(Device::Cpu));
    let x = Tensor::rand([2, 1, 28, 28], (Kind::Float, Device::Cpu));
    assert!(write_pictures(&m, &[x], dir.path(), "t", 0)
        .unwrap()
        .is_empty());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
