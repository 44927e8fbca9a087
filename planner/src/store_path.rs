//! Store paths, validated once where input is read.
//!
//! ```text
//! store-path = store-dir "/" hash "-" name
//! hash       = 32 nix-base32 digits        (20 bytes, see crate::nixbase32)
//! name       = 1*211 of [A-Za-z0-9+-._?=], not starting with "."
//! ```
//!
//! A [`StorePath`] exists only through [`StorePath::parse`] (against a known
//! store directory), [`FromStr`] or serde (the store directory is then the
//! path's parent), so code holding one never checks or slices it again: the
//! hash part, the name (`hello-2.12.1`) and the store directory are methods.
//! It serialises as the plain path string, so plans keep their format.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use crate::error::InputError;
use crate::nixbase32;

/// The default Nix store directory.
pub const DEFAULT_STORE_DIR: &str = "/nix/store";

/// Length of the nix-base32 hash part of a store path's base name.
pub const HASH_LEN: usize = 32;

/// Longest store path name (hash, dash and name) Nix accepts.
pub const MAX_NAME_LEN: usize = 211;

/// Which bytes a name may hold: `[A-Za-z0-9+-._?=]`.
const NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b'_' | b'?' | b'=');
        b += 1;
    }
    table
};

/// An absolute store path, `<store_dir>/<hash>-<name>`.
///
/// Equality, order and hashing are the path string's, so a `StorePath`
/// can be looked up by `&str` in maps and sorted slices.
#[derive(Clone)]
pub struct StorePath {
    path: Box<str>,
    /// Byte offset of the name (after the hash and its dash).
    name_start: u32,
}

impl StorePath {
    /// Validates `path` as a store path directly under `store_dir` (which
    /// has no trailing slash, except `/` itself).
    pub fn parse(path: &str, store_dir: &str) -> Result<StorePath, InputError> {
        let name_start = Self::name_start(path, store_dir)?;
        Ok(StorePath {
            path: path.into(),
            name_start,
        })
    }

    /// [`StorePath::parse`], keeping the string's allocation (closures
    /// hold tens of thousands of paths).
    pub fn parse_owned(path: String, store_dir: &str) -> Result<StorePath, InputError> {
        let name_start = Self::name_start(&path, store_dir)?;
        Ok(StorePath {
            path: path.into_boxed_str(),
            name_start,
        })
    }

    /// Checks `path` against the grammar above, as [`StorePath::parse`]
    /// does, without making a `StorePath`; returns where its name starts,
    /// for [`StorePath::validated`].
    pub(crate) fn validate(path: &str, store_dir: &str) -> Result<u32, InputError> {
        Self::name_start(path, store_dir)
    }

    /// A path [`StorePath::validate`] accepted, with what it returned.
    pub(crate) fn validated(path: String, name_start: u32) -> StorePath {
        StorePath {
            path: path.into_boxed_str(),
            name_start,
        }
    }

    /// Checks `path` against the grammar above; returns where its name
    /// starts.
    fn name_start(path: &str, store_dir: &str) -> Result<u32, InputError> {
        let base = path
            .strip_prefix(store_dir)
            .and_then(|rest| {
                if store_dir == "/" {
                    Some(rest)
                } else {
                    rest.strip_prefix('/')
                }
            })
            .filter(|base| !base.is_empty() && !base.contains('/'))
            .ok_or_else(|| InputError::NotInStore {
                path: path.to_string(),
                store_dir: store_dir.to_string(),
            })?;
        let invalid = |reason: &str| InputError::InvalidStorePath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        if base.len() > MAX_NAME_LEN {
            return Err(invalid("name longer than 211 bytes"));
        }
        let (hash, name) = match base.split_at_checked(HASH_LEN) {
            Some((hash, rest)) if rest.starts_with('-') => (hash, &rest[1..]),
            _ => return Err(invalid("expected a 32-character hash and a dash")),
        };
        if !hash.bytes().all(nixbase32::is_digit) {
            return Err(invalid("hash has characters outside nix-base32"));
        }
        if name.is_empty() {
            return Err(invalid("empty name"));
        }
        if name.starts_with('.') {
            return Err(invalid("name starts with a period"));
        }
        // Byte by byte (every allowed character is ASCII); the character
        // is only looked for to name it.
        if !name.bytes().all(|b| NAME_BYTES[usize::from(b)]) {
            let bad = name
                .chars()
                .find(|&c| !c.is_ascii() || !NAME_BYTES[c as usize])
                .unwrap_or_default();
            return Err(invalid(&format!("character {bad:?} not allowed in a name")));
        }
        u32::try_from(path.len() - name.len()).map_err(|_| invalid("path longer than 4 GiB"))
    }

    /// The whole path.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The name after the hash: `hello-2.12.1`.
    pub fn name(&self) -> &str {
        &self.path[self.name_start as usize..]
    }

    /// The 32-digit nix-base32 hash part.
    pub fn hash_part(&self) -> &str {
        let end = self.name_start as usize - 1;
        &self.path[end - HASH_LEN..end]
    }

    /// The base name, `<hash>-<name>`.
    pub fn base_name(&self) -> &str {
        &self.path[self.name_start as usize - 1 - HASH_LEN..]
    }

