//! The image configuration and manifest, from `oci-spec` types, written as
//! canonical JSON (keys sorted, no spaces), so the same image always has
//! the same config digest, hence the same image ID.

use std::collections::HashMap;

use oci_spec::image::{
    Arch, Config, Descriptor, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder,
    ImageManifest, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::image::digest::Sha256Digest;
use crate::image::layer::LayerBlob;

/// The default `created`: 1970-01-01T00:00:01Z, as dockerTools.
pub const DEFAULT_CREATED: &str = "1970-01-01T00:00:01Z";

/// What the user says about the image's configuration.
#[derive(Debug, Clone, Default)]
pub struct ConfigOptions {
    /// GOARCH (`amd64`, `arm64`); default: this machine's.
    pub architecture: Option<String>,
    /// GOOS; default `linux`.
    pub os: Option<String>,
    /// The CPU variant (`v8`); none by default.
    pub variant: Option<String>,
    /// RFC 3339 time, or `now`; default [`DEFAULT_CREATED`].
    pub created: Option<String>,
    /// The execution config from a file (PascalCase keys, as dockerTools'
    /// `config`); the options below override it.
    pub base: Option<Config>,
    /// `Cmd`.
    pub cmd: Option<Vec<String>>,
    /// `Entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` entries, overriding the same keys of `base`.
    pub env: Vec<String>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
    /// `User`.
    pub user: Option<String>,
    /// `ExposedPorts` (`80/tcp`).
    pub exposed_ports: Vec<String>,
    /// `Labels`.
    pub labels: Vec<(String, String)>,
}

/// GOARCH of this machine.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// One layer as the config and manifest see it.
pub struct ConfigLayer<'a> {
    /// The blob.
    pub blob: &'a LayerBlob,
    /// The history comment (the layer's main store path).
    pub comment: String,
}

/// `KEY=VALUE` entries as pairs (entries without `=` are checked out
/// before, where they are read).
pub fn key_values(entries: &[String]) -> Vec<(String, String)> {
    entries
        .iter()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The image configuration. `path` is the default `PATH` (the roots'
/// `bin` directories), used when no `PATH` is given.
pub fn image_config(
    options: &ConfigOptions,
    layers: &[ConfigLayer<'_>],
    path: &str,
) -> ImageConfiguration {
    let created = match options.created.as_deref() {
        None => DEFAULT_CREATED.to_string(),
        Some("now") => rfc3339_now(),
        Some(t) => t.to_string(),
    };
    let mut config = options.base.clone().unwrap_or_default();
    let mut env: Vec<String> = config.env().clone().unwrap_or_default();
    if !path.is_empty() && !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push(format!("PATH={path}"));
    }
    for entry in &options.env {
        let key = entry.split('=').next().unwrap_or(entry);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(entry.clone());
    }
    if !env.is_empty() {
        config.set_env(Some(env));
    }
    if let Some(cmd) = &options.cmd {
        config.set_cmd(Some(cmd.clone()));
    }
    if let Some(entrypoint) = &options.entrypoint {
        config.set_entrypoint(Some(entrypoint.clone()));
    }
    if let Some(dir) = &options.working_dir {
        config.set_working_dir(Some(dir.clone()));
    }
    if let Some(user) = &options.user {
        config.set_user(Some(user.clone()));
    }
    let mut ports = config.exposed_ports().clone().unwrap_or_default();
    ports.extend(options.exposed_ports.iter().cloned());
    ports.sort();
    ports.dedup();
    config.set_exposed_ports((!ports.is_empty()).then_some(ports));
    let mut volumes = config.volumes().clone().unwrap_or_default();
    volumes.sort();
    config.set_volumes((!volumes.is_empty()).then_some(volumes));
    let mut labels: HashMap<String, String> = config.labels().clone().unwrap_or_default();
    labels.extend(options.labels.iter().cloned());
    config.set_labels((!labels.is_empty()).then_some(labels));
    let history = layers
        .iter()
        .map(|l| {
            HistoryBuilder::default()
                .created(created.clone())
                .created_by("strata build")
                .comment(l.comment.clone())
                .build()
                .expect("history has no required fields")
        })
        .collect::<Vec<_>>();
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            layers
                .iter()
                .map(|l| l.blob.diff_id.to_string())
                .collect::<Vec<_>>(),
        )
        .build()
        .expect("rootfs fields are set");
    let architecture = options
        .architecture
        .clone()
        .unwrap_or_else(|| host_architecture().to_string());
    let mut image = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(Arch::from(architecture.as_str()))
        .os(Os::from(options.os.as_deref().unwrap_or("linux")))
        .config(config)
        .rootfs(rootfs)
        .history(history)
        .build()
        .expect("config fields are set");
    image.set_variant(options.variant.clone());
    image
}

/// Parses a `--config` file: the execution config with PascalCase keys
/// (`Cmd`, `Env`, ...), or a whole image config holding one under `config`.
pub fn parse_config(text: &str) -> Result<Config, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    let section = match value.get("config") {
        Some(inner) if inner.is_object() => inner.clone(),
        _ => value,
    };
    serde_json::from_value(section)
}

/// The OCI manifest of an image.
pub fn manifest(config: (&Sha256Digest, u64), layers: &[&LayerBlob]) -> ImageManifest {
    let config = Descriptor::new(MediaType::ImageConfig, config.1, config.0.to_oci());
    let layers = layers
        .iter()
        .map(|l| Descriptor::new(l.compression.media_type(), l.size, l.digest.to_oci()))
        .collect::<Vec<_>>();
    ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers)
        .build()
        .expect("manifest fields are set")
}

