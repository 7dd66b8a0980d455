//! Correctness of the torch-free pretext generators: uniform labels (chi-square), inverses that
//! recover the input, CIE Lab against scikit-image, the jigsaw permutation set against a reference run
//! of the greedy algorithm, masking rates, and config errors for bad input.
#![allow(clippy::print_stderr)] // the tests report the figures they measure

use selfsup_core::{Error, Generator, ImageF32, Sample, SampleKey, Spectrogram};
use selfsup_pretext::audio::{MaskedSpectrogramConfig, SpecMask, TemporalOrderConfig};
use selfsup_pretext::colorization::{self, Colorization};
use selfsup_pretext::inpainting::{InpaintingConfig, Region};
use selfsup_pretext::jigsaw::{assemble, hamming_permutation_set, unshuffle, JigsawConfig};
use selfsup_pretext::relative::RelativePositionConfig;
use selfsup_pretext::rotation::{Rotation, RotationConfig};
use selfsup_pretext::{pretext_generator, PretextConfig, PretextGenerator, Target, KINDS};

fn image(c: usize, h: usize, w: usize, seed: u64) -> ImageF32 {
    let mut g = Generator::seed_from_u64(seed);
    let data = (0..c * h * w).map(|_| g.next_f64() as f32).collect();
    ImageF32::new(c, h, w, data).unwrap()
}

fn spec(f: usize, t: usize, seed: u64) -> Spectrogram {
    let mut g = Generator::seed_from_u64(seed);
    Spectrogram::new(1, f, t, (0..f * t).map(|_| g.normal() as f32).collect()).unwrap()
}

fn key(i: u64) -> SampleKey {
    SampleKey::new(7, 2, i)
}

fn class_of(t: &Target) -> usize {
    match t {
        Target::Class(k) => *k as usize,
        other => panic!("expected a class target, got {other:?}"),
    }
}

/// Pearson's chi-square statistic of `counts` against the uniform distribution.
fn chi_square(counts: &[usize]) -> f64 {
    let n: usize = counts.iter().sum();
    let e = n as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - e).powi(2) / e).sum()
}

/// Upper 0.001 quantiles of chi-square (scipy.stats.chi2.ppf(0.999, df)).
fn chi2_999(df: usize) -> f64 {
    match df {
        3 => 16.266,
        5 => 20.515,
        7 => 24.322,
        99 => 148.230,
        _ => panic!("no quantile for df {df}"),
    }
}

fn assert_uniform(g: &dyn PretextGenerator, sample: &Sample, draws: u64) {
    let k = g.num_classes().unwrap();
    let mut counts = vec![0usize; k];
    for i in 0..draws {
        let (_, t) = g.generate_keyed(sample, key(i)).unwrap();
        counts[class_of(&t)] += 1;
    }
    let x2 = chi_square(&counts);
    assert!(
        x2 < chi2_999(k - 1),
        "{}: chi-square {x2:.1} over {draws} draws exceeds the 0.999 quantile (df {}): {counts:?}",
        g.kind(),
        k - 1
    );
}

#[test]
fn labels_are_uniform_chi_square() {
    let img = Sample::Image(image(1, 12, 12, 1));
    assert_uniform(&RotationConfig::default().build().unwrap(), &img, 4000);
    assert_uniform(
        &RelativePositionConfig::default().build().unwrap(),
        &img,
        4000,
    );
    let jig = JigsawConfig {
        normalize_tiles: false,
        ..Default::default()
    }
    .build()
    .unwrap();
    assert_uniform(&jig, &img, 20_000);
    let s = Sample::Spectrogram(spec(8, 30, 2));
    assert_uniform(&TemporalOrderConfig::default().build().unwrap(), &s, 6000);
}

#[test]
fn chi_square_test_rejects_a_skewed_generator() {
    // The check above can fail: a 40/20/20/20 split over 4000 draws is far past the quantile.
    assert!(chi_square(&[1600, 800, 800, 800]) > chi2_999(3));
}

