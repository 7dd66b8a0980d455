//! [`Recipe`]: every multi-view recipe of the crate as one serde enum, so that a config file or a
//! command-line flag can name any of them — the main job's `digit` recipe, SimCLR, MoCo v2, BYOL,
//! DINO and SwAV multi-crop for images, COLA and BYOL-A for audio, token views for text.
//!
//! In a config file a recipe is either a bare name, with that recipe's defaults
//! (`recipe = "sim_clr"`; the older spellings `mnist`, `simclr`, `contrastive` still parse), or a table
//! tagged by `kind` with any of the recipe's fields (`[augment.recipe]`, `kind = "digit"`,
//! `noise = 0.2`). On the command line, [`RecipeName`] lists the names (with the optional `clap`
//! feature it is a `clap::ValueEnum`, so `--help` shows them).
//!
//! ```
//! use selfsup_augment::recipe::{Recipe, RecipeName};
//! use selfsup_augment::{ImageF32, SampleKey};
//!
//! // A bare name, as flags and older configs give it, or a tagged table with fields.
//! let r: Recipe = "mnist".parse()?;
//! assert_eq!(r.name(), RecipeName::Digit);
//! let r: Recipe = serde_json::from_str(r#"{"kind": "digit", "noise": 0.05}"#).unwrap();
//! r.validate()?;
//! let views = r.build_image()?;
//! let digit = ImageF32::zeros(1, 28, 28);
//! let pair = views.generate(&digit, SampleKey::new(0, 0, 7))?;
//! assert_eq!(pair.len(), 2);
//! # Ok::<(), selfsup_augment::Error>(())
//! ```

use crate::tokens::TokenAugConfig;
use selfsup_core::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

#[cfg(feature = "audio")]
use crate::audio::{ByolAConfig, ColaConfig, LogMelFrontEnd};
#[cfg(feature = "image")]
use crate::image::digit::DigitConfig;
#[cfg(feature = "image")]
use crate::image::recipes::{ByolConfig, ImageRecipe, MocoV2Config, MultiCropConfig, SimClrConfig};
#[cfg(feature = "audio")]
use selfsup_core::Audio;
#[cfg(feature = "image")]
use selfsup_core::ImageF32;
#[cfg(any(feature = "image", feature = "audio"))]
use selfsup_core::MultiView;

