//! The fast reading of a valid closure: one pass over the JSON, every
//! store path interned as it is read, into a [`Graph`] with no
//! intermediate entries.
//!
//! Strings are read in place from the text, each path is hashed once and
//! references become numbers straight away, so reading is proportional
//! to the text with small constants: several times faster than reading
//! typed entries with owned strings and resolving references by binary
//! search, on the 63,666-path Debian universe. The hash table holds only
//! string numbers (4 bytes a slot: it stays in cache where a map of
//! strings would not), compared through one compact copy of each distinct
//! string.
//!
//! This pass only accepts input the exact readers ([`super::attrs`],
//! [`super::path_info`] and [`Graph::new`]) accept, and builds the same
//! graph. On anything else (a malformed or unusual entry, a duplicate or
//! missing path, an invalid store path, a cycle) it gives up, and the
//! exact readers run and name the offending input. So it never decides an
//! error, and what it reads is what they would have read.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::BuildHasher as _;

use hashbrown::hash_table::{Entry, HashTable};
use rustc_hash::FxBuildHasher;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::value::RawValue;
use serde_json::Value;

use super::path_info::looks_like_base_name;
use crate::graph::{Graph, Node, NodeId};
use crate::join::{Join, Sequential};
use crate::nar_hash::NarHash;
use crate::store_path::StorePath;
use halves::Halves;

mod halves;

/// [`parse`], a large text read through `join` when it runs two jobs at
/// once: a list as two halves ([`halves`]), and the paths checked and the
/// nodes made in two halves whatever the shape.
pub(super) fn parse_with(text: &str, store_dir: &str, join: &dyn Join) -> Option<Graph> {
    if !in_halves(text, join) {
        return parse(text, store_dir);
    }
    parse_in_halves(text, store_dir, join)
}

/// [`parse_with`] of a text the caller owns: read in halves, the second
/// is not copied ([`halves::read_owned`]); the text is the same after.
pub(super) fn parse_owned_with(
    text: &mut String,
    store_dir: &str,
    join: &dyn Join,
) -> Option<Graph> {
    if !in_halves(text, join) {
        return parse(text, store_dir);
    }
    let halves = halves::read_owned(text, store_dir, join);
    graph_of_halves(halves, text, store_dir, join)
}

/// Whether `text` is read in halves: large, and `join` runs two jobs at
/// once.
fn in_halves(text: &str, join: &dyn Join) -> bool {
    join.at_once() && text.len() >= halves::MIN_BYTES
}

/// [`parse_with`] whatever the text's size.
fn parse_in_halves(text: &str, store_dir: &str, join: &dyn Join) -> Option<Graph> {
    graph_of_halves(halves::read(text, store_dir, join), text, store_dir, join)
}

/// The graph of what the halves read, `text` read whole if they could
/// not.
fn graph_of_halves(
    halves: Halves<'_>,
    text: &str,
    store_dir: &str,
    join: &dyn Join,
) -> Option<Graph> {
    match halves {
        Halves::Read(reader) => reader.into_graph_with(None, join),
        Halves::GiveUp => None,
        Halves::ReadWhole => {
            let mut reader = Reader::new(store_dir, text.len() / 512);
            let roots = read_any(text, &mut reader).ok()?;
            reader.into_graph_with(roots, join)
        }
    }
}

/// Reads `text` (any supported shape) into a graph, or `None` when the
/// exact readers must run (see the module doc).
pub(super) fn parse(text: &str, store_dir: &str) -> Option<Graph> {
    // About 550 bytes of JSON per path in Nix's and the bench kit's
    // closures: the map is sized once, not regrown.
    let mut reader = Reader::new(store_dir, text.len() / 512);
    let roots = read_any(text, &mut reader).ok()?;
    reader.into_graph(roots)
}

