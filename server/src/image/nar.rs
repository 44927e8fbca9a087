//! NAR hashes: Nix's `narHash` of a store path, computed here while the
//! path is read for its layer, and the forms a plan may carry it in.
//!
//! A NAR (Nix ARchive) serialises a file tree as a sequence of strings,
//! each a little-endian u64 length, the bytes, then zero padding to a
//! multiple of 8:
//!
//! ```text
//! nar       = "nix-archive-1" node
//! node      = "(" "type" ( regular | symlink | directory ) ")"
//! regular   = "regular" [ "executable" "" ] "contents" CONTENTS
//! symlink   = "symlink" "target" TARGET
//! directory = "directory" { "entry" "(" "name" NAME "node" node ")" }
//! ```
//!
//! Directory entries come sorted by name bytes. `narHash` is the sha256 of
//! those bytes; `narSize` their count. Only the hash is kept here: the NAR
//! itself is never written.
//!
//! The hash is the planner's [`NarHash`], which reads every form Nix
//! prints, so a plan's `narHashes` compare by value with what is computed
//! here.

use sha2::{Digest as _, Sha256};
use strata_planner::NarHash;

/// Streams NAR framing and file contents into sha256, in NAR order.
pub struct NarHasher {
    sha: Sha256,
    size: u64,
}

const PAD: [u8; 8] = [0; 8];

impl NarHasher {
    /// A hasher that has seen the magic `nix-archive-1`.
    pub fn new() -> Self {
        let mut h = NarHasher {
            sha: Sha256::new(),
            size: 0,
        };
        h.string(b"nix-archive-1");
        h
    }

    fn raw(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.size += bytes.len() as u64;
    }

    fn string(&mut self, s: &[u8]) {
        self.raw(&(s.len() as u64).to_le_bytes());
        self.raw(s);
        self.pad(s.len() as u64);
    }

    fn pad(&mut self, len: u64) {
        let rest = (8 - len % 8) % 8;
        self.raw(&PAD[..rest as usize]);
    }

    /// Starts a regular file of `size` bytes; its bytes follow through
    /// [`NarHasher::contents`], then [`NarHasher::end_regular`].
    pub fn begin_regular(&mut self, executable: bool, size: u64) {
        self.string(b"(");
        self.string(b"type");
        self.string(b"regular");
        if executable {
            self.string(b"executable");
            self.string(b"");
        }
        self.string(b"contents");
        self.raw(&size.to_le_bytes());
    }

    /// Some of the current regular file's bytes.
    pub fn contents(&mut self, bytes: &[u8]) {
        self.raw(bytes);
    }

    /// Ends a regular file of `size` bytes.
    pub fn end_regular(&mut self, size: u64) {
        self.pad(size);
        self.string(b")");
    }

    /// A whole symlink node.
    pub fn symlink(&mut self, target: &[u8]) {
        self.string(b"(");
        self.string(b"type");
        self.string(b"symlink");
        self.string(b"target");
        self.string(target);
        self.string(b")");
    }

    /// Starts a directory node; entries follow in name order.
    pub fn begin_directory(&mut self) {
        self.string(b"(");
        self.string(b"type");
        self.string(b"directory");
    }

    /// Starts the entry `name` of the current directory; its node follows.
    pub fn begin_entry(&mut self, name: &[u8]) {
        self.string(b"entry");
        self.string(b"(");
        self.string(b"name");
        self.string(name);
        self.string(b"node");
    }

    /// Ends a directory entry.
    pub fn end_entry(&mut self) {
        self.string(b")");
    }

    /// Ends a directory node.
    pub fn end_directory(&mut self) {
        self.string(b")");
    }

    /// The NAR's hash and size.
    pub fn finish(self) -> (NarHash, u64) {
        (NarHash(self.sha.finalize().into()), self.size)
    }
}

impl Default for NarHasher {
    fn default() -> Self {
        NarHasher::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nar_of_a_small_file_matches_nix() {
        // `printf hello > f; nix-store --dump f | sha256sum` and `| wc -c`.
        let mut h = NarHasher::new();
        h.begin_regular(false, 5);
        h.contents(b"hello");
        h.end_regular(5);
        let (hash, size) = h.finish();
        assert_eq!(size, 120);
        assert_eq!(
            hash.to_string(),
            "sha256:0sg9f58l1jj88w6pdrfdpj5x9b1zrwszk84j81zvby36q9whhhqa"
        );
    }
}
