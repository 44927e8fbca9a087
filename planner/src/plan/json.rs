//! A plan's canonical bytes, written directly: serde_json's pretty form
//! (two-space indent, `"key": value`, `[]` for an empty list), field for
//! field as `Plan`'s serde attributes give it. A plan is mostly thousands
//! of paths, sizes and hashes; serde's generic path took 23 ms for the
//! Debian universe's 13 MB, this a few. The tests check the bytes against
//! serde_json's on random plans, so the two cannot drift apart unnoticed.

use std::io::{self, Write};

use super::{AlgorithmInfo, Layer, Plan};
use crate::store_path::StorePath;

/// Bytes gathered before they go to the writer.
const CHUNK: usize = 64 * 1024;

/// Writes `plan` as `serde_json::to_writer_pretty` would.
pub(super) fn write_plan(plan: &Plan, out: impl Write) -> io::Result<()> {
    let mut json = Json {
        buf: Vec::with_capacity(CHUNK + 1024),
        out,
    };
    json.field(0, "version", true)?;
    json.number(u64::from(plan.version));
    json.field(0, "algorithm", false)?;
    json.algorithm(1, &plan.algorithm)?;
    json.field(0, "roots", false)?;
    json.paths(1, &plan.roots)?;
    json.field(0, "layers", false)?;
    json.list(1, &plan.layers, |json, layer| json.layer(2, layer))?;
    json.field(0, "size", false)?;
    json.number(plan.size);
    json.close(0, b'}');
    json.out.write_all(&json.buf)
}

/// The text made so far and where it goes.
struct Json<W> {
    buf: Vec<u8>,
    out: W,
}

impl<W: Write> Json<W> {
    /// Hands the text on once a chunk of it is made.
    fn spill(&mut self) -> io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn newline(&mut self, level: usize) {
        self.buf.push(b'\n');
        for _ in 0..level {
            self.buf.extend_from_slice(b"  ");
        }
    }

    /// A field's key in an object at `level`, the object opened before its
    /// `first` (every object here has one field it always writes first).
    fn field(&mut self, level: usize, key: &str, first: bool) -> io::Result<()> {
        self.buf.push(if first { b'{' } else { b',' });
        self.newline(level + 1);
        self.string(key);
        self.buf.extend_from_slice(b": ");
        self.spill()
    }

    /// Ends an object or a list at `level` with `bracket`.
    fn close(&mut self, level: usize, bracket: u8) {
        self.newline(level);
        self.buf.push(bracket);
    }

    /// A list at `level`, `[]` when empty.
    fn list<T>(
        &mut self,
        level: usize,
        items: &[T],
        mut item: impl FnMut(&mut Self, &T) -> io::Result<()>,
    ) -> io::Result<()> {
        if items.is_empty() {
            self.buf.extend_from_slice(b"[]");
            return Ok(());
        }
        for (i, value) in items.iter().enumerate() {
            self.buf.push(if i == 0 { b'[' } else { b',' });
            self.newline(level + 1);
            item(self, value)?;
            self.spill()?;
        }
        self.close(level, b']');
        Ok(())
    }

    fn paths(&mut self, level: usize, paths: &[StorePath]) -> io::Result<()> {
        self.list(level, paths, |json, path| {
            // A store path's hash and name hold no byte JSON escapes:
            // only its store directory is looked at.
            match needs_escape(path.store_dir()) {
                true => json.string(path.as_str()),
                false => json.verbatim(path.as_bytes()),
            }
            Ok(())
        })
    }

    fn algorithm(&mut self, level: usize, info: &AlgorithmInfo) -> io::Result<()> {
        self.field(level, "name", true)?;
        self.string(info.name.name());
        self.field(level, "budget", false)?;
        self.number(info.budget as u64);
        if !info.pins.is_empty() {
            self.field(level, "pins", false)?;
            self.paths(level + 1, &info.pins)?;
        }
        if !info.excludes.is_empty() {
            self.field(level, "excludes", false)?;
            self.paths(level + 1, &info.excludes)?;
        }
        if info.previous {
            self.field(level, "previous", false)?;
            self.buf.extend_from_slice(b"true");
        }
        if let Some(plans) = info.fleet {
            self.field(level, "fleet", false)?;
            self.number(plans as u64);
        }
        self.close(level, b'}');
        Ok(())
    }

    fn layer(&mut self, level: usize, layer: &Layer) -> io::Result<()> {
        self.field(level, "paths", true)?;
        self.paths(level + 1, &layer.paths)?;
        self.field(level, "size", false)?;
        self.number(layer.size);
        if !layer.nar_sizes.is_empty() {
            self.field(level, "narSizes", false)?;
            self.list(level + 1, &layer.nar_sizes, |json, &size| {
                json.number(size);
                Ok(())
            })?;
        }
        if !layer.nar_hashes.is_empty() {
            self.field(level, "narHashes", false)?;
            self.list(level + 1, &layer.nar_hashes, |json, hash| {
                json.verbatim(&hash.text());
                Ok(())
            })?;
        }
        if layer.base {
            self.field(level, "base", false)?;
            self.buf.extend_from_slice(b"true");
        }
        self.close(level, b'}');
        Ok(())
    }