/// `value` as canonical JSON: object keys sorted at every level (maps in
/// `oci-spec` types are `HashMap`s), no insignificant whitespace.
pub fn canonical_json<T: Serialize>(value: &T) -> Vec<u8> {
    let value = serde_json::to_value(value).expect("image JSON serialises");
    // serde_json's Map is a BTreeMap here (no `preserve_order`), so
    // writing the value sorts its keys.
    serde_json::to_vec(&value).expect("a JSON value serialises")
}

/// The current time to the second, `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339_now() -> String {
    OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|now| now.format(&Rfc3339).ok())
        .unwrap_or_else(|| DEFAULT_CREATED.to_string())
}

/// The Unix time of a checked `--created` value (`None`: the default,
/// 1970-01-01T00:00:01Z, i.e. 1): the Nix database's `registrationTime`.
pub fn created_unix(created: Option<&str>) -> i64 {
    match created {
        None => 1,
        Some("now") => OffsetDateTime::now_utc().unix_timestamp(),
        Some(t) => OffsetDateTime::parse(t, &Rfc3339).map_or(1, |t| t.unix_timestamp()),
    }
}

/// A `--created` value that is neither RFC 3339 nor `now`.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error(
    "{value:?} is not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)) or `now`: {reason}"
)]
pub struct CreatedError {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Checks a `--created` value: `now`, or an RFC 3339 `date-time`
/// (section 5.6) as Go's `time.RFC3339` reads it, since docker, podman and
/// skopeo parse `created` with it: an upper-case `T` and `Z`, seconds up to
/// 59, a fraction of any length, an offset `±HH:MM`. Returns the value
/// unchanged: the image records the time as the user wrote it.
pub fn check_created(value: &str) -> Result<String, CreatedError> {
    if value == "now" {
        return Ok(value.to_string());
    }
    let err = |reason: &str| CreatedError {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    // `time` reads RFC 3339 as the RFC allows: any date-time separator,
    // a lower-case `z`, a leap second. Go's layout has a literal `T` and
    // `Z` and no second 60, so those are refused here first.
    let b = value.as_bytes();
    if b.len() > 10 && b[10] != b'T' {
        return Err(err("expected 'T' between date and time"));
    }
    if value.contains('z') {
        return Err(err("the time zone is Z (upper case) or +HH:MM"));
    }
    if value.get(17..19) == Some("60") {
        return Err(err("seconds go up to 59"));
    }
    match OffsetDateTime::parse(value, &Rfc3339) {
        Ok(_) => Ok(value.to_string()),
        Err(e) => Err(err(&e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_accepts_rfc3339_and_now() {
        for ok in [
            "now",
            DEFAULT_CREATED,
            "2024-01-02T03:04:05Z",
            "2024-02-29T23:59:59.123456789Z",
            "2000-02-29T00:00:00+05:30",
            "1999-12-31T23:59:59-00:00",
            "2024-01-02T03:04:05.123456789123Z",
        ] {
            assert_eq!(check_created(ok).as_deref(), Ok(ok));
        }
    }

    #[test]
    fn created_rejects_what_go_would_not_read() {
        for (bad, reason) in [
            ("", "year"),
            ("yesterday", "year"),
            ("2024-01-02", "separator"),
            ("2024-01-02 03:04:05Z", "'T'"),
            ("2024-01-02T03:04:05", "offset"),
            ("2024-01-02T03:04:05z", "upper case"),
            ("2024-13-02T03:04:05Z", "month"),
            ("2023-02-29T03:04:05Z", "day"),
            ("2024-01-02T24:00:00Z", "hour"),
            ("2024-01-02T03:04:60Z", "59"),
            ("2024-01-02T03:04:05.Z", "subsecond"),
            ("2024-01-02T03:04:05+0100", "not valid"),
            ("2024-01-02T03:04:05Zjunk", "trailing"),
            ("1700000000", "not valid"),
            ("2024-01-02T03:04:05+24:00", "offset"),
        ] {
            let err = check_created(bad).unwrap_err();
            assert_eq!(err.value, bad);
            assert!(err.to_string().contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn now_is_whole_seconds_in_utc() {
        let now = rfc3339_now();
        assert_eq!(now.len(), DEFAULT_CREATED.len(), "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
        assert_eq!(check_created(&now).as_deref(), Ok(now.as_str()));
    }

    #[test]
    fn config_json_is_canonical_and_merges_env() {
        let options = ConfigOptions {
            base: Some(parse_config(r#"{"Env": ["A=1", "B=2"], "Labels": {"z": "1", "a": "2"}, "ExposedPorts": {"443/tcp": {}, "80/tcp": {}}}"#).unwrap()),
            env: vec!["B=3".to_string()],
            cmd: Some(vec!["hello".to_string()]),
            ..ConfigOptions::default()
        };
        let config = image_config(&options, &[], "/nix/store/x-hello/bin");
        let json = String::from_utf8(canonical_json(&config)).unwrap();
        assert!(
            json.contains(r#""Env":["A=1","PATH=/nix/store/x-hello/bin","B=3"]"#),
            "{json}"
        );
        assert!(json.contains(r#""Labels":{"a":"2","z":"1"}"#), "{json}");
        assert!(
            json.contains(r#""ExposedPorts":{"443/tcp":{},"80/tcp":{}}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""created":"1970-01-01T00:00:01Z""#),
            "{json}"
        );
        for _ in 0..5 {
            assert_eq!(canonical_json(&config), json.as_bytes());
        }
    }
}