/// The paths read so far: each distinct string once, with its number.
struct Reader<'a> {
    store_dir: &'a str,
    /// Every distinct string, numbered in order of first appearance, one
    /// after another: every lookup compares with one, and this compact
    /// copy stays in cache where the strings scattered through the text
    /// would not (a fifth of the reading time on the Debian universe).
    arena: String,
    /// String `id` is `arena[spans[id].0..spans[id].1]`.
    spans: Vec<(usize, usize)>,
    /// The string numbers, hashed by their string.
    table: HashTable<u32>,
    /// Entries in input order.
    entries: Vec<FlatEntry>,
    /// References of all entries, as string numbers, entry after entry.
    references: Vec<u32>,
    /// Whether an entry is being read: an error now came from inside it.
    in_entry: bool,
}

/// One entry; its references are `references[previous end..end]`.
struct FlatEntry {
    path: u32,
    nar_size: u64,
    nar_hash: Option<NarHash>,
    references_end: u32,
}

/// String equality eight bytes at a time: every reference is compared
/// with the string it names, and wasm's `memcmp` goes byte by byte (a
/// quarter of reading a closure in the browser went there).
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let word = |chunk: &[u8]| u64::from_ne_bytes(chunk.try_into().expect("eight bytes"));
    a8.remainder() == b8.remainder() && a8.zip(b8).all(|(x, y)| word(x) == word(y))
}

/// The error that sends the caller to the exact readers; its text is
/// never shown.
fn give_up<E: de::Error>() -> E {
    E::custom("not for the fast reader")
}

impl<'a> Reader<'a> {
    fn new(store_dir: &'a str, paths: usize) -> Self {
        Reader {
            store_dir,
            arena: String::with_capacity(paths * 64),
            spans: Vec::with_capacity(paths),
            table: HashTable::with_capacity(paths),
            entries: Vec::with_capacity(paths),
            references: Vec::with_capacity(paths * 5),
            in_entry: false,
        }
    }

    /// String `id`.
    fn name(&self, id: u32) -> &str {
        let (start, end) = self.spans[id as usize];
        &self.arena[start..end]
    }

    fn intern(&mut self, path: &str) -> u32 {
        let hash = |s: &str| FxBuildHasher.hash_one(s);
        let (arena, spans) = (&self.arena, &self.spans);
        let name = |id: u32| {
            let (start, end) = spans[id as usize];
            &arena[start..end]
        };
        let entry = self
            .table
            .entry(hash(path), |&id| same(name(id), path), |&id| hash(name(id)));
        match entry {
            Entry::Occupied(found) => *found.get(),
            Entry::Vacant(slot) => {
                let id = self.spans.len() as u32;
                slot.insert(id);
                let start = self.arena.len();
                self.arena.push_str(path);
                self.spans.push((start, self.arena.len()));
                id
            }
        }
    }

    /// Adds what `other` read after what this one read, as if one reader
    /// had read both texts in turn.
    fn absorb(&mut self, other: Reader<'_>) {
        let ids: Vec<u32> = (0..other.spans.len() as u32)
            .map(|id| self.intern(other.name(id)))
            .collect();
        let offset = self.references.len() as u32;
        self.references
            .extend(other.references.iter().map(|&r| ids[r as usize]));
        self.entries
            .extend(other.entries.iter().map(|entry| FlatEntry {
                path: ids[entry.path as usize],
                references_end: entry.references_end + offset,
                ..*entry
            }));
    }

    /// The number of a string read before, if it was.
    fn find(&self, path: &str) -> Option<u32> {
        let hash = FxBuildHasher.hash_one(path);
        self.table
            .find(hash, |&id| same(self.name(id), path))
            .copied()
    }

