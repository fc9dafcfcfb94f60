//! Incremental reads on `write_date`. Pages are read in `write_date asc, id asc` order from the
//! last `write_date` seen, excluding the ids already read at that `write_date`.
//!
//! Why not simply `(write_date, id) > (last write_date, last id)`: Odoo shows `write_date` to
//! the second but may store it with microseconds (it is the transaction's timestamp), so
//! `write_date = '… 09:30:15'` does not match a row stored at `09:30:15.4`, and rows of the
//! same displayed second are not in id order. Reading `write_date >= last` minus the ids
//! already read at `last` loses no row (everything not yet read is at or after `last`) and
//! repeats none, whatever the stored precision; the id set is bounded by the rows written in
//! one second.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::payload::{OdooDateTime, RecordKey};

/// Where an incremental read of one model stopped. Serialised as JSON in the cursor store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteDateCursor {
    /// The greatest `write_date` read, as Odoo wrote it; `None` before the first page.
    pub write_date: Option<String>,
    /// The ids read whose `write_date` is `write_date`.
    pub ids_at_write_date: BTreeSet<i64>,
}

/// The order every incremental read uses, so the cursor's `write_date` never goes back.
pub const INCREMENTAL_ORDER: &str = "write_date asc, id asc";

impl WriteDateCursor {
    /// The domain of the rows not yet read.
    pub fn domain(&self) -> Value {
        match &self.write_date {
            None => json!([]),
            Some(write_date) => json!([
                ["write_date", ">=", write_date],
                ["id", "not in", self.ids_at_write_date],
            ]),
        }
    }

    /// Moves past the rows of a page read with [`Self::domain`] in [`INCREMENTAL_ORDER`].
    /// A row older than the cursor (a server that ignored the order) is an error: moving the
    /// cursor back would read pages again, keeping it would skip rows.
    pub fn advance<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a RecordKey>,
    ) -> Result<(), CursorOrderError> {
        for key in keys {
            let current = self
                .write_date
                .as_deref()
                .map(OdooDateTime::parse)
                .transpose()
                .map_err(|problem| CursorOrderError::Corrupt { problem })?;
            match current {
                Some(current) if key.write_date < current => {
                    return Err(CursorOrderError::OutOfOrder {
                        id: key.id,
                        write_date: key.write_date.as_str().to_owned(),
                        cursor: current.as_str().to_owned(),
                    });
                }
                Some(current) if key.write_date == current => {
                    self.ids_at_write_date.insert(key.id);
                }
                _ => {
                    self.write_date = Some(key.write_date.as_str().to_owned());
                    self.ids_at_write_date = BTreeSet::from([key.id]);
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorOrderError {
    #[error(
        "record id {id} has write_date {write_date:?}, before the cursor's {cursor:?}: the page \
         was not in write_date order; stop and check the Odoo server"
    )]
    OutOfOrder {
        id: i64,
        write_date: String,
        cursor: String,
    },
    #[error("the stored cursor is corrupt: {problem}; reset the Odoo cursor to re-read")]
    Corrupt { problem: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: i64, write_date: &str) -> RecordKey {
        RecordKey {
            id,
            write_date: OdooDateTime::parse(write_date).unwrap(),
        }
    }

    #[test]
    fn rows_of_the_same_second_accumulate_and_a_later_second_resets() {
        let mut cursor = WriteDateCursor::default();
        assert_eq!(cursor.domain(), json!([]));
        cursor
            .advance(&[key(7, "2025-03-10 06:00:00"), key(3, "2025-03-10 06:00:00")])
            .unwrap();
        assert_eq!(
            cursor.domain(),
            json!([
                ["write_date", ">=", "2025-03-10 06:00:00"],
                ["id", "not in", [3, 7]]
            ])
        );
        cursor.advance(&[key(2, "2025-03-10 06:00:01")]).unwrap();
        assert_eq!(cursor.ids_at_write_date, BTreeSet::from([2]));
    }

    #[test]
    fn an_older_row_is_refused() {
        let mut cursor = WriteDateCursor::default();
        cursor.advance(&[key(1, "2025-03-10 06:00:01")]).unwrap();
        assert!(matches!(
            cursor.advance(&[key(2, "2025-03-10 06:00:00")]),
            Err(CursorOrderError::OutOfOrder { id: 2, .. })
        ));
    }
}