#[test]
fn rotation_views_rotate_back_to_the_input() {
    let img = image(3, 9, 9, 3);
    let s = Sample::Image(img.clone());
    let rot = Rotation::default();
    for i in 0..16 {
        let (views, t) = rot.generate_keyed(&s, key(i)).unwrap();
        let Sample::Image(v) = &views[0] else {
            panic!()
        };
        let k = class_of(&t) as u8;
        assert_eq!(Rotation::rotate_back(v, k), img);
        if k != 0 {
            assert_ne!(v, &img);
        }
    }
    let four = Rotation { all_four: true };
    let (views, t) = four.generate(&s, &mut Generator::seed_from_u64(0)).unwrap();
    assert_eq!(
        t,
        Target::Dense(Sample::Tokens(selfsup_core::Tokens {
            ids: vec![0, 1, 2, 3]
        }))
    );
    for (k, v) in views.iter().enumerate() {
        let Sample::Image(v) = v else { panic!() };
        assert_eq!(Rotation::rotate_back(v, k as u8), img);
    }
}

#[test]
fn jigsaw_unshuffle_recovers_the_tiles_and_the_image() {
    // Without gap or jitter the tiles are the image: un-shuffling and assembling gives it back.
    let img = image(2, 9, 9, 4);
    let exact = JigsawConfig {
        gap: 0.0,
        jitter: false,
        normalize_tiles: false,
        ..Default::default()
    }
    .build()
    .unwrap();
    let s = Sample::Image(img.clone());
    for i in 0..20 {
        let (views, t) = exact.generate_keyed(&s, key(i)).unwrap();
        let tiles: Vec<ImageF32> = views
            .into_iter()
            .map(|v| match v {
                Sample::Image(x) => x,
                _ => panic!(),
            })
            .collect();
        let perm = &exact.set().perms[class_of(&t)];
        let back = unshuffle(&tiles, perm).unwrap();
        assert_eq!(assemble(&back, 3).unwrap(), img);
    }
    // With gap and jitter: un-shuffled views are the tiles at their drawn positions.
    let jit = JigsawConfig {
        normalize_tiles: false,
        ..Default::default()
    }
    .build()
    .unwrap();
    let img = image(1, 30, 32, 5);
    let s = Sample::Image(img.clone());
    for i in 0..20 {
        let p = jit.sample_params(30, 32, &mut key(i).rng()).unwrap();
        let (views, t) = jit.generate_keyed(&s, key(i)).unwrap();
        assert_eq!(class_of(&t), p.class);
        let views: Vec<ImageF32> = views
            .into_iter()
            .map(|v| match v {
                Sample::Image(x) => x,
                _ => panic!(),
            })
            .collect();
        assert_eq!(views[0].dims(), (1, 8, 8)); // cell 10, gap round(1.5) = 2
        let back = unshuffle(&views, &jit.set().perms[p.class]).unwrap();
        assert_eq!(back, jit.tiles(&img, &p));
    }
}