    fn number(&mut self, n: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A string, escaped as serde_json escapes (store paths need it only
    /// when their store directory does).
    fn string(&mut self, s: &str) {
        match needs_escape(s) {
            true => serde_json::to_writer(&mut self.buf, s).expect("a Vec takes every write"),
            false => self.verbatim(s.as_bytes()),
        }
    }

    /// A string that needs no escapes, in quotes.
    fn verbatim(&mut self, s: &[u8]) {
        self.buf.push(b'"');
        self.buf.extend_from_slice(s);
        self.buf.push(b'"');
    }
}

/// Whether serde_json escapes a byte of `s` (controls, quote, backslash).
fn needs_escape(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::algorithms::Algorithm;
    use crate::nar_hash::NarHash;

    /// Store directories, some needing escapes or not ASCII.
    const STORE_DIRS: [&str; 5] = [
        "/nix/store",
        "/",
        "/a \"q\" dir",
        "/back\\slash\n",
        "/é\u{1}",
    ];

    fn path(store_dir: &str, i: u64) -> StorePath {
        let base = format!("{:032}-name-{i}", i % 1000).replace('0', "a");
        let path = match store_dir {
            "/" => format!("/{base}"),
            dir => format!("{dir}/{base}"),
        };
        StorePath::parse(&path, store_dir).expect("a valid test path")
    }

    fn plan() -> impl Strategy<Value = Plan> {
        let layer = (
            proptest::collection::vec(any::<u64>(), 0..4),
            any::<u64>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        );
        (
            0..STORE_DIRS.len(),
            0..Algorithm::ALL.len(),
            any::<usize>(),
            proptest::collection::vec(any::<u64>(), 0..3),
            proptest::collection::vec(any::<u64>(), 0..3),
            any::<bool>(),
            proptest::option::of(any::<usize>()),
            proptest::collection::vec(any::<u64>(), 0..3),
            proptest::collection::vec(layer, 0..4),
            any::<u64>(),
        )
            .prop_map(
                |(dir, algorithm, budget, pins, excludes, previous, fleet, roots, layers, size)| {
                    let dir = STORE_DIRS[dir];
                    let paths = |ids: &[u64]| ids.iter().map(|&i| path(dir, i)).collect();
                    Plan {
                        version: 1,
                        algorithm: AlgorithmInfo {
                            name: Algorithm::ALL[algorithm],
                            budget,
                            pins: paths(&pins),
                            excludes: paths(&excludes),
                            previous,
                            fleet,
                        },
                        roots: paths(&roots),
                        layers: layers
                            .into_iter()
                            .map(|(ids, size, sizes, hashes, base)| Layer {
                                paths: paths(&ids),
                                size,
                                nar_sizes: match sizes {
                                    true => ids.clone(),
                                    false => Vec::new(),
                                },
                                nar_hashes: match hashes {
                                    true => ids.iter().map(|&i| NarHash([i as u8; 32])).collect(),
                                    false => Vec::new(),
                                },
                                base,
                            })
                            .collect(),
                        size,
                    }
                },
            )
    }

    proptest! {
        /// Byte for byte what serde_json writes for the plan's serde form.
        #[test]
        fn the_bytes_are_serde_jsons(plan in plan()) {
            let mut ours = Vec::new();
            write_plan(&plan, &mut ours).unwrap();
            let theirs = serde_json::to_vec_pretty(&plan).unwrap();
            prop_assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(theirs).unwrap());
        }
    }

    #[test]
    fn a_plan_larger_than_a_chunk_is_written_whole() {
        let paths: Vec<StorePath> = (0..5000).map(|i| path("/nix/store", i)).collect();
        let plan = Plan {
            version: 1,
            algorithm: AlgorithmInfo {
                name: Algorithm::Fleet,
                budget: 1,
                pins: Vec::new(),
                excludes: Vec::new(),
                previous: false,
                fleet: None,
            },
            roots: paths[..1].to_vec(),
            layers: vec![Layer {
                nar_sizes: vec![7; paths.len()],
                nar_hashes: vec![NarHash([9; 32]); paths.len()],
                size: 7 * paths.len() as u64,
                paths,
                base: false,
            }],
            size: 35_000,
        };
        let mut ours = Vec::new();
        write_plan(&plan, &mut ours).unwrap();
        assert!(ours.len() > 4 * CHUNK);
        assert_eq!(ours, serde_json::to_vec_pretty(&plan).unwrap());
    }
}
