//! A large list of entries read as two halves at once.
//!
//! The list is cut after an entry's closing `}` near its middle; the first
//! half is read as it lies in the text (the reader stops at its end, where
//! it expects a `,` or `]`), the second with a `[` put before it (in a
//! copy, or, in a text the caller owns, in place of the `,` or space just
//! before it, put back after). The cut
//! is only trusted when the second half reads as one complete list and
//! the first half ends between two entries: had the cut fallen inside an
//! entry, a nested value or a string of a valid text, `[` and the rest of
//! the text would close more brackets than they open, or have a string
//! left open, and not be one list; and a text that is not valid (cut
//! short, say) could still end in a list, so the first half must end
//! where a list's next entry would start, not inside one. When the cut is
//! not trusted, the caller reads the text whole, so a cut never changes
//! what is read.

use serde::de::DeserializeSeed as _;
use serde_json::error::Category;

use super::{ListSeed, Reader};
use crate::join::Join;

/// Texts shorter than this are read whole: in a fresh process the second
/// thread, the copy of the second half and the fresh pages they touch
/// cost about what they save up to here (measured with `strata plan`:
/// 5,000 and 10,000 Debian paths, 2.6 and 5.6 MB, read faster whole;
/// 20,000, 11 MB, and the universe, 35 MB, in halves).
pub(super) const MIN_BYTES: usize = 8 << 20;

/// What reading the halves found.
pub(super) enum Halves<'s> {
    /// Both halves read: the reader of the whole list.
    Read(Reader<'s>),
    /// An entry of the first half is not for the fast reader (reading the
    /// whole meets it after the same text).
    GiveUp,
    /// The text is not one list cut in two here: read it whole.
    ReadWhole,
}

/// `text` as a list of entries, `[...]` or `{"graph": [...]}` with
/// nothing else, read in two halves through `join`.
pub(super) fn read<'s>(text: &str, store_dir: &'s str, join: &dyn Join) -> Halves<'s> {
    let Some(list) = whole_list(text) else {
        return Halves::ReadWhole;
    };
    match cut(list, list.len() / 2) {
        Some(at) => read_cut(list, at, store_dir, join),
        None => Halves::ReadWhole,
    }
}

/// [`read`] of a text the caller owns: while the halves are read, the
/// byte before the second half (a `,` or a space) is a `[`, so the second
/// half is read where it lies rather than from a copy (on the 35 MB
/// universe the copy takes 10-15 ms, in the second half's way); the byte
/// is put back before this returns.
pub(super) fn read_owned<'s>(text: &mut String, store_dir: &'s str, join: &dyn Join) -> Halves<'s> {
    let Some(list) = whole_list(text) else {
        return Halves::ReadWhole;
    };
    // Where `list` lies in `text` (it is a part of it).
    let start = list.as_ptr() as usize - text.as_ptr() as usize;
    let (end, list_len) = (start + list.len(), list.len());
    let Some((first_end, second_start)) = cut(list, list.len() / 2) else {
        return Halves::ReadWhole;
    };
    let mark = start + second_start - 1;
    let original = char::from(text.as_bytes()[mark]);
    debug_assert!(original == ',' || json_space(original));
    text.replace_range(mark..=mark, "[");
    let halves = read_both(
        &text[start..start + first_end],
        list_len,
        || read_list(&text[mark..end], store_dir),
        store_dir,
        join,
    );
    text.replace_range(mark..=mark, original.encode_utf8(&mut [0; 4]));
    halves
}

/// `list` read as the two halves either side of `(first_end, second_start)`.
fn read_cut<'s>(
    list: &str,
    (first_end, second_start): (usize, usize),
    store_dir: &'s str,
    join: &dyn Join,
) -> Halves<'s> {
    let second = &list[second_start..];
    read_both(
        &list[..first_end],
        list.len(),
        || read_second(second, store_dir),
        store_dir,
        join,
    )
}

/// The first half (of a list of `list_len` bytes) and the second, read
/// by `read_second`, side by side through `join`, as one reader.
fn read_both<'s>(
    first: &str,
    list_len: usize,
    read_second: impl FnOnce() -> Option<Reader<'s>> + Send,
    store_dir: &'s str,
    join: &dyn Join,
) -> Halves<'s> {
    let (first, second) = join.join(|| read_first(first, list_len, store_dir), read_second);
    match (first, second) {
        (First::Read(mut reader), Some(second)) => {
            reader.absorb(second);
            Halves::Read(reader)
        }
        // Reading the whole meets the same entry after the same text.
        (First::GiveUp, _) => Halves::GiveUp,
        _ => Halves::ReadWhole,
    }
}

/// JSON's whitespace (not Unicode's: a text padded otherwise is invalid).
fn json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The list that is the whole of `text`: the text itself, or the value of
/// `graph` in an object with that one key.
fn whole_list(text: &str) -> Option<&str> {
    let text = text.trim_matches(json_space);
    if text.starts_with('[') {
        return Some(text);
    }
    let inner = text
        .strip_prefix('{')?
        .strip_suffix('}')?
        .trim_matches(json_space);
    let value = inner
        .strip_prefix("\"graph\"")?
        .trim_start_matches(json_space)
        .strip_prefix(':')?
        .trim_start_matches(json_space);
    value.starts_with('[').then_some(value)
}

