//! One supplier file to what the connector yields: every row becomes its signals (a cost, a
//! stock line or both, as the mapping says) or a rejection with the row's bytes. A file whose
//! rows cannot be found at all is one rejection carrying the whole file, so nothing is lost.

use hub_core::mapping::SupplierMapping;
use hub_core::reason::ReasonCode;
use hub_schemas::records::{CostSignal, EpochMillis, StockSignal};

use super::rows::{FeedFileError, RowRead, csv_rows, json_rows};
use crate::sourced::{Origin, SignalRecord, Sourced};

/// A supplier file as fetched.
#[derive(Debug, Clone, Copy)]
pub struct FeedFile<'a> {
    /// The file's name in its directory, or its URL: it names the rows' request ids
    /// (`<name>#L12`, `<name>#/items/3`).
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// When the supplier wrote the file (its modification time, or the HTTP `Last-Modified`),
    /// else when it was fetched: what its prices and stock were true at.
    pub observed_at: EpochMillis,
}

/// The format a mapping describes: CSV when it names a delimiter, JSON otherwise.
pub fn read_rows(mapping: &SupplierMapping, bytes: &[u8]) -> Result<Vec<RowRead>, FeedFileError> {
    match mapping.csv_delimiter {
        Some(delimiter) => csv_rows(mapping, delimiter, bytes),
        None => json_rows(mapping, bytes),
    }
}

/// Maps every row of `file` with the supplier's mapping.
pub fn map_feed_file(mapping: &SupplierMapping, file: &FeedFile<'_>) -> Vec<Sourced> {
    let origin = |locator: &str| Origin {
        source: mapping.source.clone(),
        request_id: Some(format!("{}#{locator}", file.name)),
        observed_at: file.observed_at,
    };
    let rows = match read_rows(mapping, file.bytes) {
        Ok(rows) => rows,
        Err(error) => {
            return vec![Sourced::Rejected {
                reason: ReasonCode::MappingFailed,
                detail: format!(
                    "supplier {:?} file {:?}: {error}; fix the file or config/mappings/{}.toml",
                    mapping.supplier_id, file.name, mapping.supplier_id
                ),
                raw: file.bytes.to_vec(),
                origin: origin(""),
            }];
        }
    };
    let mut sourced = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            RowRead::Unreadable {
                locator,
                problem,
                raw,
            } => sourced.push(Sourced::Rejected {
                reason: ReasonCode::MappingFailed,
                detail: format!(
                    "supplier {:?} file {:?} row {locator} {problem}",
                    mapping.supplier_id, file.name
                ),
                raw,
                origin: origin(&locator),
            }),
            RowRead::Row(row) => {
                let origin = origin(&row.locator);
                match mapping.map_row(row.number, &row.fields, file.observed_at) {
                    Ok(mapped) => {
                        let request_id = origin.request_id.clone();
                        let records = mapped
                            .cost
                            .map(|cost| {
                                SignalRecord::Cost(CostSignal {
                                    request_id: request_id.clone(),
                                    ..cost
                                })
                            })
                            .into_iter()
                            .chain(mapped.stock.map(|stock| {
                                SignalRecord::Stock(StockSignal {
                                    request_id: request_id.clone(),
                                    ..stock
                                })
                            }));
                        sourced.extend(records.map(|record| Sourced::Signal {
                            record,
                            origin: origin.clone(),
                        }));
                    }
                    Err(error) => sourced.push(Sourced::Rejected {
                        reason: ReasonCode::MappingFailed,
                        detail: format!("file {:?} row {}: {error}", file.name, row.locator),
                        raw: row.raw,
                        origin,
                    }),
                }
            }
        }
    }
    sourced
}