/// Any recipe with its configuration (see the module docs). The default is the main job's `digit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recipe {
    /// Two light views of small grey digits ([`DigitConfig`]; old name `mnist`).
    #[cfg(feature = "image")]
    #[serde(alias = "mnist")]
    Digit(DigitConfig),
    /// SimCLR's two views ([`SimClrConfig`]; old name `simclr`).
    #[cfg(feature = "image")]
    #[serde(alias = "simclr")]
    SimClr(SimClrConfig),
    /// MoCo v2's two views.
    #[cfg(feature = "image")]
    MocoV2(MocoV2Config),
    /// BYOL's asymmetric views.
    #[cfg(feature = "image")]
    Byol(ByolConfig),
    /// DINO's multi-crop ([`MultiCropConfig::default`]).
    #[cfg(feature = "image")]
    Dino(MultiCropConfig),
    /// SwAV's multi-crop (the fields default to [`MultiCropConfig::swav`]).
    #[cfg(feature = "image")]
    Swav(#[serde(deserialize_with = "swav_fields")] MultiCropConfig),
    /// COLA's two segments ([`ColaConfig`], fields default to [`ColaConfig::fsdd`]; old name
    /// `contrastive`).
    #[cfg(feature = "audio")]
    #[serde(alias = "contrastive")]
    Cola(#[serde(deserialize_with = "cola_fields")] ColaConfig),
    /// BYOL-A's two segments ([`ByolAConfig`], fields default to [`ByolAConfig::fsdd`]).
    #[cfg(feature = "audio")]
    ByolA(#[serde(deserialize_with = "byol_a_fields")] ByolAConfig),
    /// Token views of text: span crop then BERT-style masking ([`TokenAugConfig`]).
    Tokens(TokenAugConfig),
}

/// Deserialises a struct whose missing fields come from `preset` instead of `Default`: the given
/// fields are merged over the preset's serialised form.
#[cfg(any(feature = "image", feature = "audio"))]
fn with_preset<'de, D, T>(d: D, preset: T) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Serialize + serde::de::DeserializeOwned,
{
    use serde::de::Error as _;
    let given = serde_json::Value::deserialize(d)?;
    let mut base = serde_json::to_value(preset).map_err(D::Error::custom)?;
    if let (Some(b), Some(g)) = (base.as_object_mut(), given.as_object()) {
        for (k, v) in g {
            b.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(base).map_err(D::Error::custom)
}

#[cfg(feature = "image")]
fn swav_fields<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<MultiCropConfig, D::Error> {
    with_preset(d, MultiCropConfig::swav())
}
#[cfg(feature = "audio")]
fn cola_fields<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<ColaConfig, D::Error> {
    with_preset(d, ColaConfig::fsdd())
}
#[cfg(feature = "audio")]
fn byol_a_fields<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<ByolAConfig, D::Error> {
    with_preset(d, ByolAConfig::fsdd())
}

/// The names of the recipes, for flags and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum RecipeName {
    /// Two light views of small grey digits (the main job's recipe).
    #[cfg(feature = "image")]
    #[cfg_attr(feature = "clap", value(name = "digit", alias = "mnist"))]
    Digit,
    /// SimCLR's two views.
    #[cfg(feature = "image")]
    #[cfg_attr(feature = "clap", value(name = "sim_clr", alias = "simclr"))]
    SimClr,
    /// MoCo v2's two views.
    #[cfg(feature = "image")]
    #[cfg_attr(feature = "clap", value(name = "moco_v2"))]
    MocoV2,
    /// BYOL's asymmetric views.
    #[cfg(feature = "image")]
    Byol,
    /// DINO's multi-crop.
    #[cfg(feature = "image")]
    Dino,
    /// SwAV's multi-crop.
    #[cfg(feature = "image")]
    Swav,
    /// COLA's two audio segments.
    #[cfg(feature = "audio")]
    #[cfg_attr(feature = "clap", value(name = "cola", alias = "contrastive"))]
    Cola,
    /// BYOL-A's two audio segments.
    #[cfg(feature = "audio")]
    #[cfg_attr(feature = "clap", value(name = "byol_a"))]
    ByolA,
    /// Token views of text.
    Tokens,
}

/// What a recipe's views are made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Modality {
    /// Images ([`selfsup_core::ImageF32`]).
    Image,
    /// Waveforms, turned into log-mel spectrograms after augmentation.
    Audio,
    /// Token sequences.
    Tokens,
}

impl RecipeName {
    /// Every name, in the order `--help` lists them.
    pub const ALL: &'static [RecipeName] = &[
        #[cfg(feature = "image")]
        RecipeName::Digit,
        #[cfg(feature = "image")]
        RecipeName::SimClr,
        #[cfg(feature = "image")]
        RecipeName::MocoV2,
        #[cfg(feature = "image")]
        RecipeName::Byol,
        #[cfg(feature = "image")]
        RecipeName::Dino,
        #[cfg(feature = "image")]
        RecipeName::Swav,
        #[cfg(feature = "audio")]
        RecipeName::Cola,
        #[cfg(feature = "audio")]
        RecipeName::ByolA,
        RecipeName::Tokens,
    ];

    /// The name as config files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            #[cfg(feature = "image")]
            RecipeName::Digit => "digit",
            #[cfg(feature = "image")]
            RecipeName::SimClr => "sim_clr",
            #[cfg(feature = "image")]
            RecipeName::MocoV2 => "moco_v2",
            #[cfg(feature = "image")]
            RecipeName::Byol => "byol",
            #[cfg(feature = "image")]
            RecipeName::Dino => "dino",
            #[cfg(feature = "image")]
            RecipeName::Swav => "swav",
            #[cfg(feature = "audio")]
            RecipeName::Cola => "cola",
            #[cfg(feature = "audio")]
            RecipeName::ByolA => "byol_a",
            RecipeName::Tokens => "tokens",
        }
    }

    /// The recipe with its defaults (the `fsdd` presets for the audio recipes).
    pub fn default_recipe(self) -> Recipe {
        match self {
            #[cfg(feature = "image")]
            RecipeName::Digit => Recipe::Digit(DigitConfig::default()),
            #[cfg(feature = "image")]
            RecipeName::SimClr => Recipe::SimClr(SimClrConfig::default()),
            #[cfg(feature = "image")]
            RecipeName::MocoV2 => Recipe::MocoV2(MocoV2Config::default()),
            #[cfg(feature = "image")]
            RecipeName::Byol => Recipe::Byol(ByolConfig::default()),
            #[cfg(feature = "image")]
            RecipeName::Dino => Recipe::Dino(MultiCropConfig::default()),
            #[cfg(feature = "image")]
            RecipeName::Swav => Recipe::Swav(MultiCropConfig::swav()),
            #[cfg(feature = "audio")]
            RecipeName::Cola => Recipe::Cola(ColaConfig::fsdd()),
            #[cfg(feature = "audio")]
            RecipeName::ByolA => Recipe::ByolA(ByolAConfig::fsdd()),
            RecipeName::Tokens => Recipe::Tokens(TokenAugConfig::default()),
        }
    }

    /// What the recipe's views are made of.
    pub fn modality(self) -> Modality {
        match self {
            #[cfg(feature = "audio")]
            RecipeName::Cola | RecipeName::ByolA => Modality::Audio,
            RecipeName::Tokens => Modality::Tokens,
            #[cfg(feature = "image")]
            _ => Modality::Image,
        }
    }
}

