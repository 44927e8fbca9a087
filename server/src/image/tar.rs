//! Deterministic layer tarballs: the same store paths give the same bytes
//! on every machine, in every directory, under any umask or time zone.
//!
//! The rules:
//! - Entries are sorted by path, compared component by component as bytes
//!   (depth first, each directory's names in byte order). This is Rust's
//!   `Path` order, GNU tar's `--sort=name`, and NAR's entry order, so the
//!   NAR hash of each store path is computed in the same pass as its tar.
//! - A store-path layer starts with the store directory's ancestors
//!   (`nix/`, `nix/store/`) as directories with mode 0755.
//! - Every entry has mtime 1 (1970-01-01T00:00:01Z), uid and gid 0, empty
//!   user and group names; modes are the store's (`st_mode & 0o7777`);
//!   then `--perms` rules ([`crate::image::perms`]) may change owners and
//!   modes, the same way on every machine.
//! - Symlinks are stored as symlinks, their targets byte for byte, never
//!   followed. Hard links are stored as regular files (each name gets the
//!   full contents), so no entry depends on which name was seen first.
//! - Names: GNU headers; a path or link target longer than 100 bytes gets a
//!   GNU long-name entry (`././@LongLink`, type `L` or `K`, mode 0644,
//!   mtime 0, as GNU tar writes it). Directories end in `/`.
//! - Devices, fifos and sockets are an error naming the file.
//! - The archive ends with two zero blocks; nothing else is padded.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tar::{EntryType, Header};
use thiserror::Error;

use strata_planner::NarHash;

use crate::image::nar::NarHasher;
use crate::image::perms::{Attributes, Perms};

/// mtime of every entry: 1970-01-01T00:00:01Z, as nixpkgs' dockerTools.
pub const MTIME: u64 = 1;

/// Bytes read from a file at a time.
const COPY_BUFFER: usize = 256 * 1024;

/// Mode of the directory entries a layer makes up (`nix/`, `bin/`, ...).
pub const DIR_MODE: u32 = 0o755;

/// What went wrong writing a layer tar.
#[derive(Debug, Error)]
pub enum TarError {
    /// A file of a kind a layer cannot hold.
    #[error("{path}: a {kind} cannot go into an image layer (only regular files, directories and symlinks)")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What it is: `fifo`, `socket`, `character device`, `block device`.
        kind: &'static str,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// A file's size changed while it was read.
    #[error("{path} changed while it was read (its size was {expected} bytes)")]
    Changed {
        /// The file.
        path: PathBuf,
        /// Its size when the read started.
        expected: u64,
    },
    /// The tar could not be written.
    #[error("writing the layer: {0}")]
    Write(#[source] io::Error),
}

/// A layer tar under construction; see the module docs for its rules.
pub struct LayerTar<W: Write> {
    builder: tar::Builder<W>,
    perms: Option<Arc<Perms>>,
    matched: BTreeSet<usize>,
    buffer: Vec<u8>,
}

impl<W: Write> LayerTar<W> {
    /// An empty layer writing to `out`.
    pub fn new(out: W) -> Self {
        LayerTar {
            builder: tar::Builder::new(out),
            perms: None,
            matched: BTreeSet::new(),
            buffer: Vec::new(),
        }
    }

    /// An empty layer writing to `out`, every entry's owner and mode
    /// passed through `perms`.
    pub fn with_perms(out: W, perms: Arc<Perms>) -> Self {
        LayerTar {
            builder: tar::Builder::new(out),
            perms: (!perms.is_empty()).then_some(perms),
            matched: BTreeSet::new(),
            buffer: Vec::new(),
        }
    }

    /// The indices of the `--perms` rules that matched an entry so far.
    pub fn matched_rules(&self) -> &BTreeSet<usize> {
        &self.matched
    }

    /// The store directory and its ancestors as 0755 directories
    /// (`nix/`, `nix/store/` for `/nix/store`).
    pub fn store_dirs(&mut self, store_dir: &str) -> Result<(), TarError> {
        let mut path = Vec::new();
        for part in store_dir.split('/').filter(|p| !p.is_empty()) {
            path.extend_from_slice(part.as_bytes());
            path.push(b'/');
            self.directory(&path, DIR_MODE)?;
        }
        Ok(())
    }

