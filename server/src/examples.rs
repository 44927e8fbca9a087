//! Example closures the server offers (`strata serve --examples DIR`):
//! something real to build on a fresh machine (the `nix/tests` package
//! set, built with Nix by the first command), beside closures that only
//! show layering (the Debian example fleet: Nix-style paths with no store
//! behind them). Whether an example can be built is asked of the store at
//! each listing, so it says so before anyone clicks Build.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use strata_planner::{parse_closure, StorePath};

use crate::image::layer::NixStore;

/// One example closure, read at start.
#[derive(Debug, Clone)]
pub struct Example {
    /// The file name without `.json` (`hello`).
    pub name: String,
    /// The closure file's text, as given.
    pub closure: String,
    paths: Vec<StorePath>,
    size: u64,
}

/// What a listing says of an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExampleInfo {
    /// Its name.
    pub name: String,
    /// Store paths in its closure.
    pub paths: usize,
    /// Their NAR size, in bytes.
    pub size: u64,
    /// Whether every path is in this server's store.
    pub buildable: bool,
    /// Why not, naming the first path the store lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Where the closure itself is (`/api/examples/<name>`).
    pub closure: String,
}

/// An examples folder that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("examples {path}: {message}")]
pub struct ExamplesError {
    /// The folder or file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// The examples of every `--examples` folder, by name (the first folder
/// wins a name given twice).
#[derive(Debug, Clone, Default)]
pub struct Examples(Vec<Example>);

impl Examples {
    /// Reads every `*.json` closure in `dirs` (sorted by name).
    pub fn load(dirs: &[PathBuf], store_dir: &str) -> Result<Examples, ExamplesError> {
        let mut examples: Vec<Example> = Vec::new();
        for dir in dirs {
            let err = |path: &Path, message: String| ExamplesError {
                path: path.to_path_buf(),
                message,
            };
            let mut files: Vec<PathBuf> = fs::read_dir(dir)
                .map_err(|e| err(dir, e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            for file in files {
                let name = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().trim_end_matches(".closure").to_string())
                    .unwrap_or_default();
                if examples.iter().any(|e| e.name == name) {
                    continue;
                }
                let closure = fs::read_to_string(&file).map_err(|e| err(&file, e.to_string()))?;
                let graph =
                    parse_closure(&closure, store_dir).map_err(|e| err(&file, e.to_string()))?;
                examples.push(Example {
                    name,
                    paths: graph.nodes().iter().map(|n| n.path.clone()).collect(),
                    size: graph.total_size(),
                    closure,
                });
            }
        }
        Ok(Examples(examples))
    }

    /// Every example, with whether `nix` holds its paths.
    pub fn list(&self, nix: &NixStore) -> Vec<ExampleInfo> {
        self.0
            .iter()
            .map(|e| {
                let missing = nix.missing(&e.paths).first().copied();
                ExampleInfo {
                    name: e.name.clone(),
                    paths: e.paths.len(),
                    size: e.size,
                    buildable: missing.is_none(),
                    why: missing.map(|p| {
                        format!(
                            "{p} is not in this server's Nix store: this closure shows layering \
                             but has no store paths behind it"
                        )
                    }),
                    closure: format!("/api/examples/{}", e.name),
                }
            })
            .collect()
    }

    /// One example by name.
    pub fn get(&self, name: &str) -> Option<&Example> {
        self.0.iter().find(|e| e.name == name)
    }
}
