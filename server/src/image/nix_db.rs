//! The image's own Nix database (`strata build --nix-db`): what nixpkgs'
//! `includeNixDB` gives, so `nix-store --verify`, `nix-env` and `nix
//! profile` work inside the container, but byte for byte reproducible.
//!
//! Nix keeps its database in `/nix/var/nix/db`: `db.sqlite` and a
//! `schema` file holding the schema version (`10` from Nix 2.0 to today).
//! The tables are Nix's `schema.sql` and `ca-specific-schema.sql`:
//!
//! ```text
//! ValidPaths(id, path, hash, registrationTime, deriver, narSize, ultimate, sigs, ca)
//! Refs(referrer, reference)            -- ValidPaths ids; self-references kept
//! DerivationOutputs(drv, id, path)     -- empty: the image holds no .drv
//! Realisations, RealisationsRefs       -- empty: no content-addressed realisations
//! ```
//!
//! `hash` is `sha256:<base16>`, the form Nix writes there. A row per
//! store path of the image, ids in path order (bytes), `registrationTime`
//! the image's `created` time (1 by default), `deriver`, `ultimate`,
//! `sigs` and `ca` null, as `nix-store --load-db` leaves them.
//!
//! Same closure, same bytes: the SQLite is the one bundled by
//! `libsqlite3-sys` (pinned by the lockfile, not the system's), page size
//! 4096, rollback journal (no WAL files), rows inserted in order in one
//! transaction, then `VACUUM`, into a fresh file. A test builds the
//! database twice and compares the bytes.
//!
//! Next to it, as `includeNixDB` does: `/nix/var/nix/gcroots/docker/NAME`
//! symlinks to the image's roots, so a garbage collection in the container
//! keeps them.

use std::io;

use rusqlite::{params, Connection};
use strata_planner::{Graph, NarHash, Plan, StorePath};
use thiserror::Error;

use crate::image::layer::LayerError;
use crate::image::tar::{LayerTar, DIR_MODE};

/// Nix's database schema version (`nixSchemaVersion`), the `schema` file.
pub const SCHEMA_VERSION: u32 = 10;

/// The only store directory whose state directory is known: `/nix/var/nix`.
pub const STORE_DIR: &str = "/nix/store";

/// Nix's `schema.sql` and `ca-specific-schema.sql` (Nix 2.x).
const SCHEMA: &str = "
create table if not exists ValidPaths (
    id               integer primary key autoincrement not null,
    path             text unique not null,
    hash             text not null,
    registrationTime integer not null,
    deriver          text,
    narSize          integer,
    ultimate         integer,
    sigs             text,
    ca               text
);
create table if not exists Refs (
    referrer  integer not null,
    reference integer not null,
    primary key (referrer, reference),
    foreign key (referrer) references ValidPaths(id) on delete cascade,
    foreign key (reference) references ValidPaths(id) on delete restrict
);
create index if not exists IndexReferrer on Refs(referrer);
create index if not exists IndexReference on Refs(reference);
create trigger if not exists DeleteSelfRefs before delete on ValidPaths
  begin
    delete from Refs where referrer = old.id and reference = old.id;
  end;
create table if not exists DerivationOutputs (
    drv  integer not null,
    id   text not null,
    path text not null,
    primary key (drv, id),
    foreign key (drv) references ValidPaths(id) on delete cascade
);
create index if not exists IndexDerivationOutputs on DerivationOutputs(path);
create table if not exists Realisations (
    id integer primary key autoincrement not null,
    drvPath text not null,
    outputName text not null,
    outputPath integer not null,
    signatures text,
    foreign key (outputPath) references ValidPaths(id) on delete cascade
);
create index if not exists IndexRealisations on Realisations(drvPath, outputName);
create trigger if not exists DeleteSelfRefsViaRealisations before delete on ValidPaths
  begin
    delete from RealisationsRefs where realisationReference in (
      select id from Realisations where outputPath = old.id
    );
  end;
create table if not exists RealisationsRefs (
    referrer integer not null,
    realisationReference integer,
    foreign key (referrer) references Realisations(id) on delete cascade,
    foreign key (realisationReference) references Realisations(id) on delete restrict
);
create index if not exists IndexRealisationsRefsRealisationReference on RealisationsRefs(realisationReference);
create index if not exists IndexRealisationsRefs on RealisationsRefs(referrer);
create index if not exists IndexRealisationsRefsOnOutputPath on Realisations(outputPath);
";

