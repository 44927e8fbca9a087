//! `--store-root [OS/ARCH[/VARIANT]=]DIR`: the directory standing in for
//! `/` when store paths are read. `--store-root DIR` is every platform's;
//! `--store-root linux/arm64=DIR` one `--platform`'s own (a cross-built
//! closure's store), which wins over the plain one.
//!
//! The value is a platform root when what comes before its first `=`
//! reads as a platform (`os/arch[/variant]`: lowercase words, no leading
//! `/`); any other value is a directory, so `--store-root ./a=b` still
//! names the directory `./a=b`. A platform given twice, or one that is no
//! `--platform` of the build, is an error rather than silently unused.

use std::path::{Path, PathBuf};

use super::error::{bad_input, CliResult};
use crate::image::platform::Platform;

/// One `--store-root` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRootArg {
    /// The platform it is for; `None`: every platform.
    pub platform: Option<Platform>,
    /// The directory.
    pub dir: PathBuf,
}

/// Reads a `--store-root` value (see the module docs).
pub fn parse_store_root(s: &str) -> Result<StoreRootArg, String> {
    if let Some((platform, dir)) = s.split_once('=') {
        if let Ok(platform) = platform.parse::<Platform>() {
            if dir.is_empty() {
                return Err(format!("{s:?}: no directory after '='"));
            }
            return Ok(StoreRootArg {
                platform: Some(platform),
                dir: PathBuf::from(dir),
            });
        }
    }
    if s.is_empty() {
        return Err("an empty directory".to_string());
    }
    Ok(StoreRootArg {
        platform: None,
        dir: PathBuf::from(s),
    })
}

/// The store roots of a build, checked against its platforms.
#[derive(Debug, Clone, Default)]
pub struct StoreRoots {
    every: Option<PathBuf>,
    own: Vec<(Platform, PathBuf)>,
}

impl StoreRoots {
    /// The roots `args` give, for a build of `platforms` (empty: one
    /// image, no `--platform`).
    pub fn new(args: &[StoreRootArg], platforms: &[&Platform]) -> CliResult<Self> {
        let mut roots = StoreRoots::default();
        for arg in args {
            match &arg.platform {
                None if roots.every.is_some() => {
                    return Err(bad_input(
                        "--store-root DIR is given twice (one for every platform; \
                         --store-root OS/ARCH=DIR for one)",
                    ))
                }
                None => roots.every = Some(arg.dir.clone()),
                Some(p) if roots.own.iter().any(|(q, _)| q == p) => {
                    return Err(bad_input(format!("--store-root {p}=... is given twice")))
                }
                Some(p) if !platforms.contains(&p) => {
                    return Err(bad_input(format!(
                        "--store-root {p}={}: {p} is not a --platform of this build",
                        arg.dir.display()
                    )))
                }
                Some(p) => roots.own.push((p.clone(), arg.dir.clone())),
            }
        }
        Ok(roots)
    }

    /// Where `platform`'s store paths are read (`None`: from `/`).
    pub fn root(&self, platform: Option<&Platform>) -> Option<&Path> {
        platform
            .and_then(|p| self.own.iter().find(|(q, _)| q == p))
            .map(|(_, dir)| dir.as_path())
            .or(self.every.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(s: &str) -> Platform {
        s.parse().unwrap()
    }

    fn arg(s: &str) -> StoreRootArg {
        parse_store_root(s).unwrap()
    }

    #[test]
    fn values_are_a_platform_root_only_when_they_start_with_a_platform() {
        assert_eq!(
            arg("linux/arm64/v8=/roots/arm"),
            StoreRootArg {
                platform: Some(platform("linux/arm64/v8")),
                dir: PathBuf::from("/roots/arm")
            }
        );
        for dir in ["/roots/a=b", "./x=y", "root", "Linux/ARM=x"] {
            assert_eq!(arg(dir).platform, None, "{dir}");
            assert_eq!(arg(dir).dir, PathBuf::from(dir));
        }
        assert!(parse_store_root("linux/arm64=").is_err());
        assert!(parse_store_root("").is_err());
    }

    #[test]
    fn a_platform_root_wins_and_strays_are_refused() {
        let (amd, arm) = (platform("linux/amd64"), platform("linux/arm64"));
        let both = [&amd, &arm];
        let roots = StoreRoots::new(&[arg("/all"), arg("linux/arm64=/arm")], &both).unwrap();
        assert_eq!(roots.root(Some(&arm)), Some(Path::new("/arm")));
        assert_eq!(roots.root(Some(&amd)), Some(Path::new("/all")));
        let own_only = StoreRoots::new(&[arg("linux/arm64=/arm")], &both).unwrap();
        assert_eq!(own_only.root(Some(&amd)), None);
        assert_eq!(own_only.root(None), None);
        let error = |args: &[StoreRootArg], platforms: &[&Platform]| {
            StoreRoots::new(args, platforms)
                .unwrap_err()
                .error()
                .to_string()
        };
        assert!(error(&[arg("/a"), arg("/b")], &both).contains("given twice"));
        assert!(
            error(&[arg("linux/arm64=/a"), arg("linux/arm64=/b")], &both)
                .contains("--store-root linux/arm64=... is given twice")
        );
        let stray = error(&[arg("linux/s390x=/s")], &both);
        assert!(
            stray.contains("linux/s390x is not a --platform of this build"),
            "{stray}"
        );
        assert!(error(&[arg("linux/arm64=/a")], &[]).contains("not a --platform"));
    }
}