#[test]
fn jigsaw_assembled_view_is_the_shuffled_tiles_on_the_input_canvas() {
    // `assemble_views`: one view of the input's size; cutting it at the drawn cells gives the tile
    // views of the default form, un-shuffling those gives the image's tiles, and every pixel outside
    // the tiles is 0.
    let cfg = JigsawConfig {
        normalize_tiles: false,
        assemble_views: true,
        ..Default::default()
    };
    let jig = cfg.build().unwrap();
    let tiles_form = JigsawConfig {
        assemble_views: false,
        ..cfg.clone()
    }
    .build()
    .unwrap();
    assert_eq!(jig.n_views(), 1);
    assert_eq!(PretextConfig::Jigsaw(cfg).n_views(), 1);
    let img = image(1, 28, 28, 6);
    let s = Sample::Image(img.clone());
    for i in 0..20 {
        let p = jig.sample_params(28, 28, &mut key(i).rng()).unwrap();
        let (views, t) = jig.generate_keyed(&s, key(i)).unwrap();
        assert_eq!(class_of(&t), p.class);
        assert_eq!(views.len(), 1);
        let Sample::Image(view) = &views[0] else {
            panic!("an image view")
        };
        assert_eq!(view.dims(), (1, 28, 28));
        let cut = jig.uncanvas(view, &p);
        let (tile_views, t2) = tiles_form.generate_keyed(&s, key(i)).unwrap();
        assert_eq!(class_of(&t2), p.class);
        let tile_views: Vec<ImageF32> = tile_views
            .into_iter()
            .map(|v| match v {
                Sample::Image(x) => x,
                _ => panic!(),
            })
            .collect();
        assert_eq!(cut, tile_views);
        assert_eq!(
            unshuffle(&cut, &jig.set().perms[p.class]).unwrap(),
            jig.tiles(&img, &p)
        );
        // Outside the tiles: 0. Count the covered pixels (9 tiles of p.tile², none overlapping).
        let covered = 9 * p.tile * p.tile;
        let zeros_expected = 28 * 28 - covered;
        let blank = jig.canvas(&ImageF32::zeros(1, 28, 28), &p);
        assert!(blank.plane(0).iter().all(|&v| v == 0.0));
        let mut all_one = ImageF32::zeros(1, 28, 28);
        all_one.plane_mut(0).fill(1.0);
        let ones = jig.canvas(&all_one, &p);
        let n_zero = ones.plane(0).iter().filter(|&&v| v == 0.0).count();
        assert_eq!(n_zero, zeros_expected, "pixels outside the 9 tiles");
    }
}

#[derive(serde::Deserialize)]
struct Fixture {
    versions: serde_json::Value,
    lab: LabFixture,
    jigsaw: Vec<JigsawCase>,
}

#[derive(serde::Deserialize)]
struct LabFixture {
    rgb: Vec<[f64; 3]>,
    lab: Vec<[f64; 3]>,
    rgb_back: Vec<[f64; 3]>,
    lab_random: Vec<[f64; 3]>,
    rgb_of_lab_random: Vec<[f64; 3]>,
}

#[derive(serde::Deserialize)]
struct JigsawCase {
    n: usize,
    size: usize,
    first: Vec<usize>,
    perms: Vec<Vec<usize>>,
    min_hamming: usize,
    mean_hamming: f64,
}

fn fixture() -> Fixture {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pretext.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close3(a: [f64; 3], b: [f64; 3], tol: f64) -> bool {
    a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= tol)
}

#[test]
fn lab_matches_scikit_image() {
    let f = fixture();
    assert!(f.versions.get("scikit-image").is_some());
    for (rgb, lab) in f.lab.rgb.iter().zip(&f.lab.lab) {
        let ours = colorization::rgb_to_lab(*rgb);
        assert!(
            close3(ours, *lab, 1e-9),
            "rgb2lab({rgb:?}) = {ours:?}, skimage {lab:?}"
        );
    }
    for (lab, rgb) in f.lab.lab.iter().zip(&f.lab.rgb_back) {
        let ours = colorization::lab_to_rgb(*lab);
        assert!(
            close3(ours, *rgb, 1e-9),
            "lab2rgb({lab:?}) = {ours:?}, skimage {rgb:?}"
        );
    }
    for (lab, rgb) in f.lab.lab_random.iter().zip(&f.lab.rgb_of_lab_random) {
        let ours = colorization::lab_to_rgb(*lab);
        assert!(
            close3(ours, *rgb, 1e-9),
            "lab2rgb({lab:?}) = {ours:?}, skimage {rgb:?}"
        );
    }
}

