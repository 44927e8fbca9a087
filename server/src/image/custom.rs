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
//! - Users (`--create-user NAME:UID:GID`, what dockerTools users write by
//!   hand in `fakeRootCommands`): `/etc/passwd` with `root` and each user
//!   (`NAME:x:UID:GID::/home/NAME:/bin/sh`), `/etc/group` with `root` and
//!   one group per new GID (named after its first user), both mode 0644,
//!   and each user's home `/home/NAME`, an empty directory owned by
//!   `UID:GID`, mode 0755. An extra directory that has its own
//!   `etc/passwd` or `etc/group` is an error, not a silent choice.
//!
//! The layer starts, like every layer, with the store directory's
//! ancestors (`nix/`, `nix/store/`, mode 0755; see [`crate::image::tar`]),
//! so that `/nix/store` keeps its mode whichever layer a client unpacks
//! last; an extra directory's own `nix` or `nix/store` do not change them.
//! The other entries follow in the tar module's order (component-wise
//! bytes).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use strata_planner::StorePath;

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
    /// Users in `/etc/passwd` and `/etc/group`, with their homes.
    pub users: Vec<User>,
}

impl Customisation {
    /// Whether there is anything to put in the layer.
    pub fn is_empty(&self) -> bool {
        !self.links && self.extra.is_none() && self.users.is_empty()
    }
}

/// A user to create: `--create-user NAME:UID:GID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name: `[a-z_][a-z0-9_-]*`, at most 32 bytes, not `root`.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// A `--create-user` value that is not `NAME:UID:GID`.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{value:?} is not NAME:UID:GID: {reason}")]
pub struct UserError {
    /// The value given.
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for User {
    type Err = UserError;

    fn from_str(value: &str) -> Result<User, UserError> {
        let err = |reason: String| UserError {
            value: value.to_string(),
            reason,
        };
        let parts: Vec<&str> = value.split(':').collect();
        let [name, uid, gid] = parts[..] else {
            return Err(err(format!("{} fields, not 3", parts.len())));
        };
        let name_ok = !name.is_empty()
            && name.len() <= 32
            && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(err(format!(
                "name {name:?} is not [a-z_][a-z0-9_-]* (at most 32 bytes)"
            )));
        }
        if name == "root" {
            return Err(err("root is always there".to_string()));
        }
        let id = |field: &str, text: &str| {
            text.parse::<u32>().map_err(|_| {
                err(format!(
                    "{field} {text:?} is not a number from 0 to 4294967295"
                ))
            })
        };
        Ok(User {
            name: name.to_string(),
            uid: id("UID", uid)?,
            gid: id("GID", gid)?,
        })
    }
}

enum Entry {
    Dir(u32),
    Link(Vec<u8>),
    /// A file or symlink of the extra directory.
    Copy(PathBuf),
    /// A file made here (`/etc/passwd`), mode 0644.
    Contents(Vec<u8>),
    /// A user's home: mode 0755, owned by (uid, gid).
    Home(u32, u32),
}

type Components = Vec<Vec<u8>>;

/// Writes the customisation layer's entries for `roots` into `tar`.
pub fn write<W: std::io::Write>(
    tar: &mut LayerTar<W>,
    custom: &Customisation,
    roots: &[StorePath],
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
    if !custom.users.is_empty() {
        add_users(&custom.users, &mut entries)?;
    }
    let store_dirs = store_dir_ancestors(&nix.store_dir);
    for dir in &store_dirs {
        if let Some(Entry::Copy(path)) = entries.get(dir) {
            return Err(LayerError::ShadowsStore {
                path: path.clone(),
                at: String::from_utf8_lossy(&dir.join(&b'/')).into_owned(),
            });
        }
    }
    tar.store_dirs(&nix.store_dir)?;
    for (components, entry) in &entries {
        if matches!(entry, Entry::Dir(_)) && store_dirs.contains(components) {
            continue;
        }
        let mut path = components.join(&b'/');
        match entry {
            Entry::Dir(mode) => {
                path.push(b'/');
                tar.directory(&path, *mode)?;
            }
            Entry::Link(target) => tar.symlink(&path, target)?,
            Entry::Copy(fs_path) => tar.tree(&path, fs_path)?,
            Entry::Contents(bytes) => tar.contents(&path, 0o644, bytes)?,
            Entry::Home(uid, gid) => {
                path.push(b'/');
                tar.directory_owned(&path, DIR_MODE, u64::from(*uid), u64::from(*gid))?;
            }
        }
    }
    Ok(())
}

