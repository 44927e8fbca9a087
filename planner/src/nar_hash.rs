//! A store path's NAR hash, read from any encoding Nix prints and compared
//! by value.
//!
//! Nix prints the same sha256 three ways, and which one a closure carries
//! depends on the tool and its version:
//!
//! | form | printed by |
//! |---|---|
//! | `sha256:<52 nix-base32 digits>` | `exportReferencesGraph`, `nix-store --query --hash`, narinfo files |
//! | `sha256-<base64>` (SRI) | `nix path-info --json` (every version) |
//! | `sha256:<64 hex digits>` | older tools, hand-written files |
//!
//! Plans keep one canonical form, `sha256:<nix-base32>` ([`NarHash`]'s
//! `Display` and serde), so a plan made from a `path-info` closure and one
//! made from an `exportReferencesGraph` closure of the same store are the
//! same bytes, and a plan checks against either.

use std::fmt;
use std::str::FromStr;

use data_encoding::{BASE64, HEXLOWER_PERMISSIVE};

use crate::nixbase32;

/// A sha256 NAR hash (the 32 bytes; the encoding is forgotten on reading).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NarHash(pub [u8; 32]);

/// A text that is not a sha256 hash in any form Nix prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a sha256 hash (sha256:<nix-base32>, sha256:<hex> or sha256-<base64>)")]
pub struct NarHashError {
    /// The text.
    pub value: String,
}

impl NarHash {
    /// `sha256-<base64>`, as `nix path-info --json` prints.
    pub fn to_sri(&self) -> String {
        format!("sha256-{}", BASE64.encode(&self.0))
    }

    /// The 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.0)
    }
}

impl FromStr for NarHash {
    type Err = NarHashError;

    fn from_str(text: &str) -> Result<NarHash, NarHashError> {
        let bytes = if let Some(digits) = text.strip_prefix("sha256:") {
            match digits.len() {
                52 => nixbase32::decode::<32>(digits),
                64 => decode_exact(&HEXLOWER_PERMISSIVE, digits),
                _ => decode_exact(&BASE64, digits),
            }
        } else {
            text.strip_prefix("sha256-")
                .and_then(|b64| decode_exact(&BASE64, b64))
        };
        bytes.map(NarHash).ok_or_else(|| NarHashError {
            value: text.to_string(),
        })
    }
}

/// Decodes to exactly 32 bytes, or `None`.
fn decode_exact(encoding: &data_encoding::Encoding, text: &str) -> Option<[u8; 32]> {
    encoding.decode(text.as_bytes()).ok()?.try_into().ok()
}

impl fmt::Display for NarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", nixbase32::encode(&self.0))
    }
}

impl fmt::Debug for NarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `sha256:` and the 52 nix-base32 digits of a hash.
const PREFIX: &[u8] = b"sha256:";

impl NarHash {
    /// `Display`'s text as ASCII bytes, built on the stack (plans write
    /// tens of thousands of hashes).
    pub(crate) fn text(&self) -> [u8; PREFIX.len() + nixbase32::encoded_len(32)] {
        let mut text = [0u8; PREFIX.len() + nixbase32::encoded_len(32)];
        text[..PREFIX.len()].copy_from_slice(PREFIX);
        nixbase32::encode_into(&self.0, &mut text[PREFIX.len()..]);
        text
    }
}

impl serde::Serialize for NarHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.text();
        s.serialize_str(std::str::from_utf8(&text).expect("the prefix and alphabet are ASCII"))
    }
}

impl<'de> serde::Deserialize<'de> for NarHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Parsed from the reader's own buffer: no string is allocated.
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = NarHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<NarHash, E> {
                text.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// `nix hash to-base32` / `to-sri` / `to-base16` of one sha256 (of
    /// the empty string).
    const NIX32: &str = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";

    #[rstest]
    #[case::nix_base32(NIX32)]
    #[case::sri("sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")]
    #[case::base16("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    #[case::base16_upper("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    #[case::base64_after_colon("sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")]
    fn every_form_reads_as_the_same_hash(#[case] text: &str) {
        let hash: NarHash = text.parse().unwrap();
        assert_eq!(hash.to_string(), NIX32);
        assert_eq!(hash, NIX32.parse().unwrap());
        assert_eq!(
            hash.to_sri(),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[rstest]
    #[case::empty("")]
    #[case::no_algorithm("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73")]
    #[case::md5("md5-1B2M2Y8AsgTpgAmY7PhCfg==")]
    #[case::sha512_length("sha256-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==")]
    #[case::short_sri("sha256-47DEQpj8HBSa")]
    #[case::bad_nix32_digit("sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e")]
    #[case::garbage("sha256:nope")]
    fn other_texts_are_refused_by_name(#[case] text: &str) {
        let err = text.parse::<NarHash>().unwrap_err();
        assert!(err.to_string().contains(&format!("{text:?}")), "{err}");
    }

    #[test]
    fn serde_writes_the_canonical_form() {
        let hash: NarHash =
            serde_json::from_str("\"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\"")
                .unwrap();
        assert_eq!(
            serde_json::to_string(&hash).unwrap(),
            format!("\"{NIX32}\"")
        );
        assert!(serde_json::from_str::<NarHash>("\"sha256:x\"").is_err());
    }
}