    /// A path-info key or reference: base names are made absolute, as
    /// [`super::path_info::read_object`] does.
    fn absolute<'t>(&self, path: Cow<'t, str>) -> Cow<'t, str> {
        if path.starts_with('/') {
            path
        } else {
            Cow::Owned(format!("{}/{path}", self.store_dir))
        }
    }

    /// Validates what was read and builds the graph, as [`Graph::new`]
    /// would; `None` when it would fail.
    fn into_graph(self, roots: Option<Vec<String>>) -> Option<Graph> {
        self.into_graph_with(roots, &Sequential)
    }

    /// [`Reader::into_graph`], the paths checked and the nodes made in two
    /// halves through `join`.
    fn into_graph_with(self, roots: Option<Vec<String>>, join: &dyn Join) -> Option<Graph> {
        let store_dir = self.store_dir;
        if !store_dir.starts_with('/') || (store_dir.len() > 1 && store_dir.ends_with('/')) {
            return None;
        }
        let names: Vec<&str> = (0..self.spans.len() as u32)
            .map(|id| self.name(id))
            .collect();
        // Every string a path of exactly one entry: no duplicates (merged
        // or refused by the exact reader), no missing references.
        const NONE: u32 = u32::MAX;
        let mut entry_of = vec![NONE; names.len()];
        for (i, entry) in self.entries.iter().enumerate() {
            let slot = &mut entry_of[entry.path as usize];
            if *slot != NONE {
                return None;
            }
            *slot = i as u32;
        }
        if entry_of.contains(&NONE) {
            return None;
        }
        // Valid store paths all start with `store_dir/`, so their order is
        // that of their base names, whose first 16 bytes make a number.
        let validate = |entries: &[FlatEntry]| -> Option<Vec<u32>> {
            entries
                .iter()
                .map(|entry| StorePath::validate(names[entry.path as usize], store_dir).ok())
                .collect()
        };
        let (first, second) = self.entries.split_at(self.entries.len() / 2);
        let (first, second) = join.join(|| validate(first), || validate(second));
        let mut name_starts = first?;
        name_starts.extend(second?);
        let prefix = if store_dir == "/" {
            1
        } else {
            store_dir.len() + 1
        };
        let key = |path: &str| -> u128 {
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&path.as_bytes()[prefix..prefix + 16]);
            u128::from_be_bytes(bytes)
        };
        let mut order: Vec<(u128, u32)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (key(names[e.path as usize]), i as u32))
            .collect();
        order.sort_unstable_by(|(ka, a), (kb, b)| {
            ka.cmp(kb).then_with(|| {
                let path = |i: &u32| names[self.entries[*i as usize].path as usize];
                path(a).cmp(path(b))
            })
        });
        // Node of every string.
        let mut node_of = vec![0u32; names.len()];
        for (node, &(_, i)) in order.iter().enumerate() {
            node_of[self.entries[i as usize].path as usize] = node as u32;
        }
        let mut starts = Vec::with_capacity(self.entries.len());
        let mut start = 0;
        for entry in &self.entries {
            starts.push(start);
            start = entry.references_end as usize;
        }
        let node = |(node, &(_, i)): (usize, &(u128, u32))| {
            let i = i as usize;
            let entry = &self.entries[i];
            let mut self_reference = false;
            let mut references: Vec<NodeId> =
                Vec::with_capacity(entry.references_end as usize - starts[i]);
            for &r in &self.references[starts[i]..entry.references_end as usize] {
                let r = node_of[r as usize] as usize;
                if r == node {
                    self_reference = true;
                } else {
                    references.push(r);
                }
            }
            references.sort_unstable();
            references.dedup();
            let path = names[entry.path as usize];
            Node {
                path: StorePath::validated(path.to_string(), name_starts[i]),
                nar_size: entry.nar_size,
                nar_hash: entry.nar_hash,
                references,
                self_reference,
            }
        };
        let mid = order.len() / 2;
        let (mut nodes, second): (Vec<Node>, Vec<Node>) = join.join(
            || order[..mid].iter().enumerate().map(node).collect(),
            || {
                let second = order[mid..].iter().enumerate();
                second.map(|(k, at)| node((mid + k, at))).collect()
            },
        );
        nodes.extend(second);
        let roots = match roots {
            Some(roots) => {
                let mut ids = Vec::with_capacity(roots.len());
                for root in &roots {
                    let id = self.find(root)?;
                    ids.push(node_of[id as usize] as NodeId);
                }
                ids.sort_unstable();
                ids.dedup();
                Some(ids)
            }
            None => None,
        };
        Graph::from_nodes(nodes, roots, store_dir).ok()
    }
}