impl fmt::Display for RecipeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecipeName {
    type Err = Error;
    /// A name, or one of the older spellings `mnist`, `simclr`, `contrastive`.
    fn from_str(s: &str) -> Result<Self> {
        let s = match s {
            "mnist" => "digit",
            "simclr" => "sim_clr",
            "contrastive" => "cola",
            other => other,
        };
        RecipeName::ALL
            .iter()
            .copied()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = RecipeName::ALL.iter().map(|n| n.as_str()).collect();
                Error::config(
                    "augment.recipe",
                    format!("unknown recipe `{s}`; allowed: {}", all.join(", ")),
                )
            })
    }
}

impl FromStr for Recipe {
    type Err = Error;
    /// A bare name: that recipe with its defaults.
    fn from_str(s: &str) -> Result<Self> {
        Ok(s.parse::<RecipeName>()?.default_recipe())
    }
}

impl Default for Recipe {
    fn default() -> Self {
        #[cfg(feature = "image")]
        {
            Recipe::Digit(DigitConfig::default())
        }
        #[cfg(not(feature = "image"))]
        {
            Recipe::Tokens(TokenAugConfig::default())
        }
    }
}

impl Recipe {
    /// Reads a recipe from a bare name or a `kind`-tagged table (any serde format): what
    /// [`RecipeOrName`] does inside a larger config.
    pub fn from_name_or_table<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Self, D::Error> {
        Ok(RecipeOrName::deserialize(d)?.0)
    }

    /// The recipe's name.
    pub fn name(&self) -> RecipeName {
        match self {
            #[cfg(feature = "image")]
            Recipe::Digit(_) => RecipeName::Digit,
            #[cfg(feature = "image")]
            Recipe::SimClr(_) => RecipeName::SimClr,
            #[cfg(feature = "image")]
            Recipe::MocoV2(_) => RecipeName::MocoV2,
            #[cfg(feature = "image")]
            Recipe::Byol(_) => RecipeName::Byol,
            #[cfg(feature = "image")]
            Recipe::Dino(_) => RecipeName::Dino,
            #[cfg(feature = "image")]
            Recipe::Swav(_) => RecipeName::Swav,
            #[cfg(feature = "audio")]
            Recipe::Cola(_) => RecipeName::Cola,
            #[cfg(feature = "audio")]
            Recipe::ByolA(_) => RecipeName::ByolA,
            Recipe::Tokens(_) => RecipeName::Tokens,
        }
    }