    /// A store path, read from `fs_path`, at `store_path` (absolute) in the
    /// layer. Returns its NAR hash and size, from the same pass.
    pub fn store_path(
        &mut self,
        store_path: &str,
        fs_path: &Path,
    ) -> Result<(NarHash, u64), TarError> {
        let mut nar = NarHasher::new();
        let mut tar_path = store_path.trim_start_matches('/').as_bytes().to_vec();
        let mut fs_path = fs_path.to_path_buf();
        self.walk(&mut tar_path, &mut fs_path, &mut Some(&mut nar))?;
        Ok(nar.finish())
    }

    /// A file tree read from `fs_path` at `tar_path` (relative, no
    /// trailing `/`), without a NAR hash (the image's own files).
    pub fn tree(&mut self, tar_path: &[u8], fs_path: &Path) -> Result<(), TarError> {
        let mut tar_path = tar_path.to_vec();
        let mut fs_path = fs_path.to_path_buf();
        self.walk(&mut tar_path, &mut fs_path, &mut None)
    }

    /// A directory entry; `tar_path` ends in `/`.
    pub fn directory(&mut self, tar_path: &[u8], mode: u32) -> Result<(), TarError> {
        let header = header(EntryType::Directory, mode, 0);
        self.append(header, tar_path, None, io::empty())
            .map_err(TarError::Write)
    }

    /// A directory entry owned by `uid`:`gid`; `tar_path` ends in `/`.
    pub fn directory_owned(
        &mut self,
        tar_path: &[u8],
        mode: u32,
        uid: u64,
        gid: u64,
    ) -> Result<(), TarError> {
        let mut header = header(EntryType::Directory, mode, 0);
        header.set_uid(uid);
        header.set_gid(gid);
        self.append(header, tar_path, None, io::empty())
            .map_err(TarError::Write)
    }

    /// A regular file holding `bytes` (made up, not read from disk).
    pub fn contents(&mut self, tar_path: &[u8], mode: u32, bytes: &[u8]) -> Result<(), TarError> {
        let header = header(EntryType::Regular, mode, bytes.len() as u64);
        self.append(header, tar_path, None, bytes)
            .map_err(TarError::Write)
    }

    /// A symlink entry (mode 0777) pointing at `target`, stored verbatim.
    pub fn symlink(&mut self, tar_path: &[u8], target: &[u8]) -> Result<(), TarError> {
        let header = header(EntryType::Symlink, 0o777, 0);
        self.append(header, tar_path, Some(target), io::empty())
            .map_err(TarError::Write)
    }

    /// Ends the archive (two zero blocks) and returns the writer.
    pub fn finish(self) -> Result<W, TarError> {
        self.builder.into_inner().map_err(TarError::Write)
    }

    fn walk(
        &mut self,
        tar_path: &mut Vec<u8>,
        fs_path: &mut PathBuf,
        nar: &mut Option<&mut NarHasher>,
    ) -> Result<(), TarError> {
        let read_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TarError::Read { path, source }
        };
        let meta = fs::symlink_metadata(&*fs_path).map_err(read_err(fs_path))?;
        let kind = meta.file_type();
        let mode = meta.permissions().mode() & 0o7777;
        if kind.is_symlink() {
            let target = fs::read_link(&*fs_path).map_err(read_err(fs_path))?;
            let target = target.as_os_str().as_bytes();
            if let Some(nar) = nar {
                nar.symlink(target);
            }
            let header = header(EntryType::Symlink, mode, 0);
            self.append(header, tar_path, Some(target), io::empty())
                .map_err(TarError::Write)
        } else if kind.is_file() {
            self.file(tar_path, fs_path, mode, meta.len(), nar)
        } else if kind.is_dir() {
            tar_path.push(b'/');
            self.directory(tar_path, mode)?;
            tar_path.pop();
            let mut names = fs::read_dir(&*fs_path)
                .and_then(|entries| {
                    entries
                        .map(|e| e.map(|e| e.file_name()))
                        .collect::<io::Result<Vec<_>>>()
                })
                .map_err(read_err(fs_path))?;
            names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            if let Some(nar) = nar {
                nar.begin_directory();
            }
            for name in names {
                let len = tar_path.len();
                tar_path.push(b'/');
                tar_path.extend_from_slice(name.as_bytes());
                fs_path.push(&name);
                if let Some(nar) = nar {
                    nar.begin_entry(name.as_bytes());
                }
                let result = self.walk(tar_path, fs_path, nar);
                fs_path.pop();
                tar_path.truncate(len);
                result?;
                if let Some(nar) = nar {
                    nar.end_entry();
                }
            }
            if let Some(nar) = nar {
                nar.end_directory();
            }
            Ok(())
        } else {
            let kind = if kind.is_fifo() {
                "fifo"
            } else if kind.is_socket() {
                "socket"
            } else if kind.is_char_device() {
                "character device"
            } else if kind.is_block_device() {
                "block device"
            } else {
                "special file"
            };
            Err(TarError::Unsupported {
                path: fs_path.clone(),
                kind,
            })
        }
    }

