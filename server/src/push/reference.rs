//! Where a push goes: `docker://HOST[:PORT]/NAME[:TAG]`, the transport
//! syntax `skopeo` and `podman push` use.
//!
//! ```text
//! destination := "docker://" host ["/" path-component]* ["/" name-component] [":" tag]
//! ```
//!
//! The host is required and is the first component (the registry Strata
//! talks to; no Docker Hub default, so a typo never sends an image to a
//! public registry). The rest is an image name in
//! [`crate::image::name`]'s grammar, the tag in its tag grammar. Without a
//! tag the image's own tag is used (`strata build`'s `--tag`, or the one
//! derived from its content).

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::image::name::{ImageName, Tag};

/// A push destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `host[:port]`.
    pub host: String,
    /// The repository inside the registry (`team/hello`).
    pub repository: ImageName,
    /// The tag, when given.
    pub tag: Option<Tag>,
}

/// A destination that is not `docker://HOST/NAME[:TAG]`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{value:?} is not a push destination (docker://HOST[:PORT]/NAME[:TAG]): {reason}")]
pub struct DestinationError {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for Destination {
    type Err = DestinationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| DestinationError {
            value: s.to_string(),
            reason,
        };
        let rest = s
            .strip_prefix("docker://")
            .ok_or_else(|| err("it must start with docker://".to_string()))?;
        if rest.contains('@') {
            return Err(err(
                "a digest reference cannot be pushed to; give a tag".to_string()
            ));
        }
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| err("no repository name after the host".to_string()))?;
        if host.is_empty() {
            return Err(err("the registry host is empty".to_string()));
        }
        // The tag is after the last ':' of the last path component (a
        // port's ':' is in the host, already split off).
        let last = path.rsplit('/').next().unwrap_or(path);
        let (name, tag) = match last.rsplit_once(':') {
            Some((_, tag)) => (&path[..path.len() - tag.len() - 1], Some(tag)),
            None => (path, None),
        };
        // The name is checked with its host in front, so the host is held
        // to the domain grammar too; a bare first component such as
        // `registry` is a host here only when followed by a name.
        let full: ImageName = format!("{host}/{name}")
            .parse()
            .map_err(|e: crate::image::name::ReferenceError| err(e.reason))?;
        if !(host.contains(['.', ':']) || host == "localhost") {
            return Err(err(format!(
                "{host:?} is not a registry host (a host holds a '.' or a ':' or is localhost)"
            )));
        }
        let repository: ImageName = full.as_str()[host.len() + 1..]
            .parse()
            .map_err(|e: crate::image::name::ReferenceError| err(e.reason))?;
        let tag = tag
            .map(str::parse::<Tag>)
            .transpose()
            .map_err(|e| err(format!("tag {:?}: {}", e.value, e.reason)))?;
        Ok(Destination {
            host: host.to_string(),
            repository,
            tag,
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        let d: Destination = "docker://127.0.0.1:5000/team/hello:v1".parse().unwrap();
        assert_eq!(d.host, "127.0.0.1:5000");
        assert_eq!(d.repository.as_str(), "team/hello");
        assert_eq!(d.tag.as_ref().map(Tag::as_str), Some("v1"));
        assert_eq!(d.to_string(), "127.0.0.1:5000/team/hello:v1");
        let d: Destination = "docker://localhost/hello".parse().unwrap();
        assert_eq!((d.host.as_str(), d.tag), ("localhost", None));
        let d: Destination = "docker://registry.example:443/a/b".parse().unwrap();
        assert_eq!(d.repository.as_str(), "a/b");
    }

    #[test]
    fn bad_destinations_say_why() {
        for (bad, why) in [
            ("127.0.0.1:5000/hello", "docker://"),
            ("docker://hello", "no repository"),
            ("docker:///hello", "host is empty"),
            ("docker://registry/hello", "not a registry host"),
            ("docker://127.0.0.1:5000/Hello", "lowercase"),
            ("docker://127.0.0.1:5000/hello:-bad", "tag"),
            ("docker://127.0.0.1:5000/hello@sha256:00", "digest"),
            ("docker://127.0.0.1:x/hello", "registry"),
        ] {
            let err = bad.parse::<Destination>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