    /// What the recipe's views are made of.
    pub fn modality(&self) -> Modality {
        self.name().modality()
    }

    /// Checks every field; errors name the field and the allowed range.
    pub fn validate(&self) -> Result<()> {
        match self {
            #[cfg(feature = "image")]
            Recipe::Digit(c) => c.validate(),
            #[cfg(feature = "image")]
            Recipe::SimClr(c) => c.validate(),
            #[cfg(feature = "image")]
            Recipe::MocoV2(c) => c.validate(),
            #[cfg(feature = "image")]
            Recipe::Byol(c) => c.validate(),
            #[cfg(feature = "image")]
            Recipe::Dino(c) | Recipe::Swav(c) => c.validate(),
            #[cfg(feature = "audio")]
            Recipe::Cola(c) => c.validate(),
            #[cfg(feature = "audio")]
            Recipe::ByolA(c) => c.validate(),
            Recipe::Tokens(c) => c.validate(),
        }
    }

    /// An image recipe at another (global) crop size: `input_size` of the lightly recipes, with
    /// multi-crop's local crops shrunk by the same factor (at least 8 px), `image_size` of `digit`.
    /// Audio and token recipes are returned unchanged.
    #[cfg(feature = "image")]
    pub fn with_input_size(self, size: usize) -> Self {
        let image = |r: ImageRecipe| r.with_input_size(size);
        match self {
            Recipe::Digit(c) => Recipe::Digit(DigitConfig {
                image_size: Some(size),
                ..c
            }),
            Recipe::SimClr(c) => match image(ImageRecipe::SimClr(c)) {
                ImageRecipe::SimClr(c) => Recipe::SimClr(c),
                _ => unreachable!("with_input_size keeps the variant"),
            },
            Recipe::MocoV2(c) => match image(ImageRecipe::MocoV2(c)) {
                ImageRecipe::MocoV2(c) => Recipe::MocoV2(c),
                _ => unreachable!("with_input_size keeps the variant"),
            },
            Recipe::Byol(c) => match image(ImageRecipe::Byol(c)) {
                ImageRecipe::Byol(c) => Recipe::Byol(c),
                _ => unreachable!("with_input_size keeps the variant"),
            },
            Recipe::Dino(c) => Recipe::Dino(scaled_multi_crop(c, size)),
            Recipe::Swav(c) => Recipe::Swav(scaled_multi_crop(c, size)),
            #[allow(unreachable_patterns)]
            other => other,
        }
    }

    /// An image recipe with (or without) normalisation (the lightly recipes and multi-crop; `digit`
    /// never normalises). Audio and token recipes are returned unchanged.
    #[cfg(feature = "image")]
    pub fn with_normalize(mut self, n: Option<crate::image::recipes::NormalizeConfig>) -> Self {
        match &mut self {
            Recipe::SimClr(c) => c.normalize = n,
            Recipe::MocoV2(c) => c.normalize = n,
            Recipe::Byol(c) => c.normalize = n,
            Recipe::Dino(c) | Recipe::Swav(c) => c.normalize = n,
            _ => {}
        }
        self
    }

    fn wrong_modality(&self, wanted: &str) -> Error {
        Error::config(
            "augment.recipe",
            format!(
                "`{}` makes views of {:?} data, not of {wanted}",
                self.name(),
                self.modality()
            ),
        )
    }

    /// The image views (an error naming `augment.recipe` for audio and token recipes).
    #[cfg(feature = "image")]
    pub fn build_image(&self) -> Result<MultiView<ImageF32>> {
        let image = |r: ImageRecipe| r.build();
        match self {
            Recipe::Digit(c) => c.build(),
            Recipe::SimClr(c) => image(ImageRecipe::SimClr(c.clone())),
            Recipe::MocoV2(c) => image(ImageRecipe::MocoV2(c.clone())),
            Recipe::Byol(c) => image(ImageRecipe::Byol(c.clone())),
            Recipe::Dino(c) | Recipe::Swav(c) => image(ImageRecipe::MultiCrop(c.clone())),
            #[allow(unreachable_patterns)]
            _ => Err(self.wrong_modality("images")),
        }
    }

