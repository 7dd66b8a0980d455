//! The README's library quick-start with `selfsup-augment` as the only dependency (issue 17: it did
//! not compile because `SampleKey` lived only in `selfsup-core`).

use selfsup_augment::image::recipes::SimClrConfig;
use selfsup_augment::{ImageF32, SampleKey};

#[test]
fn two_simclr_views_of_an_image_with_selfsup_augment_alone() {
    let img = ImageF32::new(
        3,
        40,
        50,
        (0..6000).map(|i| (i % 251) as f32 / 251.0).collect(),
    )
    .unwrap();
    let recipe = SimClrConfig {
        input_size: 32,
        normalize: None,
        ..Default::default()
    };
    let views = recipe.build().unwrap();
    let key = SampleKey::new(0, 0, 7); // (seed, epoch, sample index)
    let v = views.generate(&img, key).unwrap();
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|x| x.dims() == (3, 32, 32)));
    assert_ne!(v[0], v[1]);
    // Keyed: the same key gives the same views.
    assert_eq!(views.generate(&img, key).unwrap(), v);
}
