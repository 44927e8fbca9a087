//! The image's own layer, on top of the store paths: what dockerTools'
//! `contents` and `extraCommands` give.
//!
//! - Links: for each root (in the plan's order) and each of `bin`, `etc`,
//!   `lib`, `share` that it has as a directory, a real directory `/bin`
//!   (and so on, mode 0755) holding one symlink per entry, pointing into the
//!   store (`/bin/hello -> /nix/store/...-hello/bin/hello`). When two roots
//!   have the same entry, the first root wins.
//! - Extra files: a directory whose tree is copied to `/` (modes kept,
//!   owner root); its entries win over links of the same path.
//!
//! Entries are written in the tar module's order (component-wise bytes).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::image::layer::{LayerError, NixStore};
use crate::image::tar::{LayerTar, TarError, DIR_MODE};

/// The directories of a root linked into `/` (as `buildLayeredImage`).
pub const LINKED_DIRS: [&str; 4] = ["bin", "etc", "lib", "share"];

/// What goes into the image's own layer.
#[derive(Debug, Clone, Default)]
pub struct Customisation {
    /// Link the roots' `bin`, `etc`, `lib`, `share` into `/`.
    pub links: bool,
    /// A directory copied to `/`.
    pub extra: Option<PathBuf>,
}

impl Customisation {
    /// Whether there is anything to put in the layer.
    pub fn is_empty(&self) -> bool {
        !self.links && self.extra.is_none()
    }
}

enum Entry {
    Dir(u32),
    Link(Vec<u8>),
    /// A file or symlink of the extra directory.
    Copy(PathBuf),
}

type Components = Vec<Vec<u8>>;

/// Writes the customisation layer's entries for `roots` into `tar`.
pub fn write<W: std::io::Write>(
    tar: &mut LayerTar<W>,
    custom: &Customisation,
    roots: &[String],
    nix: &NixStore,
) -> Result<(), LayerError> {
    let mut entries: BTreeMap<Components, Entry> = BTreeMap::new();
    if custom.links {
        for root in roots {
            let location = nix.locate(root)?;
            for dir in LINKED_DIRS {
                let source = location.join(dir);
                if !source.is_dir() {
                    continue;
                }
                entries
                    .entry(vec![dir.as_bytes().to_vec()])
                    .or_insert(Entry::Dir(DIR_MODE));
                for name in sorted_names(&source)? {
                    let target = format!("{root}/{dir}/").into_bytes();
                    let target = [target, name.clone()].concat();
                    entries
                        .entry(vec![dir.as_bytes().to_vec(), name])
                        .or_insert(Entry::Link(target));
                }
            }
        }
    }
    if let Some(extra) = &custom.extra {
        collect_extra(extra, &mut Vec::new(), &mut entries)?;
    }
    for (components, entry) in &entries {
        let mut path = components.join(&b'/');
        match entry {
            Entry::Dir(mode) => {
                path.push(b'/');
                tar.directory(&path, *mode)?;
            }
            Entry::Link(target) => tar.symlink(&path, target)?,
            Entry::Copy(fs_path) => tar.tree(&path, fs_path)?,
        }
    }
    Ok(())
}

fn sorted_names(dir: &Path) -> Result<Vec<Vec<u8>>, TarError> {
    let read = |source| TarError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.file_name().as_bytes().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    names.sort();
    Ok(names)
}

fn collect_extra(
    dir: &Path,
    prefix: &mut Components,
    entries: &mut BTreeMap<Components, Entry>,
) -> Result<(), TarError> {
    for name in sorted_names(dir)? {
        let fs_path = dir.join(std::ffi::OsStr::from_bytes(&name));
        let meta = fs::symlink_metadata(&fs_path).map_err(|source| TarError::Read {
            path: fs_path.clone(),
            source,
        })?;
        prefix.push(name);
        if meta.is_dir() {
            entries.insert(
                prefix.clone(),
                Entry::Dir(meta.permissions().mode() & 0o7777),
            );
            collect_extra(&fs_path, prefix, entries)?;
        } else {
            // Files, symlinks, and anything else (the tar writer names
            // what it cannot hold). A file replaces a linked directory
            // of the same name, with its links.
            entries.retain(|k, _| !(k.len() > prefix.len() && k.starts_with(prefix)));
            entries.insert(prefix.clone(), Entry::Copy(fs_path));
        }
        prefix.pop();
    }
    Ok(())
}