#[test]
fn colorization_round_trips_within_one_level() {
    let f = fixture();
    let n = f.lab.rgb.len();
    let mut data = vec![0.0f32; 3 * n];
    for (i, p) in f.lab.rgb.iter().enumerate() {
        for c in 0..3 {
            data[c * n + i] = p[c] as f32;
        }
    }
    let img = ImageF32::new(3, 1, n, data).unwrap();
    let (views, t) = Colorization::default()
        .generate(
            &Sample::Image(img.clone()),
            &mut Generator::seed_from_u64(0),
        )
        .unwrap();
    let (Sample::Image(l), Target::Dense(Sample::Image(ab))) = (&views[0], &t) else {
        panic!()
    };
    assert_eq!(l.dims(), (1, 1, n));
    assert_eq!(ab.dims(), (3, 1, n));
    assert!(ab.plane(2).iter().all(|&w| w == 1.0));
    for (i, lab) in f.lab.lab.iter().enumerate() {
        assert!((f64::from(l.data()[i]) * 100.0 - lab[0]).abs() < 1e-3);
        assert!((f64::from(ab.plane(0)[i]) * 110.0 - lab[1]).abs() < 1e-3);
    }
    let back = Colorization::reconstruct(l, ab).unwrap();
    let worst = back
        .data()
        .iter()
        .zip(img.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 1.0 / 255.0, "worst round-trip error {worst}");
}

#[test]
fn jigsaw_set_matches_the_reference_greedy_run() {
    for case in fixture().jigsaw {
        let set = hamming_permutation_set(case.n, case.size, &case.first).unwrap();
        eprintln!(
            "jigsaw set n={} size={}: min Hamming {} (reference {}), mean {:.4} (reference {:.4})",
            case.n,
            case.size,
            set.min_hamming,
            case.min_hamming,
            set.mean_hamming,
            case.mean_hamming
        );
        assert!(set.min_hamming >= case.min_hamming);
        assert!(set.mean_hamming >= case.mean_hamming - 1e-12);
        if case.size <= 24 {
            assert_eq!(set.perms, case.perms, "n={} size={}", case.n, case.size);
        }
    }
    // The default set (100 of 9!) is the reference run exactly, too.
    let default = JigsawConfig::default().build().unwrap();
    let reference = fixture()
        .jigsaw
        .into_iter()
        .find(|c| c.size == 100)
        .unwrap();
    assert_eq!(default.set().perms, reference.perms);
    // A greedy set beats a random set of the same size on mean Hamming distance.
    let mut g = Generator::seed_from_u64(9);
    let random =
        selfsup_pretext::jigsaw::PermutationSet::new((0..100).map(|_| g.permutation(9)).collect());
    assert!(
        default.set().mean_hamming > random.mean_hamming,
        "{} vs {}",
        default.set().mean_hamming,
        random.mean_hamming
    );
}

fn mean_rate(mut f: impl FnMut(u64) -> (usize, usize), draws: u64) -> f64 {
    let (mut m, mut n) = (0usize, 0usize);
    for i in 0..draws {
        let (a, b) = f(i);
        m += a;
        n += b;
    }
    m as f64 / n as f64
}

