//! What a client asks the server to build: a plan and the image config of
//! `strata build`, as plain serde types, checked into [`BuildOptions`]
//! before anything is queued.
//!
//! A build's id is derived from the request's content (its canonical JSON:
//! keys sorted, no spaces), so the same plan and config asked for twice,
//! or at the same time, are one build.

use serde::{Deserialize, Serialize};
use strata_planner::Plan;

use crate::image::compress::Compression;
use crate::image::config::{check_created, key_values, ConfigOptions};
use crate::image::custom::{Customisation, User};
use crate::image::digest::Sha256Digest;
use crate::image::layer::NixStore;
use crate::image::name::{ImageName, Tag};
use crate::image::nix_db::NixDb;
use crate::image::perms::Perms;
use crate::image::BuildOptions;

/// The image config a build takes: `strata build`'s flags, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageConfig {
    /// Repository name (default: the first root's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tag (default: from the image's content).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `Cmd`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `Entrypoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// `WorkingDir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
    /// `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `ExposedPorts` (`8080/tcp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    /// `KEY=VALUE` labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// RFC 3339 (default 1970-01-01T00:00:01Z); `now` is refused: a build
    /// is identified by its content, so its bytes must follow from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// GOARCH (default: the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// `gzip` (default), `zstd` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Link the roots' `bin`, `etc`, `lib`, `share` into `/`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub links: bool,
    /// Owner and mode rules, as `strata build --perms` reads them (a list
    /// of `{path | regex | glob, uid, gid, uname, gname, mode}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perms: Option<serde_json::Value>,
    /// Users to create in `/etc/passwd` and `/etc/group`, `NAME:UID:GID`
    /// (`--create-user`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_user: Vec<String>,
    /// The image's own Nix database registering its store paths
    /// (`--nix-db`); needs the closure, for references and hashes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nix_db: bool,
}

/// A plan to build with its image config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRequest {
    /// The plan (a closure is planned before it gets here).
    pub plan: Plan,
    /// The image config.
    pub config: ImageConfig,
    /// With `nixDb`, the database made from the closure the plan came
    /// with (not part of the id: the plan's paths decide it).
    #[serde(skip)]
    pub nix_db: Option<NixDb>,
}

/// A request field that is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    /// The field's JSON name.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: &'static str, message: impl ToString) -> RequestError {
    RequestError {
        field,
        message: message.to_string(),
    }
}

impl BuildRequest {
    /// The build's id: the first 32 hex digits of the sha256 of the
    /// request's canonical JSON, leaving out what the planner knew (a
    /// previous plan, the fleet): the same layers and config are the same
    /// image, however the plan was found.
    pub fn id(&self) -> String {
        let mut request = self.clone();
        request.plan.algorithm.previous = false;
        request.plan.algorithm.fleet = None;
        let value = serde_json::to_value(&request).expect("a request serialises");
        // serde_json's Map is sorted (no `preserve_order`): canonical.
        let bytes = serde_json::to_vec(&value).expect("a JSON value serialises");
        Sha256Digest::of(&bytes).hex()[..32].to_string()
    }

