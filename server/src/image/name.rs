//! Image names and tags, checked at the edge so that no archive is written
//! with a reference `docker load`, `podman load` or `skopeo` would refuse.
//!
//! The grammar is the Docker/OCI distribution reference's
//! (distribution/reference `regexp.go`), without the tag and digest parts
//! (a tag is its own flag):
//!
//! ```text
//! name             := [domain '/'] path-component ['/' path-component]*
//! domain           := host [':' port]
//! host             := domain-component ['.' domain-component]* | '[' ipv6 ']'
//! domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! port             := [0-9]+
//! path-component   := alpha-numeric [separator alpha-numeric]*
//! alpha-numeric    := [a-z0-9]+
//! separator        := [_.] | '__' | [-]+
//! tag              := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
//! ```
//!
//! As Docker does (`splitDockerDomain`), the first of several components is
//! a domain only when it holds a `.` or a `:` or is `localhost`; otherwise
//! it is a path component, so `Hello` or `hello:v1` are errors, not names
//! with a registry or a tag. A whole name is at most 255 bytes.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Most bytes in a name (distribution/reference `NameTotalLengthMax`).
pub const NAME_MAX: usize = 255;

/// Most bytes in a tag (the `{0,127}` of the tag grammar, plus one).
pub const TAG_MAX: usize = 128;

/// A name or tag that breaks the reference grammar.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{value:?} is not a valid image {what}: {reason}")]
pub struct ReferenceError {
    /// `name` or `tag`.
    pub what: &'static str,
    /// The value given.
    pub value: String,
    /// Which rule it breaks.
    pub reason: String,
}

/// A repository name (`hello`, `example/hello`, `registry:5000/team/hello`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName(String);

/// A tag (`v1`, `2024.01_rc-1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

impl ImageName {
    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Tag {
    /// The tag as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ImageName {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ReferenceError {
            what: "name",
            value: s.to_string(),
            reason,
        };
        if s.is_empty() {
            return Err(err("it is empty".to_string()));
        }
        if s.len() > NAME_MAX {
            return Err(err(format!("it is longer than {NAME_MAX} bytes")));
        }
        let mut components: Vec<&str> = s.split('/').collect();
        if components.len() > 1 {
            let first = components[0];
            if first.contains(['.', ':']) || first == "localhost" {
                check_domain(first).map_err(|r| err(format!("registry {first:?}: {r}")))?;
                components.remove(0);
            }
        }
        for component in components {
            check_path_component(component).map_err(|r| {
                err(format!(
                    "{r} (components are lowercase letters and digits joined by \
                     '.', '_', '__' or dashes, separated by '/'; the tag goes in --tag)"
                ))
            })?;
        }
        Ok(ImageName(s.to_string()))
    }
}

impl FromStr for Tag {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ReferenceError {
            what: "tag",
            value: s.to_string(),
            reason: reason.to_string(),
        };
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        match s.as_bytes() {
            [] => Err(err("it is empty")),
            [first, ..] if !word(*first) => Err(err(
                "it must start with a letter, a digit or '_' ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
            )),
            bytes if bytes.len() > TAG_MAX => Err(err("it is longer than 128 bytes")),
            bytes if !bytes.iter().all(|&c| word(c) || c == b'.' || c == b'-') => Err(err(
                "only letters, digits, '_', '.' and '-' are allowed ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
            )),
            _ => Ok(Tag(s.to_string())),
        }
    }
}

/// `alpha-numeric [separator alpha-numeric]*`.
fn check_path_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("it has an empty component".to_string());
    }
    let bytes = component.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            let found = bytes
                .get(i)
                .map_or("the end".to_string(), |&c| format!("{:?}", char::from(c)));
            return Err(format!(
                "component {component:?} has {found} where a lowercase letter or digit must be"
            ));
        }
        if i == bytes.len() {
            return Ok(());
        }
        let separator = i;
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += if bytes.get(i + 1) == Some(&b'_') {
                    2
                } else {
                    1
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            c => {
                return Err(format!(
                    "component {component:?} has {:?}, which is not allowed",
                    char::from(c)
                ))
            }
        }
        if i == bytes.len() {
            return Err(format!(
                "component {component:?} ends in the separator {:?}",
                &component[separator..]
            ));
        }
    }
}

/// `host [':' port]`.
fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((ipv6, after)) = rest.split_once(']') else {
            return Err("an IPv6 address needs its closing ']'".to_string());
        };
        if ipv6.is_empty() || !ipv6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') {
            return Err(format!("{ipv6:?} is not an IPv6 address"));
        }
        match after {
            "" => (None, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return Err(format!("unexpected {after:?} after the IPv6 address")),
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(domain), None),
        }
    };
    if let Some(host) = host {
        for label in host.split('.') {
            let bytes = label.as_bytes();
            let ok = !bytes.is_empty()
                && bytes
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || c == b'-')
                && bytes[0] != b'-'
                && bytes[bytes.len() - 1] != b'-';
            if !ok {
                return Err(format!(
                    "{label:?} is not a host name part (letters, digits, inner '-')"
                ));
            }
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|c| c.is_ascii_digit()) {
            return Err(format!("port {port:?} is not a number"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_reference_grammar_are_accepted() {
        for name in [
            "hello",
            "example/hello",
            "team/a.b_c__d---e/f-g",
            "registry.example.com/team/hello",
            "localhost/hello",
            "localhost:5000/hello",
            "registry:5000/hello",
            "[::1]:5000/hello",
            "Registry.Example.com/hello",
            "0",
        ] {
            assert_eq!(name.parse::<ImageName>().map(|n| n.0), Ok(name.to_string()));
        }
    }

    #[test]
    fn names_breaking_the_grammar_say_why() {
        for (name, reason) in [
            ("", "empty"),
            ("Hello", "'H'"),
            ("hello:v1", "':'"),
            ("registry:5000/hello:v1", "':'"),
            ("hello/", "empty component"),
            ("/hello", "empty component"),
            ("a//b", "empty component"),
            ("-hello", "'-'"),
            ("hello-", "ends in the separator \"-\""),
            ("a___b", "'_'"),
            ("a..b", "'.'"),
            ("hello@sha256", "'@'"),
            ("reg_istry.com/hello", "host name part"),
            ("registry:port/hello", "port"),
            ("[zz::]/hello", "IPv6"),
            ("[zz]/hello", "'['"),
            ("a.b_c/hello", "host name part"),
        ] {
            let err = name.parse::<ImageName>().unwrap_err();
            assert_eq!(err.value, name);
            assert!(err.to_string().contains(reason), "{name}: {err}");
        }
        assert!("a".repeat(NAME_MAX + 1).parse::<ImageName>().is_err());
    }

    #[test]
    fn tags_follow_the_tag_grammar() {
        for tag in ["v1", "latest", "_x", "1.2.3-rc_1", &"a".repeat(TAG_MAX)] {
            assert_eq!(tag.parse::<Tag>().map(|t| t.0), Ok(tag.to_string()));
        }
        for tag in [
            "",
            ".v1",
            "-v1",
            "v1/x",
            "v:1",
            "ü",
            &"a".repeat(TAG_MAX + 1),
        ] {
            let err = tag.parse::<Tag>().unwrap_err();
            assert_eq!(err.value, tag);
        }
    }
}