/// `/etc/passwd`, `/etc/group` and the homes of `users`.
fn add_users(users: &[User], entries: &mut BTreeMap<Components, Entry>) -> Result<(), LayerError> {
    let key =
        |parts: &[&str]| -> Components { parts.iter().map(|p| p.as_bytes().to_vec()).collect() };
    for file in ["passwd", "group"] {
        if let Some(Entry::Copy(path)) = entries.get(&key(&["etc", file])) {
            return Err(LayerError::UsersClash { path: path.clone() });
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/sh\n");
    let mut group = String::from("root:x:0:\n");
    let mut gids = std::collections::BTreeSet::from([0]);
    for user in users {
        if !seen.insert(&user.name) {
            return Err(LayerError::DuplicateUser {
                name: user.name.clone(),
            });
        }
        passwd.push_str(&format!(
            "{0}:x:{1}:{2}::/home/{0}:/bin/sh\n",
            user.name, user.uid, user.gid
        ));
        if gids.insert(user.gid) {
            group.push_str(&format!("{}:x:{}:\n", user.name, user.gid));
        }
    }
    entries.entry(key(&["etc"])).or_insert(Entry::Dir(DIR_MODE));
    entries.insert(
        key(&["etc", "passwd"]),
        Entry::Contents(passwd.into_bytes()),
    );
    entries.insert(key(&["etc", "group"]), Entry::Contents(group.into_bytes()));
    entries
        .entry(key(&["home"]))
        .or_insert(Entry::Dir(DIR_MODE));
    for user in users {
        entries.insert(key(&["home", &user.name]), Entry::Home(user.uid, user.gid));
    }
    Ok(())
}

/// `[["nix"], ["nix", "store"]]` for `/nix/store`: the directories
/// [`LayerTar::store_dirs`] writes.
fn store_dir_ancestors(store_dir: &str) -> Vec<Components> {
    let parts: Components = store_dir
        .split('/')
        .filter(|p| !p.is_empty())
        .map(|p| p.as_bytes().to_vec())
        .collect();
    (1..=parts.len()).map(|n| parts[..n].to_vec()).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "/nix/store/0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a-hello-1.0";

    /// A fake store holding ROOT with `bin/hello`, and an extra directory
    /// filled by `extra`.
    fn setup(name: &str, extra: impl FnOnce(&Path)) -> (PathBuf, NixStore, Customisation) {
        let dir = std::env::temp_dir().join(format!("strata-custom-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let bin = dir
            .join("root")
            .join(ROOT.trim_start_matches('/'))
            .join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::write(bin.join("hello"), "#!/bin/sh\n").unwrap();
        fs::create_dir_all(dir.join("extra")).unwrap();
        extra(&dir.join("extra"));
        let nix = NixStore {
            store_dir: "/nix/store".to_string(),
            root: Some(dir.join("root")),
        };
        let custom = Customisation {
            links: true,
            extra: Some(dir.join("extra")),
            users: Vec::new(),
        };
        (dir, nix, custom)
    }

    /// The layer's entries: (path, mode, type).
    fn entries(
        nix: &NixStore,
        custom: &Customisation,
    ) -> Result<Vec<(String, u32, u8)>, LayerError> {
        let mut tar = LayerTar::new(Vec::new());
        write(&mut tar, custom, &[ROOT.parse().unwrap()], nix)?;
        let bytes = tar.finish()?;
        let mut archive = ::tar::Archive::new(bytes.as_slice());
        Ok(archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                (
                    path,
                    e.header().mode().unwrap(),
                    e.header().entry_type().as_byte(),
                )
            })
            .collect())
    }

    #[test]
    fn the_layer_starts_with_the_store_directories_like_every_layer() {
        let (dir, nix, custom) = setup("dirs", |extra| {
            fs::create_dir_all(extra.join("etc")).unwrap();
            fs::write(extra.join("etc/motd"), "hi\n").unwrap();
        });
        let got = entries(&nix, &custom).unwrap();
        let names: Vec<&str> = got.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "nix/",
                "nix/store/",
                "bin/",
                "bin/hello",
                "etc/",
                "etc/motd"
            ]
        );
        for (path, mode, kind) in &got[..2] {
            assert_eq!((*mode, *kind), (DIR_MODE, b'5'), "{path}");
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn extra_store_directories_are_not_repeated_and_keep_mode_0755() {
        let (dir, nix, custom) = setup("nix-in-extra", |extra| {
            let store = extra.join("nix/store");
            fs::create_dir_all(&store).unwrap();
            fs::set_permissions(extra.join("nix"), fs::Permissions::from_mode(0o700)).unwrap();
            fs::write(store.join("note"), "x\n").unwrap();
        });
        let got = entries(&nix, &custom).unwrap();
        let names: Vec<&str> = got.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(
            names,
            ["nix/", "nix/store/", "bin/", "bin/hello", "nix/store/note"]
        );
        assert_eq!(got[0].1, DIR_MODE);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_extra_file_in_place_of_the_store_directory_is_an_error() {
        let (dir, nix, custom) = setup("nix-file", |extra| {
            fs::write(extra.join("nix"), "not a directory\n").unwrap();
        });
        let err = entries(&nix, &custom).unwrap_err();
        assert!(
            matches!(&err, LayerError::ShadowsStore { at, .. } if at == "nix"),
            "{err}"
        );
        assert!(err.is_bad_input());
        assert!(err.to_string().contains("extra/nix"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn users_get_passwd_group_and_a_home_they_own() {
        let (dir, nix, mut custom) = setup("users", |_| {});
        custom.users = vec![
            "app:1000:100".parse().unwrap(),
            "web:1001:100".parse().unwrap(),
        ];
        let mut tar = LayerTar::new(Vec::new());
        write(&mut tar, &custom, &[ROOT.parse().unwrap()], &nix).unwrap();
        let bytes = tar.finish().unwrap();
        let mut archive = ::tar::Archive::new(bytes.as_slice());
        let mut got = BTreeMap::new();
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let owner = (e.header().uid().unwrap(), e.header().gid().unwrap());
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            got.insert(path, (owner, text));
        }
        assert_eq!(
            got["etc/passwd"].1,
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:100::/home/app:/bin/sh\n\
             web:x:1001:100::/home/web:/bin/sh\n"
        );
        assert_eq!(got["etc/group"].1, "root:x:0:\napp:x:100:\n");
        assert_eq!(got["home/app/"].0, (1000, 100));
        assert_eq!(got["home/web/"].0, (1001, 100));
        assert_eq!(got["home/"].0, (0, 0));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_users_are_named() {
        for (value, says) in [
            ("app", "1 fields"),
            ("app:1:2:3", "4 fields"),
            ("App:1:2", "name \"App\""),
            ("app:x:2", "UID \"x\""),
            ("app:1:-2", "GID \"-2\""),
            ("root:0:0", "root"),
        ] {
            let err = value.parse::<User>().unwrap_err().to_string();
            assert!(err.contains(value) && err.contains(says), "{value}: {err}");
        }
    }

    #[test]
    fn an_extra_passwd_and_created_users_clash() {
        let (dir, nix, mut custom) = setup("users-clash", |extra| {
            fs::create_dir_all(extra.join("etc")).unwrap();
            fs::write(extra.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        });
        custom.users = vec!["app:1:1".parse().unwrap()];
        let err = entries(&nix, &custom).unwrap_err();
        assert!(err.is_bad_input());
        assert!(err.to_string().contains("etc/passwd"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