    fn file(
        &mut self,
        tar_path: &[u8],
        fs_path: &Path,
        mode: u32,
        size: u64,
        nar: &mut Option<&mut NarHasher>,
    ) -> Result<(), TarError> {
        let read_err = |source| TarError::Read {
            path: fs_path.to_path_buf(),
            source,
        };
        let mut file = File::open(fs_path).map_err(read_err)?;
        if let Some(nar) = nar {
            nar.begin_regular(mode & 0o100 != 0, size);
        }
        // The header, then the contents in COPY_BUFFER pieces (tar's own
        // copy reads 8 KiB at a time), then the padding.
        let header = self
            .prepare(header(EntryType::Regular, mode, size), tar_path, None)
            .map_err(TarError::Write)?;
        self.builder
            .append(&header, io::empty())
            .map_err(TarError::Write)?;
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.resize(COPY_BUFFER, 0);
        let mut left = size;
        while left > 0 {
            let want = buffer
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match file.read(&mut buffer[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            if let Some(nar) = nar {
                nar.contents(&buffer[..n]);
            }
            self.builder
                .get_mut()
                .write_all(&buffer[..n])
                .map_err(TarError::Write)?;
            left -= n as u64;
        }
        self.buffer = buffer;
        // Short (the file shrank) or more left (it grew): either way the
        // entry would not match its header.
        let mut probe = [0u8; 1];
        let grew = file.read(&mut probe).map_or(true, |n| n > 0);
        if left != 0 || grew {
            return Err(TarError::Changed {
                path: fs_path.to_path_buf(),
                expected: size,
            });
        }
        let rest = (512 - size % 512) % 512;
        self.builder
            .get_mut()
            .write_all(&[0; 512][..rest as usize])
            .map_err(TarError::Write)?;
        if let Some(nar) = nar {
            nar.end_regular(size);
        }
        Ok(())
    }

    /// Appends an entry, with GNU long-name entries when `path` or `link`
    /// do not fit their 100-byte fields.
    fn append<R: Read>(
        &mut self,
        header: Header,
        path: &[u8],
        link: Option<&[u8]>,
        data: R,
    ) -> io::Result<()> {
        let header = self.prepare(header, path, link)?;
        self.builder.append(&header, data)
    }

    /// Writes the long-name entries `path` and `link` need, and returns
    /// the header with names, `--perms` and checksum set.
    fn prepare(
        &mut self,
        mut header: Header,
        path: &[u8],
        link: Option<&[u8]>,
    ) -> io::Result<Header> {
        let old = header.as_old_mut();
        if path.len() > old.name.len() {
            self.long_name(b'L', path)?;
        }
        let old = header.as_old_mut();
        let n = path.len().min(old.name.len());
        old.name[..n].copy_from_slice(&path[..n]);
        if let Some(link) = link {
            if link.len() > old.linkname.len() {
                self.long_name(b'K', link)?;
            }
            let old = header.as_old_mut();
            let n = link.len().min(old.linkname.len());
            old.linkname[..n].copy_from_slice(&link[..n]);
        }
        if let Some(perms) = &self.perms {
            apply_perms(perms, &mut header, path, &mut self.matched)?;
        }
        header.set_cksum();
        Ok(header)
    }

    fn long_name(&mut self, kind: u8, name: &[u8]) -> io::Result<()> {
        let mut header = Header::new_gnu();
        let label = b"././@LongLink";
        header.as_old_mut().name[..label.len()].copy_from_slice(label);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(name.len() as u64 + 1);
        header.set_entry_type(EntryType::new(kind));
        header.set_cksum();
        self.builder.append(&header, name.chain(&[0u8][..]))
    }
}

/// Passes an entry's owner and mode through the rules; `path` is the
/// entry's tar path (relative, directories ending in `/`).
fn apply_perms(
    perms: &Perms,
    header: &mut Header,
    path: &[u8],
    matched: &mut BTreeSet<usize>,
) -> io::Result<()> {
    let mut absolute = Vec::with_capacity(path.len() + 1);
    absolute.push(b'/');
    absolute.extend_from_slice(path.strip_suffix(b"/").unwrap_or(path));
    let name = |n: io::Result<Option<&str>>| n.ok().flatten().unwrap_or("").to_string();
    let before = Attributes {
        mode: header.mode()? & 0o7777,
        uid: header.uid()?,
        gid: header.gid()?,
        uname: name(header.username().map_err(io::Error::other)),
        gname: name(header.groupname().map_err(io::Error::other)),
    };
    let mut after = before.clone();
    perms.apply(&absolute, &mut after, matched);
    if after != before {
        header.set_mode(after.mode);
        header.set_uid(after.uid);
        header.set_gid(after.gid);
        header.set_username(&after.uname)?;
        header.set_groupname(&after.gname)?;
    }
    Ok(())
}

fn header(kind: EntryType, mode: u32, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(MTIME);
    header.set_size(size);
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("strata-tar-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(tar: &[u8]) -> Vec<(String, EntryType, u32, u64, u64, Option<String>)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                    h.entry_type(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    h.uid().unwrap(),
                    e.link_name_bytes()
                        .map(|l| String::from_utf8(l.into_owned()).unwrap()),
                )
            })
            .collect()
    }

    #[test]
    fn layer_entries_are_sorted_fixed_and_long_names_survive() {
        let root = temp("rules");
        let sp = root.join("p");
        fs::create_dir_all(sp.join("a")).unwrap();
        fs::write(sp.join("a/x"), b"x").unwrap();
        fs::write(sp.join("a-b"), b"ab").unwrap();
        fs::set_permissions(sp.join("a-b"), fs::Permissions::from_mode(0o555)).unwrap();
        let long = "l".repeat(150);
        fs::write(sp.join(&long), b"long").unwrap();
        symlink("a/".to_string() + &"t".repeat(120), sp.join("link")).unwrap();
        fs::hard_link(sp.join("a/x"), sp.join("hard")).unwrap();

        let mut tar = LayerTar::new(Vec::new());
        tar.store_dirs("/nix/store").unwrap();
        let (hash, size) = tar.store_path("/nix/store/abc-p", &sp).unwrap();
        let bytes = tar.finish().unwrap();
        let got = entries(&bytes);
        let names: Vec<_> = got.iter().map(|e| e.0.as_str()).collect();
        let long_path = format!("nix/store/abc-p/{long}");
        assert_eq!(
            names,
            [
                "nix/",
                "nix/store/",
                "nix/store/abc-p/",
                "nix/store/abc-p/a/",
                "nix/store/abc-p/a/x",
                "nix/store/abc-p/a-b",
                "nix/store/abc-p/hard",
                "nix/store/abc-p/link",
                long_path.as_str(),
            ]
        );
        assert!(got.iter().all(|e| e.3 == MTIME && e.4 == 0));
        assert_eq!(got[0].2, 0o755);
        assert_eq!(got[5].2, 0o555);
        assert_eq!(got[6].1, EntryType::Regular, "hard links are plain files");
        assert_eq!(got[7].1, EntryType::Symlink);
        assert_eq!(
            got[7].5.as_deref(),
            Some(format!("a/{}", "t".repeat(120)).as_str())
        );
        // NAR hash from the same pass equals a hash-only pass.
        let mut again = LayerTar::new(io::sink());
        assert_eq!(
            again.store_path("/nix/store/abc-p", &sp).unwrap(),
            (hash, size)
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn nar_hash_of_a_tree_matches_nix() {
        // mkdir -p d/sub; printf hi > d/sub/x; chmod +x d/sub/x;
        // ln -s ../sub/x d/link; nix hash path --base32 d; nix-store --dump d | wc -c
        let root = temp("nar");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/x"), b"hi").unwrap();
        fs::set_permissions(root.join("sub/x"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("../sub/x", root.join("link")).unwrap();
        let mut tar = LayerTar::new(io::sink());
        let (hash, size) = tar.store_path("/nix/store/abc-d", &root).unwrap();
        assert_eq!(
            hash.to_string(),
            "sha256:1i0nsrhhhjmm5xra09828hg7q1wmhqg831fp5490prdcrbx0nvmi"
        );
        assert_eq!(size, 680);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_fifo_is_an_error_naming_it() {
        let root = temp("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status()
            .unwrap();
        assert!(status.success());
        let mut tar = LayerTar::new(io::sink());
        let err = tar.store_path("/nix/store/abc-p", &root).unwrap_err();
        assert!(
            matches!(err, TarError::Unsupported { kind: "fifo", .. }),
            "{err}"
        );
        assert!(err.to_string().contains("pipe"), "{err}");
        fs::remove_dir_all(&root).unwrap();
    }
}