/// Any shape: a list of entries, `{"graph": [...]}`, an exportReferencesGraph
/// `.attrs.json` object, or a path-info object. Returns the roots the
/// input names (attrs only).
fn read_any<'a>(text: &'a str, reader: &mut Reader<'a>) -> serde_json::Result<Option<Vec<String>>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let roots = match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            de.deserialize_seq(ListSeed { reader })?;
            None
        }
        Some(b'{') => de.deserialize_map(TopVisitor { reader })?,
        _ => return Err(give_up()),
    };
    de.end()?;
    Ok(roots)
}

/// A string, borrowed from the text when it has no escapes.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The top-level object: path-info when its first key is a path (then all
/// must be), otherwise its members are kept raw for the attrs and
/// `{"graph": ...}` shapes, except a list named `graph` (the name
/// `{"graph": [...]}` and Nix's `exportReferencesGraph.graph` give it),
/// read as it comes.
struct TopVisitor<'r, 'a> {
    reader: &'r mut Reader<'a>,
}

impl<'a> Visitor<'a> for TopVisitor<'_, 'a> {
    type Value = Option<Vec<String>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a closure object")
    }

    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let reader = self.reader;
        let path_like = |k: &str| k.starts_with('/') || looks_like_base_name(k);
        let mut members: BTreeMap<Cow<'a, str>, &'a RawValue> = BTreeMap::new();
        let mut path_info = None;
        let mut graph_read = false;
        while let Some(CowStr(key)) = map.next_key()? {
            let is_path = path_like(&key);
            match *path_info.get_or_insert(is_path) {
                true if is_path => {
                    let path = reader.absolute(key);
                    let path = reader.intern(&path);
                    map.next_value_seed(EntrySeed {
                        reader: &mut *reader,
                        keyed: Some(path),
                    })?;
                }
                true => return Err(give_up()),
                false if key == "graph" => {
                    if graph_read {
                        return Err(give_up());
                    }
                    graph_read = true;
                    map.next_value_seed(ListSeed {
                        reader: &mut *reader,
                    })?;
                }
                false => {
                    let value: &'a RawValue = map.next_value()?;
                    if members.insert(key, value).is_some() {
                        return Err(give_up());
                    }
                }
            }
        }
        match path_info {
            Some(true) => Ok(None),
            Some(false) => read_members(members, graph_read, reader).map_err(|_| give_up()),
            None => Err(give_up()),
        }
    }
}

/// The attrs shape (`exportReferencesGraph` names the lists and their
/// roots) or `{"graph": [...]}`, as [`super::attrs::read_attrs`] and
/// [`super::read_closure`] read them; `graph_read` when the list named
/// `graph` is read already.
fn read_members<'a>(
    mut members: BTreeMap<Cow<'a, str>, &'a RawValue>,
    graph_read: bool,
    reader: &mut Reader<'a>,
) -> serde_json::Result<Option<Vec<String>>> {
    let read_list = |raw: &'a RawValue, reader: &mut Reader<'a>| {
        let mut de = serde_json::Deserializer::from_str(raw.get());
        de.deserialize_seq(ListSeed { reader })?;
        de.end()
    };
    let Some(exports) = members.remove("exportReferencesGraph") else {
        return if graph_read { Ok(None) } else { Err(give_up()) };
    };
    let exports: BTreeMap<String, Value> = serde_json::from_str(exports.get())?;
    // The list named `graph`, read already, must be one of the exports.
    if exports.is_empty() || (graph_read && !exports.contains_key("graph")) {
        return Err(give_up());
    }
    let mut roots = Vec::new();
    for (name, exported) in exports {
        match exported {
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(root) => roots.push(root),
                        _ => return Err(give_up()),
                    }
                }
            }
            Value::String(root) => roots.push(root),
            _ => return Err(give_up()),
        }
        if name == "graph" && graph_read {
            continue;
        }
        let graph = members.get(name.as_str()).ok_or_else(give_up)?;
        read_list(graph, reader)?;
    }
    Ok(Some(roots))
}