#[test]
fn masking_rates_match_the_config() {
    // SimMIM patches: exactly ceil(0.6 * 49) = 30 of 49 patches, every draw.
    let inp = InpaintingConfig {
        region: Region::Patches,
        ..Default::default()
    }
    .build()
    .unwrap();
    for i in 0..20 {
        let m = inp.sample_mask(28, 28, &mut key(i).rng()).unwrap();
        assert_eq!(m.hole.iter().filter(|&&h| h).count(), 30 * 16);
    }
    // BEiT blocks: at most the target, and close to it on average.
    let blk = InpaintingConfig {
        region: Region::Blockwise,
        mask_ratio: 0.4,
        ..Default::default()
    }
    .build()
    .unwrap();
    let rate = mean_rate(
        |i| {
            let m = blk.sample_mask(56, 56, &mut key(i).rng()).unwrap();
            let k = m.hole.iter().filter(|&&h| h).count();
            assert!(k <= 78 * 16, "{k}"); // round(0.4 * 196) = 78 patches of 16 pixels
            (k, m.hole.len())
        },
        300,
    );
    eprintln!("blockwise mask at 0.4: mean rate {rate:.4} over 300 draws");
    assert!((rate - 0.4).abs() < 0.03, "blockwise rate {rate}");
    // Spectrogram masks over 40 x 101 (partial units at the edges).
    for mask in [SpecMask::Frame, SpecMask::Band, SpecMask::Patch] {
        for ratio in [0.2, 0.5] {
            let g = MaskedSpectrogramConfig {
                mask,
                mask_ratio: ratio,
                ..Default::default()
            }
            .build()
            .unwrap();
            let rate = mean_rate(
                |i| {
                    let m = g.sample_mask(40, 101, &mut key(i).rng()).unwrap();
                    (m.iter().filter(|&&b| b).count(), m.len())
                },
                400,
            );
            eprintln!("{mask:?} mask at {ratio}: mean rate {rate:.4} over 400 draws");
            assert!(
                (rate - ratio).abs() < 0.02,
                "{mask:?} at {ratio}: measured rate {rate}"
            );
        }
    }
}

#[test]
fn masked_spectrogram_view_and_target_agree_with_the_mask() {
    let g = MaskedSpectrogramConfig::default().build().unwrap();
    let s = spec(16, 20, 3);
    let (views, t) = g
        .generate(
            &Sample::Spectrogram(s.clone()),
            &mut Generator::seed_from_u64(1),
        )
        .unwrap();
    let (Sample::Spectrogram(v), Target::Dense(Sample::Spectrogram(t))) = (&views[0], &t) else {
        panic!()
    };
    assert_eq!(t.values.dims(), (2, 16, 20));
    assert_eq!(t.values.plane(0), s.values.plane(0));
    for ((&vv, &orig), &w) in v
        .values
        .data()
        .iter()
        .zip(s.values.data())
        .zip(t.values.plane(1))
    {
        if w == 1.0 {
            assert_eq!(vv, 0.0);
        } else {
            assert_eq!(vv, orig);
        }
    }
}

#[test]
fn inpainting_overlap_weights_the_border() {
    let g = InpaintingConfig {
        region: Region::Central,
        region_frac: 0.5,
        overlap: 2,
        overlap_weight: 10.0,
        fill: 0.5,
        ..Default::default()
    }
    .build()
    .unwrap();
    let img = image(1, 16, 16, 6);
    let (views, t) = g
        .generate(
            &Sample::Image(img.clone()),
            &mut Generator::seed_from_u64(0),
        )
        .unwrap();
    let (Sample::Image(v), Target::Dense(Sample::Image(t))) = (&views[0], &t) else {
        panic!()
    };
    let w = t.plane(1);
    // Region rows/cols 4..12; hole 6..10; ring weight 10.
    for y in 0..16 {
        for x in 0..16 {
            let inside = (4..12).contains(&y) && (4..12).contains(&x);
            let hole = (6..10).contains(&y) && (6..10).contains(&x);
            let want = if hole {
                1.0
            } else if inside {
                10.0
            } else {
                0.0
            };
            assert_eq!(w[y * 16 + x], want, "({y},{x})");
            let pix = v.get(0, y, x);
            assert_eq!(pix, if hole { 0.5 } else { img.get(0, y, x) });
        }
    }
    assert_eq!(t.plane(0), img.plane(0));
}

