//! Nix's base-32 encoding, the one implementation in Strata.
//!
//! Nix writes hashes (store path hash parts, `sha256:<52 digits>` NAR
//! hashes) in its own base 32: the alphabet `0-9a-z` without `e`, `o`, `u`
//! and `t`, and the bytes read as one little-endian number written most
//! significant digit first (Nix's `printHash32`). So it is not RFC 4648
//! base32: a general-purpose encoder cannot produce it. An encoding of `n`
//! bytes has `ceil(n * 8 / 5)` digits; the top digit's unused bits must be
//! zero, so a 32-byte hash has 52 digits, the first `0` or `1`.

/// Nix's base-32 alphabet (no e, o, u, t).
pub const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Whether `c` is a digit of [`ALPHABET`].
pub fn is_digit(c: u8) -> bool {
    digit_value(c).is_some()
}

fn digit_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'd' => Some(c - b'a' + 10),
        b'f'..=b'n' => Some(c - b'f' + 14),
        b'p'..=b's' => Some(c - b'p' + 23),
        b'v'..=b'z' => Some(c - b'v' + 27),
        _ => None,
    }
}

/// Number of digits encoding `bytes` bytes.
pub const fn encoded_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

/// Encodes bytes as Nix does.
pub fn encode(bytes: &[u8]) -> String {
    let len = encoded_len(bytes.len());
    let mut out = String::with_capacity(len);
    for n in (0..len).rev() {
        let b = n * 5;
        let (i, j) = (b / 8, b % 8);
        let low = u16::from(bytes[i]) >> j;
        let high = bytes.get(i + 1).map_or(0, |&x| u16::from(x) << (8 - j));
        out.push(char::from(ALPHABET[usize::from((low | high) & 0x1f)]));
    }
    out
}

/// Decodes exactly `N` bytes; `None` when the length is not
/// [`encoded_len`]`(N)`, a character is outside the alphabet, or the top
/// digit sets bits beyond the `N` bytes.
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != encoded_len(N) {
        return None;
    }
    let mut out = [0u8; N];
    for (n, c) in text.bytes().rev().enumerate() {
        let digit = u16::from(digit_value(c)?);
        let b = n * 5;
        let (i, j) = (b / 8, b % 8);
        out[i] |= (digit << j) as u8;
        let carry = (digit << j) >> 8;
        if i + 1 < N {
            out[i + 1] |= carry as u8;
        } else if carry != 0 {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Pairs from `nix hash to-base32 --type sha256 <hex>`.
    #[rstest]
    #[case::empty_string_sha256(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
    )]
    #[case::all_zero(
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000"
    )]
    #[case::all_ones(
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "1zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
    )]
    fn sha256_round_trips(#[case] hex: &str, #[case] nix32: &str) {
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(encode(&bytes), nix32);
        assert_eq!(decode::<32>(nix32).unwrap().as_slice(), bytes.as_slice());
    }

    #[test]
    fn store_path_hash_parts_are_20_bytes() {
        assert_eq!(encoded_len(20), 32);
        let hash = "0c0mfgw3cqa8dp1ymhy2sw0ychqdxbgy";
        assert_eq!(encode(&decode::<20>(hash).unwrap()), hash);
    }

    #[rstest]
    #[case::too_short("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7")]
    #[case::letter_e("0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c7e")]
    #[case::upper_case("0MDQA9W1P6CMLI6976V4WI0SW9R4P5PRKJ7LZFD1877WK11C9C73")]
    #[case::top_digit_overflows("2000000000000000000000000000000000000000000000000000")]
    fn bad_encodings_are_refused(#[case] text: &str) {
        assert_eq!(decode::<32>(text), None);
    }

    #[test]
    fn alphabet_and_digit_values_agree() {
        for (value, &c) in ALPHABET.iter().enumerate() {
            assert_eq!(digit_value(c), Some(value as u8));
        }
        for c in [b'e', b'o', b'u', b't', b'A', b'-'] {
            assert!(!is_digit(c));
        }
    }
}
