//! One [`MethodConfig`] over every method family, for config files and command lines.
//!
//! Each family crate owns a serde enum tagged by `kind` that implements
//! [`MethodSpec`] and lists its kinds in `KINDS`. This module is the only
//! place that knows all families: a `[method]` table is routed to the family whose `KINDS` holds its
//! `kind`, and everything else (validation, building, the name) is the family's own code. Adding a
//! family is one line in the `families!` invocation below.

use selfsup_nn::{BackboneConfig, InputSpec, Method, MethodSpec, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tch::nn::VarStore;

macro_rules! families {
    ($($(#[$doc:meta])* $variant:ident($ty:ty)),* $(,)?) => {
        /// Any method of any family, tagged by `kind` (`kind = "simclr"`, ...).
        #[derive(Clone, Debug, PartialEq)]
        pub enum MethodConfig {
            $($(#[$doc])* $variant($ty),)*
        }

        impl MethodConfig {
            /// The config as the family's [`MethodSpec`].
            pub fn spec(&self) -> &dyn MethodSpec {
                match self {
                    $(MethodConfig::$variant(c) => c,)*
                }
            }

            /// Every `kind` of every family, in family order.
            pub fn kinds() -> Vec<&'static str> {
                let mut k = Vec::new();
                $(k.extend_from_slice(<$ty>::KINDS);)*
                k
            }

            fn from_value(kind: &str, v: toml::Value) -> std::result::Result<Self, String> {
                $(
                    if <$ty>::KINDS.contains(&kind) {
                        return v.try_into::<$ty>()
                            .map(MethodConfig::$variant)
                            .map_err(|e| e.to_string());
                    }
                )*
                Err(format!(
                    "unknown method kind `{kind}`; allowed: {}",
                    Self::kinds().join(", ")
                ))
            }
        }

        impl Serialize for MethodConfig {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                match self {
                    $(MethodConfig::$variant(c) => c.serialize(s),)*
                }
            }
        }

        $(
            impl From<$ty> for MethodConfig {
                fn from(c: $ty) -> Self {
                    MethodConfig::$variant(c)
                }
            }
        )*
    };
}

families! {
    /// Contrastive and non-contrastive joint-embedding methods (SimCLR, MoCo, BYOL, DINO, ...).
    Contrastive(selfsup_contrastive::MethodConfig),
    /// Auto-encoders (AE, denoising, sparse, VAE, MAE).
    Autoencoder(selfsup_autoencoder::AutoencoderConfig),
    /// Pretext tasks with free pseudo-labels (rotation, jigsaw, colorization, ...).
    Pretext(selfsup_pretext::PretextConfig),
    /// Token language models (GPT next-token, BERT masked-token).
    Language(selfsup_pretext::language::LanguageModelConfig),
}

impl Default for MethodConfig {
    fn default() -> Self {
        MethodConfig::Contrastive(Default::default())
    }
}

impl MethodConfig {
    /// The method with `kind` and that kind's default hyper-parameters (what `--method` sets).
    pub fn from_kind(kind: &str) -> std::result::Result<Self, String> {
        let mut t = toml::map::Map::new();
        t.insert("kind".into(), toml::Value::String(kind.into()));
        Self::from_value(kind, toml::Value::Table(t))
    }
}

impl<'de> Deserialize<'de> for MethodConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = toml::Value::deserialize(d)?;
        let kind = v
            .get("kind")
            .and_then(|k| k.as_str())
            .ok_or_else(|| serde::de::Error::custom("the method needs a `kind`"))?
            .to_string();
        MethodConfig::from_value(&kind, v).map_err(serde::de::Error::custom)
    }
}

impl MethodSpec for MethodConfig {
    fn name(&self) -> &'static str {
        self.spec().name()
    }

    fn validate(&self) -> selfsup_core::Result<()> {
        self.spec().validate()
    }

    fn min_views(&self) -> usize {
        self.spec().min_views()
    }

    fn build(
        &self,
        vs: VarStore,
        backbone: &BackboneConfig,
        input: &InputSpec,
    ) -> Result<Box<dyn Method>> {
        self.spec().build(vs, backbone, input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_toml_and_names_itself() {
        for kind in MethodConfig::kinds() {
            let c = MethodConfig::from_kind(kind).unwrap();
            assert_eq!(c.name(), kind);
            let text = toml::to_string(&c).unwrap();
            let back: MethodConfig = toml::from_str(&text).unwrap();
            assert_eq!(back, c, "{kind}");
        }
    }

    #[test]
    fn unknown_kinds_and_fields_are_errors_naming_them() {
        let e = MethodConfig::from_kind("simclear").unwrap_err();
        assert!(e.contains("simclear") && e.contains("simclr"), "{e}");
        let e = toml::from_str::<MethodConfig>("kind = \"simclr\"\ntemperatur = 0.1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("temperatur"), "{e}");
    }
}