#[test]
fn temporal_order_segments_unshuffle_to_the_clip() {
    let g = TemporalOrderConfig {
        segment_frames: Some(5),
        ..Default::default()
    }
    .build()
    .unwrap();
    let s = spec(4, 15, 8);
    for i in 0..12 {
        let (views, t) = g
            .generate_keyed(&Sample::Spectrogram(s.clone()), key(i))
            .unwrap();
        let segs: Vec<Spectrogram> = views
            .into_iter()
            .map(|v| match v {
                Sample::Spectrogram(x) => x,
                _ => panic!(),
            })
            .collect();
        let back = unshuffle(&segs, &g.set().perms[class_of(&t)]).unwrap();
        for (k, seg) in back.iter().enumerate() {
            for f in 0..4 {
                assert_eq!(
                    &seg.values.plane(0)[f * 5..f * 5 + 5],
                    &s.values.plane(0)[f * 15 + 5 * k..f * 15 + 5 * k + 5]
                );
            }
        }
    }
}

fn field_of(e: Error) -> (String, String) {
    match e {
        Error::InvalidConfig { field, message } => (field, message),
        other => panic!("expected a config error, got {other}"),
    }
}

#[test]
fn bad_input_names_the_field_and_the_limit() {
    let rng = &mut Generator::seed_from_u64(0);
    let small = Sample::Image(image(1, 5, 5, 0));
    let jig = JigsawConfig::default().build().unwrap();
    let (f, m) = field_of(jig.generate(&small, rng).unwrap_err());
    assert_eq!(f, "jigsaw.grid");
    assert!(m.contains("must be >= 6"), "{m}");
    let rel = RelativePositionConfig::default().build().unwrap();
    let (f, m) = field_of(rel.generate(&small, rng).unwrap_err());
    assert_eq!(f, "relative_position.gap");
    assert!(m.contains("must be >="), "{m}");
    let to = TemporalOrderConfig {
        segment_frames: Some(20),
        ..Default::default()
    }
    .build()
    .unwrap();
    let (f, m) = field_of(
        to.generate(&Sample::Spectrogram(spec(4, 50, 0)), rng)
            .unwrap_err(),
    );
    assert_eq!(f, "temporal_order.segments");
    assert!(m.contains("at least 60 frames"), "{m}");
    let (f, _) = field_of(
        Rotation::default()
            .generate(&Sample::Image(image(1, 4, 6, 0)), rng)
            .unwrap_err(),
    );
    assert_eq!(f, "method.rotation");
    let (f, m) = field_of(Colorization::default().generate(&small, rng).unwrap_err());
    assert_eq!(f, "method.kind");
    assert!(m.contains("RGB"), "{m}");
    let mim = InpaintingConfig {
        region: Region::Patches,
        patch_size: 3,
        ..Default::default()
    }
    .build()
    .unwrap();
    let (f, _) = field_of(
        mim.generate(&Sample::Image(image(1, 28, 28, 0)), rng)
            .unwrap_err(),
    );
    assert_eq!(f, "inpainting.patch_size");
    let (f, m) = field_of(PretextConfig::from_kind("rotate").unwrap_err());
    assert_eq!(f, "method.kind");
    assert!(m.contains("relative_position"), "{m}");
    let (f, _) = field_of(
        JigsawConfig {
            n_permutations: 1000,
            grid: 2,
            ..Default::default()
        }
        .validate()
        .unwrap_err(),
    );
    assert_eq!(f, "jigsaw.n_permutations");
    let (f, _) = field_of(
        MaskedSpectrogramConfig {
            mask_ratio: 1.5,
            ..Default::default()
        }
        .validate()
        .unwrap_err(),
    );
    assert_eq!(f, "masked_spectrogram.mask_ratio");
    // Audio given to an image task (and the reverse) is a shape error, not a panic.
    assert!(jig
        .generate(&Sample::Spectrogram(spec(4, 4, 0)), rng)
        .is_err());
    assert!(to.generate(&small, rng).is_err());
}

