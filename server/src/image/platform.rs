//! Multi-platform images: one image per `os/architecture[/variant]`
//! (`linux/amd64`, `linux/arm64/v8`), built into one store so layers the
//! platforms share are stored (and written, and pushed) once, and an OCI
//! image index over their manifests (image-spec `image-index.md`), each
//! entry carrying its platform.

use std::fmt;
use std::str::FromStr;

use oci_spec::image::{
    Arch, Descriptor, ImageIndex, ImageIndexBuilder, MediaType, Os, PlatformBuilder,
};
use thiserror::Error;

use super::config::canonical_json;
use super::digest::Sha256Digest;
use super::Image;

/// A platform: `os/architecture[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// GOOS (`linux`).
    pub os: String,
    /// GOARCH (`amd64`, `arm64`).
    pub architecture: String,
    /// The CPU variant (`v8`, `v7`), if any.
    pub variant: Option<String>,
}

/// A platform that is not `os/architecture[/variant]`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{value:?} is not a platform (os/architecture[/variant], e.g. linux/arm64/v8)")]
pub struct PlatformError {
    /// The value given.
    pub value: String,
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let word = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || PlatformError {
            value: s.to_string(),
        };
        match parts.as_slice() {
            [os, arch] if word(os) && word(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if word(os) && word(arch) && word(variant) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// A multi-platform image: its platforms' images and the index over them.
#[derive(Debug, Clone)]
pub struct MultiImage {
    /// Repository name.
    pub name: String,
    /// Tag: given, or the first 32 hex digits of the index digest.
    pub tag: String,
    /// Each platform's image, in the order given.
    pub images: Vec<(Platform, Image)>,
    /// The index JSON (canonical).
    pub index: Vec<u8>,
    /// Its digest.
    pub index_digest: Sha256Digest,
}

/// The index over `images`' manifests, one entry per platform.
pub fn image_index(images: &[(Platform, Image)]) -> ImageIndex {
    let manifests: Vec<Descriptor> = images
        .iter()
        .map(|(platform, image)| {
            let mut builder = PlatformBuilder::default()
                .architecture(Arch::from(platform.architecture.as_str()))
                .os(Os::from(platform.os.as_str()));
            if let Some(variant) = &platform.variant {
                builder = builder.variant(variant.clone());
            }
            let mut descriptor = Descriptor::new(
                MediaType::ImageManifest,
                image.manifest.len() as u64,
                image.manifest_digest.to_oci(),
            );
            descriptor.set_platform(Some(builder.build().expect("platform fields are set")));
            descriptor
        })
        .collect();
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()
        .expect("index fields are set")
}

impl MultiImage {
    /// The multi-platform image of `images`, named `name`, tagged `tag`
    /// (or from the index's digest).
    pub fn new(name: String, tag: Option<String>, images: Vec<(Platform, Image)>) -> MultiImage {
        let index = canonical_json(&image_index(&images));
        let index_digest = Sha256Digest::of(&index);
        MultiImage {
            name,
            tag: tag.unwrap_or_else(|| index_digest.hex()[..32].to_string()),
            images,
            index,
            index_digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_print() {
        for ok in ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"] {
            assert_eq!(ok.parse::<Platform>().unwrap().to_string(), ok);
        }
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.variant.as_deref(), Some("v8"));
        for bad in [
            "",
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v8/x",
            "Linux/amd64",
            "linux/am d64",
        ] {
            let err = bad.parse::<Platform>().unwrap_err();
            assert!(err.to_string().contains("os/architecture"), "{bad}");
        }
    }
}
