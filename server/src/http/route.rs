//! The pull endpoints under `/v2/`, parsed from the raw request path.
//!
//! Names may hold `/`, so the endpoint is read from the path's end:
//!
//! ```text
//! <name>/manifests/<tag or digest>
//! <name>/blobs/<digest>
//! <name>/tags/list
//! <name>/referrers/<digest>
//! ```
//!
//! The path is taken as sent, not percent-decoded: no valid name, tag or
//! digest holds a `%`, so `%2F`, `%2e%2e` or `%00` fail the grammar checks
//! ([`ImageName`], [`Tag`], [`Sha256Digest`]) here, before anything reads
//! the store; so do `..` and empty components.

use serde_json::json;

use super::error::{ErrorCode, RegistryError};
use crate::image::digest::Sha256Digest;
use crate::image::name::{ImageName, Tag};

/// A manifest reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// By tag.
    Tag(Tag),
    /// By digest.
    Digest(Sha256Digest),
}

/// One pull endpoint with its checked parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `<name>/manifests/<reference>`.
    Manifest(ImageName, Reference),
    /// `<name>/blobs/<digest>`.
    Blob(ImageName, Sha256Digest),
    /// `<name>/tags/list`.
    Tags(ImageName),
    /// `<name>/referrers/<digest>`.
    Referrers(ImageName, Sha256Digest),
}

impl Endpoint {
    /// Parses the path after `/v2/`.
    pub fn parse(tail: &str) -> Result<Endpoint, RegistryError> {
        let (rest, last) = tail.rsplit_once('/').ok_or_else(|| not_an_endpoint(tail))?;
        let (name, kind) = rest.rsplit_once('/').ok_or_else(|| not_an_endpoint(tail))?;
        match (kind, last) {
            ("tags", "list") => Ok(Endpoint::Tags(name_of(name)?)),
            ("manifests", reference) => {
                let name = name_of(name)?;
                let reference = if reference.contains(':') {
                    Reference::Digest(digest_of(reference)?)
                } else {
                    Reference::Tag(tag_of(reference)?)
                };
                Ok(Endpoint::Manifest(name, reference))
            }
            ("blobs", digest) => Ok(Endpoint::Blob(name_of(name)?, digest_of(digest)?)),
            ("referrers", digest) => Ok(Endpoint::Referrers(name_of(name)?, digest_of(digest)?)),
            _ => Err(not_an_endpoint(tail)),
        }
    }
}

fn not_an_endpoint(tail: &str) -> RegistryError {
    RegistryError::unknown(
        ErrorCode::Unsupported,
        "not a pull endpoint of this registry",
        json!({ "path": format!("/v2/{tail}") }),
    )
}

fn name_of(text: &str) -> Result<ImageName, RegistryError> {
    text.parse()
        .map_err(|e| RegistryError::invalid(ErrorCode::NameInvalid, format!("{e}"), text))
}

/// A tag (exposed for `tags/list?last=`).
pub fn tag_of(text: &str) -> Result<Tag, RegistryError> {
    text.parse()
        .map_err(|e| RegistryError::invalid(ErrorCode::TagInvalid, format!("{e}"), text))
}

fn digest_of(text: &str) -> Result<Sha256Digest, RegistryError> {
    text.parse().map_err(|_| {
        RegistryError::invalid(
            ErrorCode::DigestInvalid,
            "digests are sha256:<64 lowercase hex digits>",
            text,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    fn code(tail: &str) -> ErrorCode {
        Endpoint::parse(tail).unwrap_err().code()
    }

    #[test]
    fn endpoints_are_read_from_the_end() {
        let name = |s: &str| s.parse::<ImageName>().unwrap();
        let digest: Sha256Digest = format!("sha256:{HEX}").parse().unwrap();
        assert_eq!(
            Endpoint::parse("team/manifests/manifests/v1").unwrap(),
            Endpoint::Manifest(
                name("team/manifests"),
                Reference::Tag("v1".parse().unwrap())
            )
        );
        assert_eq!(
            Endpoint::parse(&format!("a/b/blobs/sha256:{HEX}")).unwrap(),
            Endpoint::Blob(name("a/b"), digest)
        );
        assert_eq!(
            Endpoint::parse("localhost:5000/x/tags/list").unwrap(),
            Endpoint::Tags(name("localhost:5000/x"))
        );
        assert_eq!(
            Endpoint::parse(&format!("x/manifests/sha256:{HEX}")).unwrap(),
            Endpoint::Manifest(name("x"), Reference::Digest(digest))
        );
    }

    #[test]
    fn traversal_and_bad_parts_fail_the_grammar() {
        use ErrorCode::*;
        for (tail, expected) in [
            ("../x/manifests/v1", NameInvalid),
            ("a/../b/manifests/v1", NameInvalid),
            ("a%2F..%2Fb/manifests/v1", NameInvalid),
            ("a%00/manifests/v1", NameInvalid),
            ("/x/manifests/v1", NameInvalid),
            ("Hello/manifests/v1", NameInvalid),
            ("x/manifests/..", TagInvalid),
            ("x/manifests/v1%2F..", TagInvalid),
            ("x/manifests/v%00", TagInvalid),
            ("x/blobs/sha256:..", DigestInvalid),
            ("x/blobs/sha256%3A00", DigestInvalid),
            ("x/manifests/sha256%3A00", TagInvalid),
            ("x/blobs/sha256:ABC", DigestInvalid),
            ("x/referrers/md5:00", DigestInvalid),
            ("x/manifests", Unsupported),
            ("x/other/y", Unsupported),
            ("x", Unsupported),
        ] {
            assert_eq!(code(tail), expected, "{tail}");
        }
        assert_eq!(
            code(&format!("x/blobs/sha256:{}", HEX.to_uppercase())),
            DigestInvalid
        );
    }
}