/// Why the database cannot be made.
#[derive(Debug, Error)]
pub enum NixDbError {
    /// The input has no references (a plan, not a closure).
    #[error("--nix-db needs the closure (a plan does not carry references): give the closure instead of the plan")]
    NoClosure,
    /// A store path without a narHash in the closure.
    #[error("{path} has no narHash in the closure; --nix-db registers every path with its narHash (export the closure with nix path-info --json or exportReferencesGraph)")]
    MissingHash {
        /// The path.
        path: String,
    },
    /// An image path that the closure does not have.
    #[error("{path} is in the plan but not in the closure")]
    NotInClosure {
        /// The path.
        path: String,
    },
    /// A reference to a path the image leaves out.
    #[error(
        "{from} references {to}, which the image leaves out: Nix's database cannot register it"
    )]
    DanglingReference {
        /// The referrer.
        from: String,
        /// The missing reference.
        to: String,
    },
    /// A store directory other than `/nix/store`.
    #[error("--nix-db needs the store directory {STORE_DIR} (its database lives in /nix/var/nix), not {0}")]
    StoreDir(String),
    /// SQLite failed.
    #[error("writing db.sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The temporary file failed.
    #[error("writing db.sqlite: {0}")]
    Io(#[from] io::Error),
}

impl NixDbError {
    /// Whether the user's input is at fault.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, NixDbError::Sqlite(_) | NixDbError::Io(_))
    }
}

/// One registered store path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The store path.
    pub path: StorePath,
    /// Its NAR hash.
    pub nar_hash: NarHash,
    /// Its NAR size.
    pub nar_size: u64,
    /// What it references, sorted, itself included when it does.
    pub references: Vec<StorePath>,
}

/// What goes into the database: every store path of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixDb {
    /// Sorted by path.
    pub paths: Vec<Registration>,
    /// The image's roots (gc roots in the container).
    pub roots: Vec<StorePath>,
    /// `registrationTime` of every path (Unix seconds).
    pub registration_time: i64,
}

impl NixDb {
    /// The database of `plan`'s paths, with references, narHash and
    /// narSize from `graph`, the closure it was planned from.
    pub fn new(graph: &Graph, plan: &Plan, registration_time: i64) -> Result<NixDb, NixDbError> {
        if graph.store_dir() != STORE_DIR {
            return Err(NixDbError::StoreDir(graph.store_dir().to_string()));
        }
        let mut image: Vec<&StorePath> = plan.layers.iter().flat_map(|l| &l.paths).collect();
        image.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        image.dedup();
        let mut paths = Vec::with_capacity(image.len());
        for path in &image {
            let id = graph.find(path).ok_or_else(|| NixDbError::NotInClosure {
                path: path.to_string(),
            })?;
            let node = graph.node(id);
            let nar_hash = node.nar_hash.ok_or_else(|| NixDbError::MissingHash {
                path: path.to_string(),
            })?;
            let mut references: Vec<StorePath> = node
                .references
                .iter()
                .map(|r| graph.path(*r).clone())
                .collect();
            if node.self_reference {
                references.push((*path).clone());
            }
            references.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            if let Some(to) = references.iter().find(|r| {
                image
                    .binary_search_by(|p| p.as_bytes().cmp(r.as_bytes()))
                    .is_err()
            }) {
                return Err(NixDbError::DanglingReference {
                    from: path.to_string(),
                    to: to.to_string(),
                });
            }
            paths.push(Registration {
                path: (*path).clone(),
                nar_hash,
                nar_size: node.nar_size,
                references,
            });
        }
        Ok(NixDb {
            paths,
            roots: plan.roots.clone(),
            registration_time,
        })
    }