/// A list of entries.
struct ListSeed<'r, 'a> {
    reader: &'r mut Reader<'a>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of entries")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while seq
            .next_element_seed(EntrySeed {
                reader: &mut *self.reader,
                keyed: None,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// One entry: `{"path", "narSize", "narHash"?, "closureSize"?,
/// "references"?, "valid"?}`, other fields ignored; `keyed` when the path
/// is the entry's key (path-info), whose `path` field is then ignored.
struct EntrySeed<'r, 'a> {
    reader: &'r mut Reader<'a>,
    keyed: Option<u32>,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.reader.in_entry = true;
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entry")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let reader = self.reader;
        let mut path = self.keyed;
        let mut path_seen = false;
        let mut nar_size = None;
        let mut nar_hash: Option<Option<NarHash>> = None;
        let mut closure_size_seen = false;
        let mut references_seen = false;
        let mut valid_seen = false;
        let keyed = self.keyed.is_some();
        let once = |seen: &mut bool| -> Result<(), M::Error> {
            if std::mem::replace(seen, true) {
                Err(give_up())
            } else {
                Ok(())
            }
        };
        while let Some(CowStr(key)) = map.next_key()? {
            match key.as_ref() {
                "path" => {
                    once(&mut path_seen)?;
                    if keyed {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        let CowStr(p) = map.next_value()?;
                        path = Some(reader.intern(&p));
                    }
                }
                "narSize" => {
                    if nar_size.is_some() {
                        return Err(give_up());
                    }
                    nar_size = Some(map.next_value::<u64>()?);
                }
                "narHash" => {
                    if nar_hash.is_some() {
                        return Err(give_up());
                    }
                    nar_hash = Some(map.next_value::<Option<NarHash>>()?);
                }
                "closureSize" => {
                    once(&mut closure_size_seen)?;
                    map.next_value::<Option<u64>>()?;
                }
                "references" => {
                    once(&mut references_seen)?;
                    map.next_value_seed(ReferencesSeed {
                        reader: &mut *reader,
                        absolute: keyed,
                    })?;
                }
                "valid" => {
                    once(&mut valid_seen)?;
                    if map.next_value::<Option<bool>>()? == Some(false) {
                        return Err(give_up());
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let (Some(path), Some(nar_size)) = (path, nar_size) else {
            return Err(give_up());
        };
        reader.entries.push(FlatEntry {
            path,
            nar_size,
            nar_hash: nar_hash.flatten(),
            references_end: reader.references.len() as u32,
        });
        reader.in_entry = false;
        Ok(())
    }
}

/// An entry's references: a list of paths, or null.
struct ReferencesSeed<'r, 'a> {
    reader: &'r mut Reader<'a>,
    absolute: bool,
}

impl<'de> DeserializeSeed<'de> for ReferencesSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ReferencesSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of paths")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(CowStr(path)) = seq.next_element()? {
            let path = if self.absolute {
                self.reader.absolute(path)
            } else {
                path
            };
            let id = self.reader.intern(&path);
            self.reader.references.push(id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::{parse, parse_in_halves};
    use crate::graph::Graph;
    use crate::input::read_closure;
    use crate::testutil::InTurn;

    const A: &str = "/nix/store/00000000000000000000000000000000-a";
    const B: &str = "/nix/store/11111111111111111111111111111111-b";
    const C: &str = "/nix/store/22222222222222222222222222222222-c";
    const HASH: &str = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";

    fn exact(text: &str) -> Graph {
        let raw = read_closure(text, "/nix/store").unwrap();
        Graph::new(raw.entries, raw.roots, "/nix/store").unwrap()
    }

    fn list() -> String {
        format!(
            r#"[{{"path":"{C}","narSize":3,"references":["{A}","{C}","{B}","{A}"],"deriver":null}},
               {{"path":"{B}","narSize":2,"narHash":"{HASH}","closureSize":9,"references":["{A}"],"valid":true}},
               {{"path":"{A}","narSize":1,"narHash":null,"references":null}}]"#
        )
    }

    #[rstest]
    #[case::list(list())]
    #[case::graph_object(format!(r#"{{"graph": {}}}"#, list()))]
    #[case::graph_object_and_more(format!(r#"{{"x": 1, "graph": {}}}"#, list()))]
    #[case::attrs_graph(format!(
        r#"{{"graph": {}, "exportReferencesGraph": {{"graph": ["{B}"]}}}}"#,
        list()
    ))]
    #[case::attrs_other_name(format!(
        r#"{{"exportReferencesGraph": {{"closure": "{C}"}}, "closure": {}}}"#,
        list()
    ))]
    #[case::escapes(list().replace("/nix/store/2", "\\/nix\\/store\\/2"))]
    #[case::path_info(format!(
        r#"{{"{C}": {{"narSize":3,"references":["{A}","11111111111111111111111111111111-b"],"path":7}},
            "11111111111111111111111111111111-b": {{"narSize":2,"narHash":"{HASH}","references":["{A}"]}},
            "{A}": {{"narSize":1,"references":[],"closureSize":null}}}}"#
    ))]
    #[case::empty("[]".to_string())]
    fn reads_what_the_exact_readers_read(#[case] text: String) {
        let exact = exact(&text);
        let fast = parse(&text, "/nix/store").expect("the fast reader takes it");
        let halves = parse_in_halves(&text, "/nix/store", &InTurn).expect("in halves too");
        for graph in [fast, halves] {
            assert_eq!(graph.nodes(), exact.nodes());
            assert_eq!(graph.roots(), exact.roots());
        }
    }

    #[rstest]
    #[case::duplicate(format!(r#"[{{"path":"{A}","narSize":1}},{{"path":"{A}","narSize":1}}]"#))]
    #[case::missing(format!(r#"[{{"path":"{A}","narSize":1,"references":["{B}"]}}]"#))]
    #[case::invalid(format!(r#"[{{"path":"{A}","narSize":1,"valid":false}}]"#))]
    #[case::float(format!(r#"[{{"path":"{A}","narSize":1.0}}]"#))]
    #[case::empty_hash(format!(r#"[{{"path":"{A}","narSize":1,"narHash":""}}]"#))]
    #[case::bad_path(r#"[{"path":"/nix/store/x","narSize":1}]"#.to_string())]
    #[case::cycle(format!(
        r#"[{{"path":"{A}","narSize":1,"references":["{B}"]}},{{"path":"{B}","narSize":1,"references":["{A}"]}}]"#
    ))]
    #[case::null_path_info(format!(r#"{{"{A}": null}}"#))]
    #[case::attrs_missing_root(format!(
        r#"{{"exportReferencesGraph": {{"graph": ["{B}"]}}, "graph": [{{"path":"{A}","narSize":1}}]}}"#
    ))]
    #[case::attrs_graph_not_exported(format!(
        r#"{{"exportReferencesGraph": {{"x": []}}, "x": [], "graph": [{{"path":"{A}","narSize":1}}]}}"#
    ))]
    #[case::repeated_key(format!(r#"{{"graph": [], "graph": [{{"path":"{A}","narSize":1}}]}}"#))]
    #[case::no_graph(r#"{"other": []}"#.to_string())]
    fn leaves_the_rest_to_the_exact_readers(#[case] text: String) {
        assert!(parse(&text, "/nix/store").is_none());
        assert!(parse_in_halves(&text, "/nix/store", &InTurn).is_none());
    }
}