    /// The store directory the path lives in (`/nix/store`).
    pub fn store_dir(&self) -> &str {
        let base = self.name_start as usize - 1 - HASH_LEN;
        match &self.path[..base - 1] {
            "" => "/",
            dir => dir,
        }
    }
}

/// Reads a path whose store directory is its parent directory.
impl FromStr for StorePath {
    type Err = InputError;

    fn from_str(path: &str) -> Result<StorePath, InputError> {
        let store_dir = match path.rfind('/') {
            Some(0) => "/",
            Some(i) => &path[..i],
            None => "",
        };
        if !store_dir.starts_with('/') {
            return Err(InputError::InvalidStorePath {
                path: path.to_string(),
                reason: "not an absolute path".to_string(),
            });
        }
        StorePath::parse(path, store_dir)
    }
}

impl Deref for StorePath {
    type Target = str;

    fn deref(&self) -> &str {
        &self.path
    }
}

impl AsRef<str> for StorePath {
    fn as_ref(&self) -> &str {
        &self.path
    }
}

impl Borrow<str> for StorePath {
    fn borrow(&self) -> &str {
        &self.path
    }
}

impl PartialEq for StorePath {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

impl Eq for StorePath {}

impl PartialEq<str> for StorePath {
    fn eq(&self, other: &str) -> bool {
        &*self.path == other
    }
}

impl PartialEq<&str> for StorePath {
    fn eq(&self, other: &&str) -> bool {
        &*self.path == *other
    }
}

impl PartialEq<String> for StorePath {
    fn eq(&self, other: &String) -> bool {
        *self.path == **other
    }
}

impl PartialOrd for StorePath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for StorePath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.path.cmp(&other.path)
    }
}

impl std::hash::Hash for StorePath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.path.hash(state);
    }
}

impl fmt::Display for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

impl fmt::Debug for StorePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.path, f)
    }
}

impl serde::Serialize for StorePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.path)
    }
}

impl<'de> serde::Deserialize<'de> for StorePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HELLO: &str = "/nix/store/0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy-hello-2.12.1";

    #[test]
    fn parts() {
        let path = StorePath::parse(HELLO, "/nix/store").unwrap();
        assert_eq!(path.name(), "hello-2.12.1");
        assert_eq!(path.hash_part(), "0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy");
        assert_eq!(
            path.base_name(),
            "0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy-hello-2.12.1"
        );
        assert_eq!(path.store_dir(), "/nix/store");
        assert_eq!(path, HELLO);
        assert_eq!(HELLO.parse::<StorePath>().unwrap(), path);
        let rooted = StorePath::parse("/0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy-x", "/").unwrap();
        assert_eq!((rooted.store_dir(), rooted.name()), ("/", "x"));
        assert_eq!(
            "/0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy-x"
                .parse::<StorePath>()
                .unwrap(),
            rooted
        );
    }

    #[test]
    fn serde_is_the_plain_string() {
        let path: StorePath = serde_json::from_str(&format!("\"{HELLO}\"")).unwrap();
        assert_eq!(
            serde_json::to_string(&path).unwrap(),
            format!("\"{HELLO}\"")
        );
        let err = serde_json::from_str::<StorePath>("\"/nix/store/abc-x\"").unwrap_err();
        assert!(err.to_string().contains("/nix/store/abc-x"), "{err}");
    }

    #[rstest]
    #[case::short_hash("/nix/store/abc-short", "hash")]
    #[case::other_store("/opt/store/00000000000000000000000000000000-x", "not in the store")]
    #[case::letter_e("/nix/store/0000000000000000000000000000000e-x", "nix-base32")]
    #[case::leading_period("/nix/store/00000000000000000000000000000000-.x", "period")]
    #[case::space(
        "/nix/store/00000000000000000000000000000000-a b",
        "character ' ' not allowed"
    )]
    #[case::non_ascii(
        "/nix/store/00000000000000000000000000000000-caf\u{e9}",
        "character '\u{e9}' not allowed"
    )]
    #[case::subpath(
        "/nix/store/00000000000000000000000000000000-x/bin",
        "not in the store"
    )]
    #[case::store_dir_itself("/nix/store", "not in the store")]
    #[case::prefix_only("/nix/storeX/00000000000000000000000000000000-x", "not in the store")]
    #[case::empty_name("/nix/store/00000000000000000000000000000000-", "empty name")]
    fn bad_paths_are_named_with_the_rule(#[case] path: &str, #[case] needle: &str) {
        let err = StorePath::parse(path, "/nix/store")
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle) && err.contains(path), "{path}: {err}");
    }

    #[test]
    fn long_names_are_refused() {
        let path = format!("/nix/store/{}-{}", "0".repeat(32), "x".repeat(178));
        assert!(StorePath::parse(&path, "/nix/store").is_ok());
        let path = format!("{path}x");
        let err = StorePath::parse(&path, "/nix/store").unwrap_err();
        assert!(err.to_string().contains("211"), "{err}");
    }

    #[test]
    fn relative_paths_are_refused() {
        assert!("00000000000000000000000000000000-x"
            .parse::<StorePath>()
            .is_err());
        assert!("store/00000000000000000000000000000000-x"
            .parse::<StorePath>()
            .is_err());
    }
}