    /// The bytes of `db.sqlite` (see the module docs for why they are
    /// always the same).
    pub fn sqlite(&self) -> Result<Vec<u8>, NixDbError> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("db.sqlite");
        let mut db = Connection::open(&file)?;
        db.execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = DELETE; PRAGMA foreign_keys = ON;",
        )?;
        db.execute_batch(SCHEMA)?;
        let tx = db.transaction()?;
        {
            let mut insert = tx.prepare(
                "insert into ValidPaths (id, path, hash, registrationTime, narSize) values (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (i, p) in self.paths.iter().enumerate() {
                insert.execute(params![
                    i as i64 + 1,
                    p.path.as_str(),
                    format!("sha256:{}", p.nar_hash.to_hex()),
                    self.registration_time,
                    i64::try_from(p.nar_size).unwrap_or(i64::MAX),
                ])?;
            }
            let id = |path: &StorePath| {
                self.paths
                    .binary_search_by(|p| p.path.as_bytes().cmp(path.as_bytes()))
                    .map(|i| i as i64 + 1)
                    .expect("references were checked to be image paths")
            };
            let mut refs = tx.prepare("insert into Refs (referrer, reference) values (?1, ?2)")?;
            for p in &self.paths {
                for r in &p.references {
                    refs.execute(params![id(&p.path), id(r)])?;
                }
            }
        }
        tx.commit()?;
        db.execute_batch("VACUUM;")?;
        db.close().map_err(|(_, e)| e)?;
        Ok(std::fs::read(&file)?)
    }
}

/// Writes the database layer's entries: the store directories, then
/// `nix/var/nix/db/{db.sqlite,schema}` and `nix/var/nix/gcroots/docker/`.
pub fn write<W: io::Write>(tar: &mut LayerTar<W>, db: &NixDb) -> Result<(), LayerError> {
    let sqlite = db.sqlite().map_err(LayerError::NixDb)?;
    tar.store_dirs(STORE_DIR)?;
    for dir in ["nix/var/", "nix/var/nix/", "nix/var/nix/db/"] {
        tar.directory(dir.as_bytes(), DIR_MODE)?;
    }
    tar.contents(b"nix/var/nix/db/db.sqlite", 0o644, &sqlite)?;
    tar.contents(
        b"nix/var/nix/db/schema",
        0o644,
        SCHEMA_VERSION.to_string().as_bytes(),
    )?;
    for dir in ["nix/var/nix/gcroots/", "nix/var/nix/gcroots/docker/"] {
        tar.directory(dir.as_bytes(), DIR_MODE)?;
    }
    let mut roots: Vec<&StorePath> = db.roots.iter().collect();
    roots.sort_by(|a, b| a.base_name().as_bytes().cmp(b.base_name().as_bytes()));
    for root in roots {
        let link = format!("nix/var/nix/gcroots/docker/{}", root.base_name());
        tar.symlink(link.as_bytes(), root.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_planner::{parse_closure, plan_closure, Algorithm, PlanOptions};

    const A: &str = "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-a-1.0";
    const B: &str = "/nix/store/1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b-b-1.0";
    const HASH: &str = "sha256:1i0nsrhhhjmm5xra09828hg7q1wmhqg831fp5490prdcrbx0nvmi";

    fn db(closure: serde_json::Value) -> Result<NixDb, NixDbError> {
        let graph = parse_closure(&closure.to_string(), STORE_DIR).unwrap();
        let plan = plan_closure(&graph, &PlanOptions::new(Algorithm::Popularity, 2)).unwrap();
        NixDb::new(&graph, &plan, 1)
    }

    #[test]
    fn same_closure_same_bytes_and_nix_rows() {
        let closure = serde_json::json!([
            {"path": B, "narSize": 120, "narHash": HASH, "references": [A, B]},
            {"path": A, "narSize": 680, "narHash": HASH, "references": []},
        ]);
        let one = db(closure.clone()).unwrap();
        assert_eq!(one.paths[0].path.as_str(), A);
        assert_eq!(
            one.paths[1]
                .references
                .iter()
                .map(StorePath::as_str)
                .collect::<Vec<_>>(),
            [A, B]
        );
        let bytes = one.sqlite().unwrap();
        assert_eq!(bytes, db(closure).unwrap().sqlite().unwrap());
        assert!(bytes.starts_with(b"SQLite format 3\0"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db.sqlite"), &bytes).unwrap();
        let conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
        let hash: String = conn
            .query_row("select hash from ValidPaths where path = ?1", [A], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(
            hash,
            format!("sha256:{}", HASH.parse::<NarHash>().unwrap().to_hex())
        );
        let refs: i64 = conn
            .query_row("select count(*) from Refs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(refs, 2);
    }

    #[test]
    fn a_path_without_nar_hash_is_named() {
        let err = db(serde_json::json!([
            {"path": A, "narSize": 680, "references": []},
        ]))
        .unwrap_err();
        assert!(err.is_bad_input());
        assert!(err.to_string().starts_with(A), "{err}");
    }
}
