//! Active ISO 4217 currencies, as data.

use std::borrow::Cow;

/// ISO 4217 list one, currencies in circulation. Left out on purpose: fund codes (BOV, CHE,
/// CHW, CLF, COU, MXV, USN, UYI, UYW), precious metals, bond-market units, the SDR, XSU, XUA,
/// and the testing and no-currency codes XTS and XXX, because no supplier or marketplace
/// prices goods in them; and withdrawn codes such as HRK (replaced by EUR in 2023), SLL (by
/// SLE), ZWL (by ZWG), ANG (by XCG) and BGN (by EUR in 2026), so stale feeds are caught.
pub const ACTIVE_CURRENCIES: [&str; 155] = [
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// The place of a code of three upper-case ASCII letters among all 26³ of them.
const fn letter_code_index(code: &[u8]) -> Option<usize> {
    if code.len() != 3 {
        return None;
    }
    let mut index = 0;
    let mut position = 0;
    while position < 3 {
        let letter = code[position];
        if !letter.is_ascii_uppercase() {
            return None;
        }
        index = index * 26 + (letter - b'A') as usize;
        position += 1;
    }
    Some(index)
}

const LETTER_CODES: usize = 26 * 26 * 26;

/// [`ACTIVE_CURRENCIES`] as a set of bits, one per three-letter code, so that looking a code
/// up is reading one bit rather than searching the list.
const ACTIVE_CURRENCY_BITS: [u64; LETTER_CODES.div_ceil(64)] = {
    let mut bits = [0; LETTER_CODES.div_ceil(64)];
    let mut listed = 0;
    while listed < ACTIVE_CURRENCIES.len() {
        let Some(index) = letter_code_index(ACTIVE_CURRENCIES[listed].as_bytes()) else {
            panic!("an active currency is three upper-case letters");
        };
        bits[index / 64] |= 1 << (index % 64);
        listed += 1;
    }
    bits
};

/// Whether `code` is an active currency, exactly as written (upper case).
pub fn is_active_currency(code: &str) -> bool {
    letter_code_index(code.as_bytes())
        .is_some_and(|index| ACTIVE_CURRENCY_BITS[index / 64] >> (index % 64) & 1 == 1)
}

/// Trims and upper-cases `raw` and returns it if it is an active currency.
pub fn normalise_currency(raw: &str) -> Option<String> {
    active_currency(raw).map(Cow::into_owned)
}

/// [`normalise_currency`] borrowing from `raw` when it is already trimmed to upper case, so
/// checking a well-formed record allocates nothing.
pub fn active_currency(raw: &str) -> Option<Cow<'_, str>> {
    // An active code as received has nothing to trim.
    if is_active_currency(raw) {
        return Some(Cow::Borrowed(raw));
    }
    let code = raw.trim();
    if is_active_currency(code) {
        return Some(Cow::Borrowed(code));
    }
    let code = code.to_ascii_uppercase();
    is_active_currency(&code).then_some(Cow::Owned(code))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn list_is_sorted_unique_three_upper_case_letters() {
        assert!(ACTIVE_CURRENCIES.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(
            ACTIVE_CURRENCIES
                .iter()
                .all(|code| code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()))
        );
    }

    #[test]
    fn the_bits_are_the_listed_codes() {
        let set: u32 = ACTIVE_CURRENCY_BITS
            .iter()
            .map(|word| word.count_ones())
            .sum();
        assert_eq!(set as usize, ACTIVE_CURRENCIES.len());
    }

    proptest! {
        #[test]
        fn the_bit_of_a_code_is_its_search_in_the_list(
            code in prop_oneof![
                "[A-Z]{3}",
                proptest::sample::select(&ACTIVE_CURRENCIES[..]).prop_map(str::to_owned),
                "[A-Za-z€]{0,4}",
                any::<String>(),
            ]
        ) {
            prop_assert_eq!(
                is_active_currency(&code),
                ACTIVE_CURRENCIES.contains(&code.as_str())
            );
        }
    }

    #[test]
    fn trading_currencies_are_active() {
        for code in [
            "EUR", "USD", "GBP", "CHF", "PLN", "SEK", "CNY", "JPY", "XCG", "ZWG",
        ] {
            assert!(is_active_currency(code), "{code}");
        }
    }

    #[test]
    fn withdrawn_fund_metal_and_made_up_codes_are_not() {
        for code in [
            "FRF", "DEM", "HRK", "SLL", "ZWL", "XXX", "XTS", "XAU", "EURO", "E", "", "eur",
        ] {
            assert!(!is_active_currency(code), "{code}");
        }
    }

    #[test]
    fn normalisation_trims_and_upper_cases() {
        assert_eq!(normalise_currency(" eur "), Some("EUR".to_owned()));
        assert_eq!(normalise_currency("Eur"), Some("EUR".to_owned()));
        assert_eq!(normalise_currency("€"), None);
    }
}