/// Where to cut `list`: the end of its first half (after a `}`) and the
/// start of its second (a `{`), with only a `,` and whitespace between,
/// the first such place from byte `from` on.
fn cut(list: &str, mut from: usize) -> Option<(usize, usize)> {
    let bytes = list.as_bytes();
    while let Some(found) = list[from..].find('}') {
        let close = from + found;
        let mut at = close + 1;
        let skip = |at: &mut usize| {
            while bytes.get(*at).is_some_and(|&b| json_space(b as char)) {
                *at += 1;
            }
        };
        skip(&mut at);
        if bytes.get(at) == Some(&b',') {
            at += 1;
            skip(&mut at);
            if bytes.get(at) == Some(&b'{') {
                return Some((close + 1, at));
            }
        }
        from = close + 1;
    }
    None
}

/// How the first half read.
enum First<'s> {
    /// Every entry up to the cut.
    Read(Reader<'s>),
    /// An entry the fast reader does not take.
    GiveUp,
    /// Not the start of a list ending at the cut.
    NotAList,
}

/// The first half: `[` and entries, the list left open at the cut. The
/// text must end between two entries: ending inside one (in a string or
/// a nested list left open by a wrong cut) is not a first half. Its
/// reader is sized for the whole list (`list_len` bytes): it takes in the
/// second half's paths after, and growing its table then would hash every
/// path once more.
fn read_first<'s>(first: &str, list_len: usize, store_dir: &'s str) -> First<'s> {
    let mut reader = Reader::new(store_dir, list_len / 512);
    let mut de = serde_json::Deserializer::from_str(first);
    match (ListSeed {
        reader: &mut reader,
    })
    .deserialize(&mut de)
    {
        // At the end of the text between two entries, not inside one.
        Err(e) if e.classify() == Category::Eof && !reader.in_entry => First::Read(reader),
        Err(e) if e.classify() == Category::Data => First::GiveUp,
        _ => First::NotAList,
    }
}

/// The second half, `[` put before it (in a copy): a whole list, or
/// `None`.
fn read_second<'s>(second: &str, store_dir: &'s str) -> Option<Reader<'s>> {
    let mut text = String::with_capacity(second.len() + 1);
    text.push('[');
    text.push_str(second);
    read_list(&text, store_dir)
}

