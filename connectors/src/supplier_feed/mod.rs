//! Supplier price and stock files, CSV or JSON, read from a directory or an HTTP URL. Each
//! supplier's columns, number format, encoding, VAT convention and unit live in its mapping
//! file (`config/mappings/<supplier>.toml`, read by `hub_core::mapping`): a new supplier is a
//! new mapping, not new code. Files already read are remembered by name and content hash.

mod connector;
mod file;
mod processed;
mod rows;

pub use connector::{CONNECTOR, SupplierFeedConfig, SupplierFeedsConfig, SupplierFeedsConnector};
pub use file::{FeedFile, map_feed_file, read_rows};
pub use processed::{ProcessedFiles, fingerprint};
pub use rows::{FeedFileError, FeedRow, RowRead, csv_rows, json_rows};
