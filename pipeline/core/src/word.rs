//! Eight bytes tested at once: the quality gate checks short texts (GTINs, the values quoted
//! in details) on every record, and a handful of operations on a `u64` replaces a loop turn
//! per byte.

/// Bytes in a word.
pub(crate) const WORD_BYTES: usize = 8;

/// Each byte of a word set to `byte`.
pub(crate) const fn splat(byte: u8) -> u64 {
    u64::from_le_bytes([byte; WORD_BYTES])
}

/// The first eight bytes of `bytes` as a word whose lowest byte is the first.
pub(crate) fn read_word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(
        bytes[..WORD_BYTES]
            .try_into()
            .expect("eight bytes make a word"),
    )
}
