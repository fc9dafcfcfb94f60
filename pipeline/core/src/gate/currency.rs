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

/// A three-letter code as one number whose order is the codes' alphabetical order, so the
/// list is searched by comparing integers rather than strings.
const fn code_key(code: &[u8]) -> u32 {
    (code[0] as u32) << 16 | (code[1] as u32) << 8 | code[2] as u32
}

/// [`ACTIVE_CURRENCIES`] as [`code_key`]s, in the same (sorted) order.
const ACTIVE_CURRENCY_KEYS: [u32; ACTIVE_CURRENCIES.len()] = {
    let mut keys = [0; ACTIVE_CURRENCIES.len()];
    let mut index = 0;
    while index < keys.len() {
        keys[index] = code_key(ACTIVE_CURRENCIES[index].as_bytes());
        index += 1;
    }
    keys
};

/// Whether `code` is an active currency, exactly as written (upper case).
pub fn is_active_currency(code: &str) -> bool {
    // Every active code is three ASCII letters: any other length is not one.
    let code = code.as_bytes();
    code.len() == 3 && ACTIVE_CURRENCY_KEYS.binary_search(&code_key(code)).is_ok()
}

/// Trims and upper-cases `raw` and returns it if it is an active currency.
pub fn normalise_currency(raw: &str) -> Option<String> {
    active_currency(raw).map(Cow::into_owned)
}

/// [`normalise_currency`] borrowing from `raw` when it is already trimmed to upper case, so
/// checking a well-formed record allocates nothing.
pub fn active_currency(raw: &str) -> Option<Cow<'_, str>> {
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
    fn keys_are_sorted_like_the_codes() {
        assert!(
            ACTIVE_CURRENCY_KEYS
                .windows(2)
                .all(|pair| pair[0] < pair[1])
        );
    }

    proptest! {
        #[test]
        fn the_search_by_key_is_the_search_of_the_list(
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