#[test]
fn configs_parse_from_toml_by_kind() {
    for kind in KINDS {
        let cfg = PretextConfig::from_kind(kind).unwrap();
        assert_eq!(cfg.kind(), *kind);
        let text = toml::to_string(&cfg).unwrap();
        let back: PretextConfig = toml::from_str(&text).unwrap();
        assert_eq!(back, cfg);
        let g = pretext_generator(&cfg).unwrap();
        assert_eq!(g.kind(), *kind);
    }
    let cfg: PretextConfig = toml::from_str("kind = \"jigsaw\"\nn_permutations = 30\n").unwrap();
    assert_eq!(
        cfg,
        PretextConfig::Jigsaw(JigsawConfig {
            n_permutations: 30,
            ..Default::default()
        })
    );
    assert!(toml::from_str::<PretextConfig>("kind = \"jigsaw\"\nbogus = 1\n").is_err());
}

#[test]
fn temporal_order_assembled_view_unshuffles_to_the_clip() {
    let g = TemporalOrderConfig {
        segment_frames: Some(5),
        assemble_views: true,
        ..Default::default()
    }
    .build()
    .unwrap();
    assert_eq!(g.n_views(), 1);
    let s = spec(4, 15, 8);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..24 {
        let (views, t) = g
            .generate_keyed(&Sample::Spectrogram(s.clone()), key(i))
            .unwrap();
        assert_eq!(views.len(), 1);
        let Sample::Spectrogram(v) = &views[0] else {
            panic!("a spectrogram view")
        };
        assert_eq!(v.values.dims(), (1, 4, 15));
        let perm = &g.set().perms[class_of(&t)];
        seen.insert(class_of(&t));
        // Slot `slot` of the view holds segment `perm[slot]`: putting it back restores the clip.
        let mut back = vec![0f32; 4 * 15];
        for (slot, &k) in perm.iter().enumerate() {
            for f in 0..4 {
                back[f * 15 + 5 * k..f * 15 + 5 * k + 5]
                    .copy_from_slice(&v.values.plane(0)[f * 15 + 5 * slot..f * 15 + 5 * slot + 5]);
            }
        }
        assert_eq!(&back[..], s.values.plane(0));
    }
    assert!(seen.len() > 1, "only one order drawn: {seen:?}");
}

/// `voiced_only`: the loud span of a clip (here frames 6..18 of 24, silence around it) is cut into
/// the segments, shuffled in place; the silence stays, and un-shuffling restores the clip.
#[test]
fn temporal_order_voiced_span_is_shuffled_in_place() {
    let g = TemporalOrderConfig {
        assemble_views: true,
        voiced_only: true,
        ..Default::default()
    }
    .build()
    .unwrap();
    let (f, t) = (4, 24);
    let mut d = vec![-3.0f32; f * t];
    for row in 0..f {
        for j in 6..18 {
            d[row * t + j] = 1.0 + (j * 10 + row) as f32 / 100.0; // distinct voiced values
        }
    }
    let s = Spectrogram::new(1, f, t, d).unwrap();
    assert_eq!(g.voiced_span(&s).unwrap(), (6, 4));
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..24 {
        let (views, target) = g
            .generate_keyed(&Sample::Spectrogram(s.clone()), key(i))
            .unwrap();
        let Sample::Spectrogram(v) = &views[0] else {
            panic!("a spectrogram view")
        };
        let perm = &g.set().perms[class_of(&target)];
        seen.insert(class_of(&target));
        let p = v.values.plane(0);
        for row in 0..f {
            for j in (0..6).chain(18..24) {
                assert_eq!(p[row * t + j], -3.0, "silence moved at frame {j}");
            }
            for (slot, &k) in perm.iter().enumerate() {
                for x in 0..4 {
                    assert_eq!(
                        p[row * t + 6 + 4 * slot + x],
                        s.values.plane(0)[row * t + 6 + 4 * k + x]
                    );
                }
            }
        }
    }
    assert!(seen.len() > 1);
    // voiced_only needs the assembled form and leaves segment_frames to the span.
    for bad in [
        TemporalOrderConfig {
            voiced_only: true,
            ..Default::default()
        },
        TemporalOrderConfig {
            assemble_views: true,
            voiced_only: true,
            segment_frames: Some(4),
            ..Default::default()
        },
    ] {
        assert!(bad.validate().is_err());
    }
}