    /// Checks every field into the options `image::build` takes; store
    /// paths are read from `nix`.
    pub fn options(&self, nix: &NixStore, threads: usize) -> Result<BuildOptions, RequestError> {
        let c = &self.config;
        let name = c
            .name
            .as_deref()
            .map(|n| n.parse::<ImageName>().map_err(|e| invalid("name", e)))
            .transpose()?;
        let tag = c
            .tag
            .as_deref()
            .map(|t| t.parse::<Tag>().map_err(|e| invalid("tag", e)))
            .transpose()?;
        if c.created.as_deref() == Some("now") {
            return Err(invalid(
                "created",
                "`now` would give a new image for the same request; give a time",
            ));
        }
        if let Some(created) = &c.created {
            check_created(created).map_err(|e| invalid("created", e))?;
        }
        let compression: Compression = c
            .compression
            .as_deref()
            .unwrap_or("gzip")
            .parse()
            .map_err(|e| invalid("compression", e))?;
        for (field, entries) in [("env", &c.env), ("labels", &c.labels)] {
            if let Some(bad) = entries.iter().find(|e| !e.contains('=')) {
                return Err(invalid(field, format!("{bad:?} is not KEY=VALUE")));
            }
        }
        let perms = match &c.perms {
            Some(rules) => Perms::parse(&rules.to_string()).map_err(|e| invalid("perms", e))?,
            None => Perms::default(),
        };
        let users = c
            .create_user
            .iter()
            .map(|u| u.parse::<User>().map_err(|e| invalid("createUser", e)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BuildOptions {
            nix: nix.clone(),
            compression,
            threads,
            customisation: Customisation {
                links: c.links,
                extra: None,
                users,
            },
            nix_db: match (c.nix_db, &self.nix_db) {
                (false, _) => None,
                (true, Some(db)) => Some(db.clone()),
                (true, None) => {
                    return Err(invalid(
                        "nixDb",
                        "needs the closure (its references and hashes): give `closure`",
                    ))
                }
            },
            perms: std::sync::Arc::new(perms),
            config: ConfigOptions {
                architecture: c.arch.clone(),
                os: None,
                variant: None,
                created: c.created.clone(),
                base: None,
                cmd: c.cmd.clone(),
                entrypoint: c.entrypoint.clone(),
                env: c.env.clone(),
                working_dir: c.workdir.clone(),
                user: c.user.clone(),
                exposed_ports: c.ports.clone(),
                labels: key_values(&c.labels),
            },
            name: name.map(|n| n.to_string()),
            tag: tag.map(|t| t.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_planner::{parse_closure, plan_closure, Algorithm, PlanOptions};

    fn request(config: ImageConfig) -> BuildRequest {
        let closure = serde_json::json!([{
            "path": "/nix/store/0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy-hello-1.0",
            "narSize": 1, "references": []
        }]);
        let graph = parse_closure(&closure.to_string(), "/nix/store").unwrap();
        let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Auto, 3)).unwrap();
        BuildRequest {
            plan,
            config,
            nix_db: None,
        }
    }

    fn nix() -> NixStore {
        NixStore {
            store_dir: "/nix/store".to_string(),
            root: None,
        }
    }

    #[test]
    fn the_id_follows_the_content_and_nothing_else() {
        let a = request(ImageConfig {
            tag: Some("t".into()),
            ..ImageConfig::default()
        });
        let same: BuildRequest = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(a.id(), same.id());
        assert_eq!(a.id().len(), 32);
        let other = request(ImageConfig {
            tag: Some("u".into()),
            ..ImageConfig::default()
        });
        assert_ne!(a.id(), other.id());
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (
                ImageConfig {
                    name: Some("Bad Name".into()),
                    ..Default::default()
                },
                "name",
            ),
            (
                ImageConfig {
                    tag: Some("-x".into()),
                    ..Default::default()
                },
                "tag",
            ),
            (
                ImageConfig {
                    created: Some("now".into()),
                    ..Default::default()
                },
                "created",
            ),
            (
                ImageConfig {
                    created: Some("yesterday".into()),
                    ..Default::default()
                },
                "created",
            ),
            (
                ImageConfig {
                    compression: Some("lz4".into()),
                    ..Default::default()
                },
                "compression",
            ),
            (
                ImageConfig {
                    env: vec!["NOEQUALS".into()],
                    ..Default::default()
                },
                "env",
            ),
        ];
        for (config, field) in cases {
            let err = request(config).options(&nix(), 1).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
        let ok = request(ImageConfig {
            name: Some("hello".into()),
            compression: Some("zstd".into()),
            env: vec!["A=1".into()],
            ..Default::default()
        });
        let options = ok.options(&nix(), 1).unwrap();
        assert_eq!(options.compression, Compression::Zstd);
        assert_eq!(options.name.as_deref(), Some("hello"));
    }
}
