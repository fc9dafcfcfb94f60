//! Request ids as each source spells them, so log correlation in the hub looks real.

use hub_schemas::records::EpochMillis;
use rand::Rng;

use crate::catalogue::MILLIS_PER_DAY;

/// A version-4 UUID, as SP-API (`x-amzn-RequestId`), Octopia, Fnac Darty, Mirakl and Odoo
/// responses carry.
pub(crate) fn uuid<R: Rng>(rng: &mut R) -> String {
    let mut bytes: [u8; 16] = rng.random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A supplier file line: `<supplier>_<yyyymmdd>.csv#L<line>`, the file of the day the line
/// was read and its line number (line 1 is the header).
pub(crate) fn file_line(supplier_id: &str, at: EpochMillis, line: usize) -> String {
    let (year, month, day) = civil_date(at);
    format!(
        "{supplier_id}_{year:04}{month:02}{day:02}.csv#L{}",
        line + 2
    )
}

/// The proleptic Gregorian UTC date of an instant (Howard Hinnant's `civil_from_days`).
fn civil_date(at: EpochMillis) -> (i64, i64, i64) {
    let days = at.div_euclid(MILLIS_PER_DAY) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn civil_dates_match_known_days() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(1_740_960_000_000), (2025, 3, 3));
        assert_eq!(civil_date(951_782_400_000), (2000, 2, 29));
        assert_eq!(civil_date(-1), (1969, 12, 31));
    }

    #[test]
    fn uuids_are_version_4_and_file_lines_name_the_day() {
        let id = uuid(&mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(
            file_line("eurotech", 1_740_960_000_000, 0),
            "eurotech_20250303.csv#L2"
        );
    }
}
