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
//! Hash forms accepted (all sha256): `sha256:<52 nix-base32>` (what
//! `exportReferencesGraph` writes), `sha256:<64 hex>`, and SRI
//! `sha256-<base64>` (what `nix path-info --json` prints).

use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::image::digest::{decode_hex, Sha256Digest};

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
        (NarHash(Sha256Digest(self.sha.finalize().into())), self.size)
    }
}

impl Default for NarHasher {
    fn default() -> Self {
        NarHasher::new()
    }
}

/// A store path's NAR hash (sha256). Displays as Nix does in
/// `exportReferencesGraph`: `sha256:<nix-base32>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NarHash(pub Sha256Digest);

impl NarHash {
    /// Parses any of the accepted forms (see the module docs).
    pub fn parse(text: &str) -> Option<NarHash> {
        let bytes = if let Some(rest) = text.strip_prefix("sha256:") {
            match rest.len() {
                52 => nix_base32_decode(rest)?,
                64 => decode_hex(rest)?,
                _ => decode_base64(rest)?,
            }
        } else {
            decode_base64(text.strip_prefix("sha256-")?)?
        };
        Some(NarHash(Sha256Digest(bytes)))
    }

    /// `sha256-<base64>`, as `nix path-info --json` prints.
    pub fn sri(&self) -> String {
        format!("sha256-{}", encode_base64(&self.0 .0))
    }
}

impl fmt::Display for NarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", nix_base32_encode(&self.0 .0))
    }
}

impl fmt::Debug for NarHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Nix's base32 alphabet (no e, o, u, t).
const NIX32: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Nix's base32: the bytes read as one little-endian number, written most
/// significant digit first (Nix's `printHash32`).
pub fn nix_base32_encode(bytes: &[u8]) -> String {
    let len = (bytes.len() * 8).div_ceil(5);
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let (i, j) = (b / 8, b % 8);
        let low = u16::from(bytes[i]) >> j;
        let high = bytes.get(i + 1).map_or(0, |&x| u16::from(x) << (8 - j));
        out.push(char::from(NIX32[usize::from((low | high) & 0x1f)]));
    }
    out
}

fn nix_base32_decode(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    for (n, c) in text.bytes().rev().enumerate() {
        let digit = NIX32.iter().position(|&a| a == c)? as u16;
        let b = n * 5;
        let (i, j) = (b / 8, b % 8);
        out[i] |= (digit << j) as u8;
        let carry = (digit << j) >> 8;
        if i + 1 < 32 {
            out[i + 1] |= carry as u8;
        } else if carry != 0 {
            return None;
        }
    }
    Some(out)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn decode_base64(text: &str) -> Option<[u8; 32]> {
    let text = text.trim_end_matches('=');
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(32);
    for c in text.bytes() {
        let v = BASE64.iter().position(|&a| a == c)? as u32;
        bits = bits << 6 | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    out.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `nix hash to-base32` / `to-sri` of the same sha256 (the empty string).
    const EMPTY_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const EMPTY_NIX32: &str = "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
    const EMPTY_SRI: &str = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    #[test]
    fn hash_forms_agree() {
        let hex = NarHash::parse(&format!("sha256:{EMPTY_HEX}")).unwrap();
        let nix32 = NarHash::parse(&format!("sha256:{EMPTY_NIX32}")).unwrap();
        let sri = NarHash::parse(EMPTY_SRI).unwrap();
        assert_eq!(hex, nix32);
        assert_eq!(hex, sri);
        assert_eq!(hex.to_string(), format!("sha256:{EMPTY_NIX32}"));
        assert_eq!(hex.sri(), EMPTY_SRI);
        assert!(NarHash::parse("sha256:nope").is_none());
        assert!(NarHash::parse("md5-abc").is_none());
    }

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