/// `boundary_gap`: around the two internal boundaries of a voiced span (frames 6..18 of 24, 4-frame
/// segments, boundaries at 10 and 14) `gap` frames are the clip's minimum for every order, so
/// where the gap falls carries no label; every other voiced frame is the shuffled segment's; a gap
/// as long as a segment is cut so that each keeps a frame; without the assembled form it is an error
/// naming the field.
#[test]
fn temporal_order_boundary_gap_blanks_the_same_frames_for_every_order() {
    let g = TemporalOrderConfig {
        assemble_views: true,
        voiced_only: true,
        boundary_gap: 2,
        ..Default::default()
    }
    .build()
    .unwrap();
    let (f, t) = (4, 24);
    let mut d = vec![-3.0f32; f * t];
    for row in 0..f {
        for j in 6..18 {
            d[row * t + j] = 1.0 + (j * 10 + row) as f32 / 100.0;
        }
    }
    let s = Spectrogram::new(1, f, t, d).unwrap();
    let blanked = [9usize, 10, 13, 14];
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..24 {
        let (views, target) = g
            .generate_keyed(&Sample::Spectrogram(s.clone()), key(i))
            .unwrap();
        let Sample::Spectrogram(v) = &views[0] else {
            panic!("a spectrogram view")
        };
        let perm = &g.set().perms[class_of(&target)];
        seen.insert(class_of(&target));
        let p = v.values.plane(0);
        for row in 0..f {
            for j in 0..t {
                let slot = j.saturating_sub(6) / 4;
                let want = if blanked.contains(&j) || !(6..18).contains(&j) {
                    -3.0
                } else {
                    s.values.plane(0)[row * t + 6 + 4 * perm[slot] + (j - 6) % 4]
                };
                assert_eq!(p[row * t + j], want, "frame {j}, order {perm:?}");
            }
        }
    }
    assert!(seen.len() > 1);
    // A gap as long as a segment (4 frames) is cut to 3 per boundary: each segment keeps a frame.
    let (views, _) = TemporalOrderConfig {
        assemble_views: true,
        voiced_only: true,
        boundary_gap: 4,
        ..Default::default()
    }
    .build()
    .unwrap()
    .generate_keyed(&Sample::Spectrogram(s), key(0))
    .unwrap();
    let Sample::Spectrogram(v) = &views[0] else {
        panic!("a spectrogram view")
    };
    let silent = (6..18).filter(|&j| v.values.plane(0)[j] == -3.0).count();
    assert_eq!(silent, 6);
    let e = TemporalOrderConfig {
        boundary_gap: 2,
        ..Default::default()
    }
    .validate()
    .unwrap_err()
    .to_string();
    assert!(e.contains("temporal_order.boundary_gap"), "{e}");
}

#[test]
fn relative_position_whole_image_stats_adds_the_image_as_a_third_view() {
    let img = image(1, 28, 28, 4);
    let s = Sample::Image(img.clone());
    let plain = RelativePositionConfig::default().build().unwrap();
    let with = RelativePositionConfig {
        whole_image_stats: true,
        ..Default::default()
    }
    .build()
    .unwrap();
    assert_eq!((plain.n_views(), with.n_views()), (2, 3));
    for i in 0..20 {
        let (a, ta) = plain.generate_keyed(&s, key(i)).unwrap();
        let (b, tb) = with.generate_keyed(&s, key(i)).unwrap();
        assert_eq!(
            (&a[..], ta),
            (&b[..2], tb),
            "the task's views and class are unchanged"
        );
        assert_eq!(b[2], Sample::Image(img.clone()));
    }
}
