//! Which supplier files were already read: the feed's cursor. A file is known by its name and
//! the SHA-256 of its content, so a supplier that rewrites `prices.csv` in place is read
//! again, and one whose file is fetched again unchanged is not.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The content fingerprint of a file: its SHA-256, lower-case hex.
pub fn fingerprint(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The files of one supplier already turned into signals, name -> fingerprint of the
/// content that was read. Serialised as JSON in the cursor store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessedFiles {
    files: BTreeMap<String, String>,
}

impl ProcessedFiles {
    /// Whether this content of this file was already read.
    pub fn is_processed(&self, name: &str, fingerprint: &str) -> bool {
        self.files
            .get(name)
            .is_some_and(|known| known == fingerprint)
    }

    /// Records that the file's content was read; call it once its signals are handed over.
    pub fn mark_processed(&mut self, name: &str, fingerprint: &str) {
        self.files.insert(name.to_owned(), fingerprint.to_owned());
    }

    /// Forgets files no longer listed, so the cursor stays the size of the directory rather
    /// than of its history. A file that comes back is read again.
    pub fn retain_listed<'a>(&mut self, listed: impl IntoIterator<Item = &'a str>) {
        let listed: std::collections::BTreeSet<&str> = listed.into_iter().collect();
        self.files.retain(|name, _| listed.contains(name.as_str()));
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_again_only_when_its_content_changes() {
        let mut processed = ProcessedFiles::default();
        let first = fingerprint(b"ean;price\n1;2\n");
        assert!(!processed.is_processed("prices.csv", &first));
        processed.mark_processed("prices.csv", &first);
        assert!(processed.is_processed("prices.csv", &first));
        assert!(!processed.is_processed("prices.csv", &fingerprint(b"ean;price\n1;3\n")));
        assert!(!processed.is_processed("other.csv", &first));
    }

    #[test]
    fn the_cursor_round_trips_and_forgets_unlisted_files() {
        let mut processed = ProcessedFiles::default();
        processed.mark_processed("a.csv", "aa");
        processed.mark_processed("b.csv", "bb");
        let text = serde_json::to_string(&processed).unwrap();
        let mut restored: ProcessedFiles = serde_json::from_str(&text).unwrap();
        assert_eq!(restored, processed);
        restored.retain_listed(["b.csv"]);
        assert!(!restored.is_processed("a.csv", "aa"));
        assert!(restored.is_processed("b.csv", "bb"));
        assert_eq!(restored.len(), 1);
    }

    #[test]
    fn fingerprint_is_sha256_hex() {
        assert_eq!(
            fingerprint(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