    /// The waveform views and the feature step after them (an error for image and token recipes).
    #[cfg(feature = "audio")]
    pub fn build_audio(&self) -> Result<(MultiView<Audio>, LogMelFrontEnd)> {
        match self {
            Recipe::Cola(c) => Ok((c.build()?, c.front_end()?)),
            Recipe::ByolA(c) => Ok((c.build()?, c.front_end()?)),
            #[allow(unreachable_patterns)]
            _ => Err(self.wrong_modality("audio")),
        }
    }

    /// The token view configuration (an error for image and audio recipes); building it needs the
    /// dataset's sequence length and vocabulary ([`TokenAugConfig::build`]).
    pub fn tokens(&self) -> Result<&TokenAugConfig> {
        match self {
            Recipe::Tokens(c) => Ok(c),
            #[allow(unreachable_patterns)]
            _ => Err(self.wrong_modality("tokens")),
        }
    }
}

/// Multi-crop with global crops of `size` and the local crops shrunk by the same factor (≥ 8 px).
#[cfg(feature = "image")]
fn scaled_multi_crop(c: MultiCropConfig, size: usize) -> MultiCropConfig {
    let local = (c.local_size * size) as f64 / c.input_size.max(1) as f64;
    MultiCropConfig {
        input_size: size,
        local_size: (local.round() as usize).max(8),
        ..c
    }
}

/// A [`Recipe`] that deserialises from a bare name too: `recipe = "simclr"` or
/// `recipe = { kind = "digit", noise = 0.2 }`. Serialises as the bare name when the recipe has its
/// defaults, else as the tagged table.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RecipeOrName(pub Recipe);

impl Serialize for RecipeOrName {
    /// The bare name when the recipe is that name's defaults, else the tagged table.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let name = self.0.name();
        if self.0 == name.default_recipe() {
            s.serialize_str(name.as_str())
        } else {
            self.0.serialize(s)
        }
    }
}

impl From<Recipe> for RecipeOrName {
    fn from(r: Recipe) -> Self {
        RecipeOrName(r)
    }
}

impl From<RecipeName> for RecipeOrName {
    fn from(n: RecipeName) -> Self {
        RecipeOrName(n.default_recipe())
    }
}

impl FromStr for RecipeOrName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(RecipeOrName(s.parse()?))
    }
}

impl std::ops::Deref for RecipeOrName {
    type Target = Recipe;
    fn deref(&self) -> &Recipe {
        &self.0
    }
}

