//! `Range: bytes=...` on blob GETs (RFC 9110 §14), which clients use to
//! resume a broken layer download.
//!
//! One range only: a header that is not `bytes=`, holds several ranges or
//! does not parse is ignored and the whole blob is sent, as the RFC allows.
//! A range that names no byte of the blob is refused (416), and so is
//! `first > last` (which the RFC would let a server ignore: refusing tells
//! a client with a bug so).

/// What to send of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// All of it (200).
    Full,
    /// Bytes `start..=end` (206), `end` clamped to the blob's last byte.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// Nothing it could send (416).
    Unsatisfiable,
}

impl ByteRange {
    /// The range `header` asks for of a blob of `len` bytes.
    pub fn parse(header: Option<&str>, len: u64) -> ByteRange {
        let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
            return ByteRange::Full;
        };
        let Some((first, last)) = spec.trim().split_once('-') else {
            return ByteRange::Full;
        };
        if spec.contains(',') {
            return ByteRange::Full;
        }
        let number = |s: &str| -> Option<u64> {
            let s = s.trim();
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (first, last) = (first.trim(), last.trim());
        if first.is_empty() {
            // `-N`: the last N bytes.
            return match number(last) {
                None => ByteRange::Full,
                Some(0) => ByteRange::Unsatisfiable,
                Some(_) if len == 0 => ByteRange::Unsatisfiable,
                Some(suffix) => ByteRange::Partial {
                    start: len.saturating_sub(suffix),
                    end: len - 1,
                },
            };
        }
        let Some(start) = number(first) else {
            return ByteRange::Full;
        };
        // `N-` runs to the end; `N-M` ends at M, clamped.
        let last = match last {
            "" => None,
            text => match number(text) {
                Some(l) => Some(l),
                None => return ByteRange::Full,
            },
        };
        if start >= len || last.is_some_and(|l| l < start) {
            return ByteRange::Unsatisfiable;
        }
        ByteRange::Partial {
            start,
            end: last.map_or(len - 1, |l| l.min(len - 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange::{self, *};

    #[test]
    fn ranges_of_a_2000_byte_blob() {
        for (header, expected) in [
            (None, Full),
            (
                Some("bytes=500-1499"),
                Partial {
                    start: 500,
                    end: 1499,
                },
            ),
            (
                Some("bytes=500-"),
                Partial {
                    start: 500,
                    end: 1999,
                },
            ),
            (
                Some("bytes=-500"),
                Partial {
                    start: 1500,
                    end: 1999,
                },
            ),
            (
                Some("bytes=-5000"),
                Partial {
                    start: 0,
                    end: 1999,
                },
            ),
            (
                Some("bytes=1500-5000"),
                Partial {
                    start: 1500,
                    end: 1999,
                },
            ),
            (Some("bytes=0-0"), Partial { start: 0, end: 0 }),
            (Some("bytes=500-0"), Unsatisfiable),
            (Some("bytes=2000-5000"), Unsatisfiable),
            (Some("bytes=2000-"), Unsatisfiable),
            (Some("bytes=-0"), Unsatisfiable),
            (Some("bytes=0-1,5-6"), Full),
            (Some("items=0-1"), Full),
            (Some("bytes=a-b"), Full),
            (Some("bytes=-"), Full),
            (Some("bytes=+1-2"), Full),
        ] {
            assert_eq!(ByteRange::parse(header, 2000), expected, "{header:?}");
        }
    }

    #[test]
    fn nothing_of_an_empty_blob_can_be_sent() {
        for header in ["bytes=0-", "bytes=-1", "bytes=0-0"] {
            assert_eq!(ByteRange::parse(Some(header), 0), Unsatisfiable, "{header}");
        }
        assert_eq!(ByteRange::parse(None, 0), Full);
    }
}