/// `text` as one whole list, or `None`.
fn read_list<'s>(text: &str, store_dir: &'s str) -> Option<Reader<'s>> {
    let mut reader = Reader::new(store_dir, text.len() / 512);
    let mut de = serde_json::Deserializer::from_str(text);
    ListSeed {
        reader: &mut reader,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .ok()?;
    Some(reader)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::graph::Graph;
    use crate::testutil::{indexed_path, InTurn};

    /// What the halves make of `text`: `Some(graph or None)` when they
    /// decided, `None` when the text is to be read whole.
    fn by_halves(text: &str) -> Option<Option<Graph>> {
        match read(text, "/nix/store", &InTurn) {
            Halves::Read(reader) => Some(reader.into_graph(None)),
            Halves::GiveUp => Some(None),
            Halves::ReadWhole => None,
        }
    }

    /// Reading a text the caller owns decides as reading a shared one, and
    /// leaves the text as it was.
    fn by_owned_halves_agree(text: &str) {
        let mut owned = text.to_string();
        let shared = by_halves(text);
        let by_owned = match read_owned(&mut owned, "/nix/store", &InTurn) {
            Halves::Read(reader) => Some(reader.into_graph(None)),
            Halves::GiveUp => Some(None),
            Halves::ReadWhole => None,
        };
        assert_eq!(owned, text);
        match (&shared, &by_owned) {
            (Some(a), Some(b)) => assert!(same(a, b), "{text}"),
            (None, None) => {}
            _ => panic!("one read whole, one in halves: {text}"),
        }
    }

    /// An entry for path `i` referencing `refs`, with `extra` fields.
    fn entry(i: usize, refs: &[usize], extra: &str) -> String {
        let refs: Vec<String> = refs
            .iter()
            .map(|&r| format!("\"{}\"", indexed_path(r)))
            .collect();
        format!(
            r#"{{"path": "{}", "narSize": {}, "references": [{}]{extra}}}"#,
            indexed_path(i),
            i + 1,
            refs.join(", ")
        )
    }

    /// Entries `0..n`, each referencing a few earlier ones.
    fn entries(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                entry(
                    i,
                    &[i / 2, i / 3].map(|r| r.min(i.saturating_sub(1)))[..i.min(2)],
                    "",
                )
            })
            .collect()
    }

    fn same(a: &Option<Graph>, b: &Option<Graph>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => a.nodes() == b.nodes() && a.roots() == b.roots(),
            (None, None) => true,
            _ => false,
        }
    }

    #[test]
    fn a_list_and_a_graph_object_are_read_in_halves_as_whole() {
        let list = format!("[{}]", entries(40).join(",\n "));
        let compact = list
            .replace(",\n ", ",")
            .replace(": ", ":")
            .replace(", ", ",");
        for text in [
            list.clone(),
            compact.clone(),
            format!("  {{ \"graph\" :\n{list} }}\n"),
            format!("{{\"graph\":{compact}}}"),
        ] {
            let halves = by_halves(&text).expect("cut at an entry");
            let whole = super::super::parse(&text, "/nix/store");
            assert!(whole.is_some());
            assert!(same(&halves, &whole), "{text}");
            by_owned_halves_agree(&text);
        }
    }

    /// Every cut from every byte on: `(cuts that held, cuts refused)`,
    /// each held one agreeing with reading the whole.
    fn every_cut(text: &str) -> (usize, usize) {
        let whole = super::super::parse(text, "/nix/store");
        let Some(list) = whole_list(text) else {
            return (0, 0);
        };
        let (mut held, mut refused) = (0, 0);
        let mut cuts: Vec<(usize, usize)> =
            (0..list.len()).filter_map(|from| cut(list, from)).collect();
        cuts.dedup();
        for at in cuts {
            match read_cut(list, at, "/nix/store", &InTurn) {
                Halves::Read(reader) => {
                    assert!(
                        same(&reader.into_graph(None), &whole),
                        "cut at {at:?}: {text}"
                    );
                    held += 1;
                }
                Halves::GiveUp => {
                    assert!(whole.is_none(), "cut at {at:?}: {text}");
                    held += 1;
                }
                Halves::ReadWhole => refused += 1,
            }
        }
        (held, refused)
    }

    #[test]
    fn a_cut_inside_an_entry_or_a_string_is_not_trusted() {
        let mut all = entries(6);
        // Entry 3 holds what looks like a cut, three times over.
        all[3] = entry(
            3,
            &[1],
            r#", "x": [{"a": 1}, {"b": 2}], "note": "}, {", "y": [{}, {}]"#,
        );
        for gap in [", ", ","] {
            let text = format!("[{}]", all.join(gap));
            // Five cuts between entries hold; the three inside entry 3 do not.
            assert_eq!(every_cut(&text), (5, 3), "{text}");
        }
    }

    #[test]
    fn another_key_beside_graph_reads_whole() {
        let list = format!("[{}]", entries(30).join(", "));
        assert!(by_halves(&format!(r#"{{"graph": {list}, "x": 1}}"#)).is_none());
        assert!(by_halves(&format!(r#"{{"x": 1, "graph": {list}}}"#)).is_none());
    }

    #[test]
    fn an_entry_the_fast_reader_refuses_gives_up_in_either_half() {
        let mut all = entries(30);
        all[3] = entry(3, &[], r#", "valid": false"#);
        assert!(matches!(
            by_halves(&format!("[{}]", all.join(", "))),
            Some(None)
        ));
        let mut all = entries(30);
        all[27] = entry(27, &[], r#", "valid": false"#);
        // The second half gives up: the cut is not known to hold, so the
        // text is read whole (where the same entry gives up).
        assert!(by_halves(&format!("[{}]", all.join(", "))).is_none());
    }

    proptest! {
        /// Whatever the entries hold, wherever the cut falls and whether
        /// the text is valid, the halves decide as reading the whole does.
        #[test]
        fn halves_agree_with_the_whole(
            n in 2usize..40,
            extras in proptest::collection::vec(0usize..8, 40),
            spaces in proptest::collection::vec(0usize..3, 40),
            duplicate in proptest::option::of(0usize..40),
            truncate in proptest::option::of(0usize..4000),
        ) {
            let extra = [
                "",
                r#", "x": [{"a": 1}, {"b": 2}]"#,
                r#", "note": "}, {\"path\": 1}""#,
                r#", "deep": {"a": [{"b": {}}, {"c": []}]}"#,
                r#", "valid": false"#,
                r#", "narHash": null"#,
                r#", "x": "}, {"#,
                r#", "x": "}, {""#,
            ];
            let gap = [",", ", ", ",\n  "];
            let mut text = String::from("[");
            for i in 0..n {
                if i > 0 {
                    text.push_str(gap[spaces[i]]);
                }
                let id = match duplicate {
                    Some(d) if d == i && i > 0 => i - 1,
                    _ => i,
                };
                let refs: Vec<usize> = (0..i).filter(|r| r % 3 == i % 3).take(2).collect();
                text.push_str(&entry(id, &refs, extra[extras[i]]));
            }
            text.push(']');
            if let Some(len) = truncate {
                let mut len = len.min(text.len());
                while !text.is_char_boundary(len) {
                    len -= 1;
                }
                text.truncate(len);
            }
            every_cut(&text);
            by_owned_halves_agree(&text);
        }
    }
}
