//! Every method family's config enum is written by the one mechanism (`selfsup_core::config_family!`,
//! through `selfsup_nn::method_family!` for the contrastive and auto-encoder families): per family,
//! every kind's defaults round-trip through TOML under `kind = "<kind>"`, name themselves, and reach
//! their per-kind behaviour through the family's spec; the facade's registry is the union of the
//! families' `KINDS`.
#![cfg(feature = "torch")]

use selfsup::autoencoder::AutoencoderConfig;
use selfsup::contrastive::MethodConfig as ContrastiveConfig;
use selfsup::methods::MethodConfig;
use selfsup::nn::MethodSpec;
use selfsup::pretext::language::LanguageModelConfig;
use selfsup::pretext::PretextConfig;

/// `kind` of every default config, round-tripped through TOML; returns how many kinds there were.
fn round_trips<T>(
    kinds: &[&str],
    with_defaults: impl Fn(&str) -> Option<T>,
    kind: impl Fn(&T) -> &str,
) -> usize
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    for &k in kinds {
        let c = with_defaults(k).unwrap_or_else(|| panic!("{k} has no defaults"));
        assert_eq!(kind(&c), k);
        let text = toml::to_string(&c).unwrap();
        assert!(
            text.starts_with(&format!("kind = \"{k}\"\n")),
            "{k}: {text}"
        );
        let back: T = toml::from_str(&text).unwrap();
        assert_eq!(back, c, "{k}");
        // The tag alone gives the defaults.
        let bare: T = toml::from_str(&format!("kind = \"{k}\"\n")).unwrap();
        assert_eq!(bare, c, "{k}");
    }
    assert!(with_defaults("no_such_kind").is_none());
    kinds.len()
}

#[test]
fn every_family_round_trips_each_kind_through_toml() {
    let n = round_trips(
        ContrastiveConfig::KINDS,
        ContrastiveConfig::with_defaults,
        |c| c.kind(),
    ) + round_trips(
        AutoencoderConfig::KINDS,
        AutoencoderConfig::with_defaults,
        |c| c.kind(),
    ) + round_trips(PretextConfig::KINDS, PretextConfig::with_defaults, |c| {
        c.kind()
    }) + round_trips(
        LanguageModelConfig::KINDS,
        LanguageModelConfig::with_defaults,
        |c| c.kind(),
    );
    let all = MethodConfig::kinds();
    assert_eq!(n, all.len());
    let families = [
        ContrastiveConfig::KINDS,
        AutoencoderConfig::KINDS,
        PretextConfig::KINDS,
        LanguageModelConfig::KINDS,
    ]
    .concat();
    assert_eq!(all, families);
}

#[test]
fn per_kind_behaviour_comes_from_each_config_type() {
    // Views: the family spec of each kind, not a family-wide match.
    let dae = AutoencoderConfig::with_defaults("dae").unwrap();
    assert_eq!((dae.name(), dae.min_views()), ("dae", 2));
    let mae = AutoencoderConfig::with_defaults("mae").unwrap();
    assert_eq!(mae.min_views(), 1);
    let jigsaw = PretextConfig::with_defaults("jigsaw").unwrap();
    assert_eq!(jigsaw.n_views(), jigsaw.family_spec().n_views());
    assert!(jigsaw.n_views() > 1 && jigsaw.takes_images());
    assert!(!PretextConfig::with_defaults("cpc").unwrap().takes_images());
    let gpt = LanguageModelConfig::with_defaults("gpt").unwrap();
    let bert = LanguageModelConfig::with_defaults("bert").unwrap();
    assert!(gpt.family_spec().causal() && !bert.family_spec().causal());
    let dino = ContrastiveConfig::with_defaults("dino").unwrap();
    assert_eq!(dino.min_views(), dino.spec().min_views());
    // Validation reaches the kind's own checks and names the field.
    let bad: AutoencoderConfig = toml::from_str("kind = \"mae\"\nmask_ratio = 1.5\n").unwrap();
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("mask_ratio"), "{e}");
    let bad: LanguageModelConfig = toml::from_str("kind = \"bert\"\ndropout = 1.0\n").unwrap();
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("method.dropout"), "{e}");
    // Through the registry, every family is one `MethodSpec`.
    for kind in MethodConfig::kinds() {
        let c = MethodConfig::from_kind(kind).unwrap();
        assert_eq!(c.name(), kind);
        c.validate().unwrap();
        assert!(c.min_views() >= 1);
    }
}
