//! GTIN generation. The simulator computes GS1 check digits itself rather than calling the
//! gate's validator, so a bug in one cannot hide the same bug in the other.

use rand::Rng;

/// The GS1 check digit of `payload` (ASCII digits, the GTIN without its last digit):
/// weights 3 and 1 alternate from the rightmost payload digit.
pub fn check_digit(payload: &str) -> u8 {
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(index, byte)| u32::from(byte - b'0') * if index % 2 == 0 { 3 } else { 1 })
        .sum();
    // In 0..=9 by construction.
    ((10 - sum % 10) % 10) as u8
}

/// Whether `gtin` is 13 ASCII digits with a correct check digit.
pub fn is_valid_gtin13(gtin: &str) -> bool {
    gtin.len() == 13
        && gtin.bytes().all(|byte| byte.is_ascii_digit())
        && gtin.bytes().any(|byte| byte != b'0')
        && check_digit(&gtin[..12]) == gtin.as_bytes()[12] - b'0'
}

/// The barcode a manufacturer printed, before the hub normalised it to GTIN-13.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GtinOrigin {
    Ean13,
    /// A North American UPC-A, left-padded with one zero.
    UpcA,
    /// A short EAN-8 for small packs, left-padded with five zeros.
    Ean8,
}

/// GS1 prefixes of EAN-13 barcodes by issuing country, with their share of a French
/// distributor's catalogue (France, Germany, China, Japan, Korea, Italy, Spain, UK,
/// Netherlands, Taiwan).
const EAN13_PREFIXES: [(&str, u32); 14] = [
    ("30", 9),
    ("34", 6),
    ("37", 8),
    ("40", 7),
    ("42", 5),
    ("69", 12),
    ("45", 4),
    ("49", 4),
    ("880", 6),
    ("80", 4),
    ("84", 3),
    ("50", 4),
    ("87", 4),
    ("471", 4),
];

/// French and international ISBN-13 prefixes: books carry a Bookland EAN.
const BOOK_PREFIXES: [(&str, u32); 2] = [("9782", 8), ("97910", 2)];

/// EAN-8 prefixes (GS1 Germany, France) used on small items.
const EAN8_PREFIXES: [(&str, u32); 2] = [("40", 1), ("30", 1)];

/// UPC-A number systems 0 (regular), 6 and 8 (manufacturer), without the padding zero.
const UPC_PREFIXES: [(&str, u32); 3] = [("0", 2), ("6", 1), ("8", 1)];

pub(crate) fn pick_weighted<R: Rng>(rng: &mut R, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut draw = rng.random_range(0..total);
    for (index, &weight) in weights.iter().enumerate() {
        if draw < weight {
            return index;
        }
        draw -= weight;
    }
    unreachable!("draw {draw} is below the sum of the weights")
}

fn pick_prefix<'a, R: Rng>(rng: &mut R, table: &[(&'a str, u32)]) -> &'a str {
    let weights: Vec<u32> = table.iter().map(|&(_, weight)| weight).collect();
    table[pick_weighted(rng, &weights)].0
}

fn complete<R: Rng>(rng: &mut R, prefix: &str, length: usize) -> String {
    let mut code = String::with_capacity(length);
    code.push_str(prefix);
    while code.len() < length - 1 {
        code.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    let check = check_digit(&code);
    code.push(char::from(b'0' + check));
    code
}

/// A random GTIN, normalised to 13 digits, and the barcode it was printed as. Books get an
/// ISBN-13; other goods are mostly EAN-13, with `upc_share` UPC-A and `ean8_share` EAN-8.
pub(crate) fn random_gtin<R: Rng>(
    rng: &mut R,
    is_book: bool,
    upc_share: f64,
    ean8_share: f64,
) -> (String, GtinOrigin) {
    let draw: f64 = rng.random();
    let (table, length, padding, origin): (&[(&str, u32)], usize, &str, GtinOrigin) = if is_book {
        (&BOOK_PREFIXES, 13, "", GtinOrigin::Ean13)
    } else if draw < upc_share {
        (&UPC_PREFIXES, 12, "0", GtinOrigin::UpcA)
    } else if draw < upc_share + ean8_share {
        (&EAN8_PREFIXES, 8, "00000", GtinOrigin::Ean8)
    } else {
        (&EAN13_PREFIXES, 13, "", GtinOrigin::Ean13)
    };
    let prefix = pick_prefix(rng, table);
    (
        format!("{padding}{}", complete(rng, prefix, length)),
        origin,
    )
}

/// The same GTIN with a wrong check digit, as a mistyped barcode arrives.
pub(crate) fn with_wrong_check_digit<R: Rng>(rng: &mut R, gtin: &str) -> String {
    let (payload, check) = gtin.split_at(gtin.len() - 1);
    let check = check.as_bytes()[0] - b'0';
    let wrong = (check + rng.random_range(1..10u8)) % 10;
    format!("{payload}{}", char::from(b'0' + wrong))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn check_digits_match_published_barcodes() {
        // EAN-13 of a Faber-Castell pencil, an ISBN-13 and a padded UPC-A.
        assert!(is_valid_gtin13("4006381333931"));
        assert!(is_valid_gtin13("9782070360024"));
        assert!(is_valid_gtin13("0036000291452"));
        assert!(!is_valid_gtin13("4006381333932"));
        assert!(!is_valid_gtin13("0000000000000"));
        assert!(!is_valid_gtin13("400638133393"));
    }

    #[test]
    fn generated_gtins_are_valid_and_keep_their_origin_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..2_000 {
            let (gtin, origin) = random_gtin(&mut rng, false, 0.2, 0.2);
            assert!(is_valid_gtin13(&gtin), "{gtin}");
            match origin {
                GtinOrigin::Ean8 => assert!(gtin.starts_with("00000")),
                GtinOrigin::UpcA => assert!(gtin.starts_with('0')),
                GtinOrigin::Ean13 => assert!(!gtin.starts_with('0')),
            }
            let (isbn, _) = random_gtin(&mut rng, true, 0.2, 0.2);
            assert!(isbn.starts_with("978") || isbn.starts_with("979"));
            assert!(is_valid_gtin13(&isbn));
        }
    }

    #[test]
    fn a_wrong_check_digit_is_always_wrong() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let broken = with_wrong_check_digit(&mut rng, "4006381333931");
            assert_eq!(&broken[..12], "400638133393");
            assert!(!is_valid_gtin13(&broken));
        }
    }
}
