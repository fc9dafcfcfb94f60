//! Request ids as each source spells them, so log correlation in the hub looks real.

use hub_core::calendar::{MILLIS_PER_DAY, civil_from_days};
use hub_schemas::records::EpochMillis;
use rand::Rng;

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
    let (year, month, day) = civil_from_days(at.div_euclid(MILLIS_PER_DAY));
    format!(
        "{supplier_id}_{year:04}{month:02}{day:02}.csv#L{}",
        line + 2
    )
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn file_lines_name_the_utc_day_of_the_read() {
        assert_eq!(file_line("s", 951_782_400_000, 5), "s_20000229.csv#L7");
        assert_eq!(file_line("s", -1, 0), "s_19691231.csv#L2");
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
