//! Odoo, the distributor's ERP: its product references (master data), stock and standard
//! cost per product (`product.product`, with the `account.tax` of its sales taxes; stock
//! changes found through `stock.quant` and `stock.move`) and its buyers' supplier prices
//! (`product.supplierinfo`), read incrementally on `write_date` over JSON-RPC or, from
//! Odoo 19, JSON-2 (one protocol chosen by configuration, the same mapping).
//!
//! Products are read with the context `active_test: false`: Odoo's searches hide archived
//! records by default, and archiving a product writes its `write_date`, so without it an
//! archived product would never be read again and the hub would keep it as sold. Its
//! reference carries `active` false instead.

mod config;
mod connector;
mod cursor;
mod cycle_stock;
mod mapping;
mod payload;
mod protocol;

pub use config::{OdooConfig, OdooProtocol, default_category_keys, default_levy_tax_groups};
pub use connector::{
    AUTHENTICATE, CONNECTOR, MOVES, OdooConnector, PRODUCTS, QUANTS, SUPPLIERINFO, TAXES,
};
pub use cursor::{CursorOrderError, INCREMENTAL_ORDER, WriteDateCursor};
pub use mapping::{
    OdooMappingSettings, RawRow, SaleTaxes, VariantBarcodes, changed_products, map_product,
    map_stock, map_supplierinfo, raw_rows, referenced_products, referenced_taxes,
};
pub use payload::{
    BRAND_FIELDS, DIMENSION_FIELDS, Many2One, OdooDate, OdooDateTime, PRODUCT_FIELDS, ProductRow,
    RecordKey, STOCK_CHANGE_FIELDS, STOCK_FIELDS, SUPPLIERINFO_FIELDS, StockChangeRow, StockRow,
    SupplierinfoRow, TAX_FIELDS, TaxAmountType, TaxRow, VARIANT_FIELDS, VariantRow, false_as_none,
};
pub use protocol::{
    JsonRpcError, JsonRpcResponse, OdooErrorData, OdooResponseError, SearchRead, authenticate_body,
    authenticated_uid, json2_error, jsonrpc_result, search_read_rows,
};
