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

/// Each byte's digit value, or 0xff: one load per digit.
const VALUES: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 32 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn digit_value(c: u8) -> Option<u8> {
    match VALUES[usize::from(c)] {
        0xff => None,
        v => Some(v),
    }
}

/// Number of digits encoding `bytes` bytes.
pub const fn encoded_len(bytes: usize) -> usize {
    (bytes * 8).div_ceil(5)
}

/// Encodes bytes as Nix does.
pub fn encode(bytes: &[u8]) -> String {
    let mut digits = vec![0u8; encoded_len(bytes.len())];
    encode_into(bytes, &mut digits);
    String::from_utf8(digits).expect("the alphabet is ASCII")
}

/// [`encode`] into `digits`, which is [`encoded_len`] bytes long (plans
/// write tens of thousands of hashes: no allocation each). Five bytes are
/// exactly eight digits, so the number is taken forty bits at a time.
pub fn encode_into(bytes: &[u8], digits: &mut [u8]) {
    assert_eq!(
        digits.len(),
        encoded_len(bytes.len()),
        "digit buffer length"
    );
    // Digit `j`, counted from the last, holds bits `5j..5j + 5`: chunk `c`
    // of five bytes is digits `8c..8c + 8`, and only the last chunk may
    // have fewer of either.
    let mut end = digits.len();
    for five in bytes.chunks(5) {
        let bits = five
            .iter()
            .rev()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        let mut eight = [0u8; 8];
        for (k, digit) in eight.iter_mut().rev().enumerate() {
            *digit = ALPHABET[((bits >> (5 * k)) & 0x1f) as usize];
        }
        if end >= 8 {
            digits[end - 8..end].copy_from_slice(&eight);
            end -= 8;
        } else {
            digits[..end].copy_from_slice(&eight[8 - end..]);
            end = 0;
        }
    }
}

/// Decodes exactly `N` bytes; `None` when the length is not
/// [`encoded_len`]`(N)`, a character is outside the alphabet, or the top
/// digit sets bits beyond the `N` bytes. Eight digits at a time, as
/// [`encode_into`] writes them.
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != encoded_len(N) {
        return None;
    }
    let mut out = [0u8; N];
    let mut digits = text.as_bytes();
    for five in out.chunks_mut(5) {
        let (rest, eight) = digits.split_at(digits.len().saturating_sub(8));
        let (mut bits, mut seen) = (0u64, 0u8);
        for (k, &c) in eight.iter().rev().enumerate() {
            let value = VALUES[usize::from(c)];
            seen |= value;
            bits |= u64::from(value) << (5 * k);
        }
        // Bits past the last byte (only the top digit has any) must be zero.
        if seen > 0x1f || bits >> (8 * five.len()) != 0 {
            return None;
        }
        five.copy_from_slice(&bits.to_le_bytes()[..five.len()]);
        digits = rest;
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

    /// The plain digit-at-a-time codec the chunked one replaced.
    fn encode_reference(bytes: &[u8]) -> String {
        let mut digits = vec![0u8; encoded_len(bytes.len())];
        let (mut acc, mut bits) = (0u32, 0u32);
        let mut next = bytes.iter();
        for slot in digits.iter_mut().rev() {
            if bits < 5 {
                if let Some(&b) = next.next() {
                    acc |= u32::from(b) << bits;
                    bits += 8;
                }
            }
            *slot = ALPHABET[(acc & 0x1f) as usize];
            acc >>= 5;
            bits = bits.saturating_sub(5);
        }
        String::from_utf8(digits).unwrap()
    }

    fn decode_reference<const N: usize>(text: &str) -> Option<[u8; N]> {
        if text.len() != encoded_len(N) {
            return None;
        }
        let mut out = [0u8; N];
        let (mut acc, mut bits, mut i) = (0u32, 0u32, 0usize);
        for &c in text.as_bytes().iter().rev() {
            acc |= u32::from(digit_value(c)?) << bits;
            bits += 5;
            if bits >= 8 {
                if i == N {
                    return None;
                }
                out[i] = acc as u8;
                i += 1;
                acc >>= 8;
                bits -= 8;
            }
        }
        (acc == 0).then_some(out)
    }

    proptest::proptest! {
        #[test]
        fn chunks_agree_with_a_digit_at_a_time(
            bytes in proptest::array::uniform32(proptest::num::u8::ANY),
            short in proptest::array::uniform20(proptest::num::u8::ANY),
            odd in proptest::collection::vec(proptest::num::u8::ANY, 0..13),
        ) {
            for input in [&bytes[..], &short[..], &odd[..]] {
                proptest::prop_assert_eq!(encode(input), encode_reference(input));
            }
            let text = encode(&bytes);
            proptest::prop_assert_eq!(decode::<32>(&text), Some(bytes));
            proptest::prop_assert_eq!(decode::<20>(&encode(&short)), Some(short));
        }

        #[test]
        fn any_text_decodes_as_a_digit_at_a_time(text in "[0-9a-z\\-]{52}|[0-9a-zA-Z]{32}|.{0,60}") {
            proptest::prop_assert_eq!(decode::<32>(&text), decode_reference::<32>(&text));
            proptest::prop_assert_eq!(decode::<20>(&text), decode_reference::<20>(&text));
            proptest::prop_assert_eq!(decode::<5>(&text), decode_reference::<5>(&text));
        }
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
