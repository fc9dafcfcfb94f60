//! Odoo, the distributor's ERP: its stock and standard cost per product (`product.product`)
//! and its buyers' supplier prices (`product.supplierinfo`), read incrementally on
//! `write_date` over JSON-RPC or, from Odoo 19, JSON-2 (one protocol chosen by configuration,
//! the same mapping).

mod config;
mod connector;
mod cursor;
mod mapping;
mod payload;
mod protocol;

pub use config::{OdooConfig, OdooProtocol};
pub use connector::{AUTHENTICATE, CONNECTOR, OdooConnector, PRODUCTS, SUPPLIERINFO};
pub use cursor::{CursorOrderError, INCREMENTAL_ORDER, WriteDateCursor};
pub use mapping::{
    OdooMappingSettings, RawRow, VariantBarcodes, map_product, map_supplierinfo, raw_rows,
    referenced_products,
};
pub use payload::{
    Many2One, OdooDate, OdooDateTime, PRODUCT_FIELDS, ProductRow, RecordKey, SUPPLIERINFO_FIELDS,
    SupplierinfoRow, VARIANT_FIELDS, VariantRow, false_as_none,
};
pub use protocol::{
    JsonRpcError, JsonRpcResponse, OdooErrorData, OdooResponseError, SearchRead, authenticate_body,
    authenticated_uid, json2_error, jsonrpc_result, search_read_rows,
};