impl<'de> Deserialize<'de> for RecipeOrName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RecipeOrName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a recipe name or a table with `kind` and the recipe's fields")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                s: &str,
            ) -> std::result::Result<Self::Value, E> {
                s.parse::<Recipe>().map(RecipeOrName).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                Recipe::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RecipeOrName)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(all(test, feature = "image", feature = "audio"))]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize, Debug, PartialEq)]
    struct Augment {
        recipe: RecipeOrName,
    }

    #[test]
    fn names_and_tables_parse_old_spellings_too() {
        for (text, name) in [
            ("recipe = \"mnist\"", RecipeName::Digit),
            ("recipe = \"simclr\"", RecipeName::SimClr),
            ("recipe = \"moco_v2\"", RecipeName::MocoV2),
            ("recipe = \"contrastive\"", RecipeName::Cola),
            ("recipe = \"swav\"", RecipeName::Swav),
            ("recipe = \"tokens\"", RecipeName::Tokens),
            (
                "[recipe]\nkind = \"dino\"\nn_local_views = 4",
                RecipeName::Dino,
            ),
            ("[recipe]\nkind = \"mnist\"\nnoise = 0.2", RecipeName::Digit),
            ("[recipe]\nkind = \"byol_a\"", RecipeName::ByolA),
        ] {
            let a: Augment = toml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(a.recipe.0.name(), name, "{text}");
            a.recipe.0.validate().unwrap();
            // Round trip through the tagged form.
            let back: Augment = toml::from_str(&toml::to_string(&a).unwrap()).unwrap();
            assert_eq!(back, a);
        }
        let a: Augment = toml::from_str("recipe = \"simclr\"").unwrap();
        assert_eq!(toml::to_string(&a).unwrap().trim(), "recipe = \"sim_clr\"");
        let a: Augment = toml::from_str("[recipe]\nkind = \"dino\"\nn_local_views = 4").unwrap();
        assert!(toml::to_string(&a).unwrap().contains("kind = \"dino\""));
        let Recipe::Dino(c) = &a.recipe.0 else {
            panic!()
        };
        assert_eq!((c.n_local_views, c.n_global_views), (4, 2));
        // Presets fill the fields a table leaves out.
        let a: Augment = toml::from_str("[recipe]\nkind = \"swav\"\nn_local_views = 2").unwrap();
        let Recipe::Swav(c) = &a.recipe.0 else {
            panic!()
        };
        assert_eq!(
            c,
            &MultiCropConfig {
                n_local_views: 2,
                ..MultiCropConfig::swav()
            }
        );
        let a: Augment = toml::from_str("[recipe]\nkind = \"cola\"\nn_mels = 64").unwrap();
        assert_eq!(
            a.recipe.0,
            Recipe::Cola(ColaConfig {
                n_mels: 64,
                ..ColaConfig::fsdd()
            })
        );
    }

    #[test]
    fn a_recipe_table_before_plain_fields_round_trips_through_toml() {
        // As in a run's `[augment]`: the recipe, then plain values.
        #[derive(Deserialize, Serialize, Debug, PartialEq)]
        struct Run {
            recipe: RecipeOrName,
            image_size: Option<u32>,
            clip_seconds: f64,
        }
        let run = Run {
            recipe: RecipeOrName(Recipe::Digit(DigitConfig {
                noise: 0.2,
                ..Default::default()
            })),
            image_size: Some(28),
            clip_seconds: 0.5,
        };
        let text = toml::to_string(&run).unwrap();
        assert_eq!(toml::from_str::<Run>(&text).unwrap(), run, "{text}");
    }

    #[test]
    fn bad_names_and_fields_are_named() {
        let e = toml::from_str::<Augment>("recipe = \"jitter\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("augment.recipe") && e.contains("sim_clr"), "{e}");
        assert!(toml::from_str::<Augment>("[recipe]\nkind = \"digit\"\nnosie = 1").is_err());
        let r: Recipe = "digit".parse().unwrap();
        assert!(r.build_audio().is_err());
        let e = r.tokens().unwrap_err().to_string();
        assert!(e.contains("augment.recipe"), "{e}");
        let bad = Recipe::Digit(DigitConfig {
            noise: -1.0,
            ..Default::default()
        });
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("digit.noise"));
    }

    #[test]
    fn input_size_and_normalisation_reach_every_image_recipe() {
        for &n in RecipeName::ALL {
            let r = n.default_recipe().with_input_size(32).with_normalize(None);
            if r.modality() != Modality::Image {
                assert_eq!(r, n.default_recipe());
                continue;
            }
            let views = r.build_image().unwrap();
            let img = ImageF32::zeros(3, 40, 48);
            let out = views
                .generate(&img, selfsup_core::SampleKey::new(0, 0, 1))
                .unwrap();
            assert_eq!(out[0].dims(), (3, 32, 32), "{n}");
            if let Recipe::Dino(c) = &r {
                // 96 / 224 of 32 px.
                assert_eq!((c.input_size, c.local_size), (32, 14));
                assert_eq!(out.last().unwrap().dims(), (3, 14, 14));
            }
        }
    }

    #[test]
    fn every_name_builds_its_defaults() {
        for &n in RecipeName::ALL {
            let r = n.default_recipe();
            assert_eq!(r.name(), n);
            assert_eq!(n.as_str().parse::<RecipeName>().unwrap(), n);
            r.validate().unwrap();
            match r.modality() {
                Modality::Image => assert!(r.build_image().unwrap().n_views() >= 2),
                Modality::Audio => assert_eq!(r.build_audio().unwrap().0.n_views(), 2),
                Modality::Tokens => {
                    r.tokens().unwrap();
                }
            }
        }
    }
}
