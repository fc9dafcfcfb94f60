//! Odoo's `search_read` answers in the external API's shapes (JSON-RPC envelope and JSON-2
//! body: `false` for empty fields, many2one as `[id, "name"]`, many2many as ids, floats as
//! numbers) mapped to product references, stock and cost signals, with every row that cannot
//! become a record rejected with its reason.

use std::collections::BTreeMap;

use hub_connectors::odoo::{
    OdooMappingSettings, OdooResponseError, SaleTaxes, TaxRow, VariantBarcodes, VariantRow,
    WriteDateCursor, authenticated_uid, changed_products, default_category_keys,
    default_levy_tax_groups, json2_error, jsonrpc_result, map_product, map_supplierinfo, raw_rows,
    referenced_products, referenced_taxes, search_read_rows,
};
use hub_connectors::sourced::{Origin, SignalRecord, Sourced};
use hub_core::reason::ReasonCode;
use hub_schemas::records::{
    CostKind, CostSignal, EpochMillis, Levy, LevyKind, ProductReference, StockSignal, StockSource,
};
use rust_decimal_macros::dec;
use serde_json::json;
use serde_json::value::RawValue;

const PRODUCTS_JSONRPC: &[u8] = include_bytes!("fixtures/odoo/jsonrpc_product_search_read.json");
const PRODUCTS_JSON2: &[u8] = include_bytes!("fixtures/odoo/json2_product_search_read.json");
const SUPPLIERINFO: &[u8] = include_bytes!("fixtures/odoo/jsonrpc_supplierinfo_search_read.json");
const VARIANTS: &[u8] = include_bytes!("fixtures/odoo/jsonrpc_variant_search_read.json");
const TAXES: &[u8] = include_bytes!("fixtures/odoo/jsonrpc_tax_search_read.json");
const QUANTS: &[u8] = include_bytes!("fixtures/odoo/jsonrpc_quant_search_read.json");
const MOVES_JSON2: &[u8] = include_bytes!("fixtures/odoo/json2_move_search_read.json");

/// 2025-03-10T06:00:07Z, when the page was received.
const RECEIVED_AT: EpochMillis = 1_741_586_407_000;
const MARCH_1_2025: EpochMillis = 1_740_787_200_000;
const END_OF_MARCH_31_2025: EpochMillis = 1_743_465_599_999;
const END_OF_JUNE_30_2025: EpochMillis = 1_751_327_999_999;

fn settings() -> OdooMappingSettings {
    OdooMappingSettings {
        stock_location: "WH/Stock".to_owned(),
        company_currency: "EUR".to_owned(),
        partner_supplier_ids: BTreeMap::from([(57, "grossiste_ouest".to_owned())]),
        category_keys: default_category_keys(),
        levy_tax_groups: default_levy_tax_groups(),
        product_brand: true,
        product_dimension: true,
    }
}

fn sale_taxes() -> SaleTaxes {
    let rows: Vec<TaxRow> = serde_json::from_str(jsonrpc_result(TAXES).unwrap().get()).unwrap();
    SaleTaxes::from_rows(rows)
}

fn origin(source: &str) -> Origin {
    Origin {
        source: source.to_owned(),
        request_id: Some("0b9c4a1e-6d0f-4f8e-9a52-3c1d2e4f5a6b".to_owned()),
        observed_at: RECEIVED_AT,
    }
}

fn jsonrpc_rows(body: &[u8]) -> Vec<Box<RawValue>> {
    search_read_rows(&jsonrpc_result(body).unwrap()).unwrap()
}

fn json2_rows(body: &[u8]) -> Vec<Box<RawValue>> {
    let result: Box<RawValue> = serde_json::from_slice(body).unwrap();
    search_read_rows(&result).unwrap()
}

fn products(rows: &[Box<RawValue>]) -> Vec<Sourced> {
    let origin = origin("odoo.product.product");
    rows.iter()
        .flat_map(|raw| map_product(raw, &origin, &sale_taxes(), &settings()))
        .collect()
}

fn product(reference: ProductReference) -> Sourced {
    Sourced::Signal {
        record: SignalRecord::Product(reference),
        origin: origin("odoo.product.product"),
    }
}

fn stock(gtin: &str, quantity: i64, incoming: i64) -> Sourced {
    let origin = origin("odoo.product.product");
    Sourced::Signal {
        record: SignalRecord::Stock(StockSignal {
            gtin: gtin.to_owned(),
            stock_source: StockSource::Erp,
            location: Some("WH/Stock".to_owned()),
            quantity,
            incoming_quantity: Some(incoming),
            lead_time_days: None,
            source: origin.source.clone(),
            request_id: origin.request_id.clone(),
            observed_at: RECEIVED_AT,
        }),
        origin,
    }
}

fn standard_cost(gtin: &str, cost: rust_decimal::Decimal) -> Sourced {
    let origin = origin("odoo.product.product");
    Sourced::Signal {
        record: SignalRecord::Cost(CostSignal {
            gtin: gtin.to_owned(),
            cost_kind: CostKind::ErpStandardCost,
            supplier_id: None,
            unit_cost_excl_vat: cost,
            currency: "EUR".to_owned(),
            moq: None,
            valid_from: None,
            valid_to: None,
            lead_time_days: None,
            source: origin.source.clone(),
            request_id: origin.request_id.clone(),
            observed_at: RECEIVED_AT,
        }),
        origin,
    }
}

fn rejection(sourced: &Sourced) -> (ReasonCode, &str, &str) {
    match sourced {
        Sourced::Rejected {
            reason,
            detail,
            raw,
            ..
        } => (*reason, detail.as_str(), std::str::from_utf8(raw).unwrap()),
        Sourced::Signal { .. } => panic!("expected a rejection, got {sourced:?}"),
    }
}

#[test]
fn products_become_references_erp_stock_and_standard_cost_and_bad_rows_are_rejected_with_their_reason()
 {
    let rows = jsonrpc_rows(PRODUCTS_JSONRPC);
    assert_eq!(referenced_taxes(&rows), vec![1, 2, 101]);
    let mapped = products(&rows);
    assert_eq!(mapped.len(), 14, "{mapped:#?}");

    // Dimensions in centimetres, weight in kilograms, the DEEE eco-participation a fixed
    // tax of 0.70 that the 20% VAT applies to.
    assert_eq!(
        mapped[0],
        product(ProductReference {
            gtin: "3760123456784".to_owned(),
            sku: "GO-48213".to_owned(),
            title: "Aspirateur balai 25,2 V".to_owned(),
            brand: Some("Rowenta".to_owned()),
            category: "small_appliances".to_owned(),
            vat_rate: dec!(0.2),
            weight_g: Some(2_850),
            length_mm: Some(1_150),
            width_mm: Some(255),
            height_mm: Some(220),
            levies: vec![Levy {
                kind: LevyKind::DeeeEcoParticipation,
                amount_incl_vat: dec!(0.84),
            }],
            source: "odoo.product.product".to_owned(),
            updated_at: 1_741_586_400_000,
            active: true,
        })
    );
    assert_eq!(mapped[1], stock("3760123456784", 14, 30));
    assert_eq!(mapped[2], standard_cost("3760123456784", dec!(812.4000)));

    let (reason, detail, raw) = rejection(&mapped[3]);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("product.product id 42") && detail.contains("SRV-INSTALL"));
    assert!(
        raw.contains("\"barcode\": false"),
        "raw row as Odoo sent it: {raw}"
    );

    // A category the configuration does not map keeps the reference out, not its stock
    // and cost.
    let (reason, detail, _) = rejection(&mapped[4]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(
        detail.contains("\"All / Saleable / Office Supplies\"") && detail.contains("category_keys"),
        "{detail}"
    );
    assert_eq!(mapped[5], stock("4006381333931", 96, 0));
    assert_eq!(mapped[6], standard_cost("4006381333931", dec!(3.1375)));

    // No sales tax: no VAT rate. 12.5 units cannot be a stock count; its cost still goes,
    // in the company currency because `cost_currency_id` is false.
    let (reason, detail, _) = rejection(&mapped[7]);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("no percentage sales tax"), "{detail}");
    let (reason, detail, _) = rejection(&mapped[8]);
    assert_eq!(reason, ReasonCode::OutOfRange);
    assert!(detail.contains("free_qty 12.5"), "{detail}");
    assert_eq!(mapped[9], standard_cost("5901234123457", dec!(0.8500)));

    let (reason, detail, _) = rejection(&mapped[10]);
    assert_eq!(reason, ReasonCode::InvalidGtin);
    assert!(detail.contains("1234567890123"), "{detail}");

    // A book: reduced VAT, no levy, no dimensions set (Odoo's 0). It is archived in Odoo
    // (`active` false, read with `active_test` false): the reference says so, and its stock
    // and cost still go.
    assert_eq!(
        mapped[11],
        product(ProductReference {
            gtin: "9782070612758".to_owned(),
            sku: "LIV-PETIT-PRINCE".to_owned(),
            title: "Le Petit Prince".to_owned(),
            brand: Some("Folio Junior".to_owned()),
            category: "books".to_owned(),
            vat_rate: dec!(0.055),
            weight_g: Some(120),
            length_mm: None,
            width_mm: None,
            height_mm: None,
            levies: Vec::new(),
            source: "odoo.product.product".to_owned(),
            updated_at: 1_741_586_405_000,
            active: false,
        })
    );
    assert_eq!(mapped[12], stock("9782070612758", 8, 12));
    assert_eq!(mapped[13], standard_cost("9782070612758", dec!(5.2000)));
}

#[test]
fn taxes_the_hub_cannot_read_as_vat_and_levies_keep_the_reference_out() {
    let row = |taxes_id: serde_json::Value| {
        RawValue::from_string(
            json!({
                "id": 1, "barcode": "3760123456784", "default_code": "TV-55",
                "qty_available": 1.0, "free_qty": 1.0, "incoming_qty": 0.0,
                "name": "Téléviseur 55\"", "categ_id": [11, "All / Saleable / TV"],
                "weight": 14.2, "taxes_id": taxes_id,
                "standard_price": 380.0, "cost_currency_id": [1, "EUR"],
                "active": true, "write_date": "2025-03-10 06:00:00",
                "product_brand_id": false, "product_length": 1.23, "product_width": 0.71,
                "product_height": 0.08, "dimensional_uom_id": [5, "m"]
            })
            .to_string(),
        )
        .unwrap()
    };
    let taxes = SaleTaxes::from_rows(
        serde_json::from_value(json!([
            {"id": 1, "name": "20%", "amount_type": "percent", "amount": 20.0,
             "include_base_amount": false, "tax_group_id": [1, "TVA 20%"]},
            {"id": 3, "name": "10%", "amount_type": "percent", "amount": 10.0,
             "include_base_amount": false, "tax_group_id": [3, "TVA 10%"]},
            {"id": 120, "name": "Taxe spéciale", "amount_type": "fixed", "amount": 1.0,
             "include_base_amount": false, "tax_group_id": [9, "Taxes diverses"]},
            {"id": 121, "name": "Copie privée 8 €", "amount_type": "fixed", "amount": 8.0,
             "include_base_amount": false, "tax_group_id": [10, "Copie privée"]},
            {"id": 130, "name": "TVA 20% TTC", "amount_type": "division", "amount": 20.0,
             "include_base_amount": false, "tax_group_id": [1, "TVA 20%"]}
        ]))
        .unwrap(),
    );
    let origin = origin("odoo.product.product");
    let reference = |taxes_id| map_product(&row(taxes_id), &origin, &taxes, &settings()).remove(0);

    // Metres to millimetres; a levy the VAT does not apply to is its amount.
    let Sourced::Signal {
        record: SignalRecord::Product(tv),
        ..
    } = reference(json!([1, 121]))
    else {
        panic!("a TV with 20% VAT and the private copy levy is a reference");
    };
    assert_eq!(
        (tv.length_mm, tv.width_mm, tv.height_mm, tv.weight_g),
        (Some(1_230), Some(710), Some(80), Some(14_200))
    );
    assert_eq!(
        tv.levies,
        vec![Levy {
            kind: LevyKind::PrivateCopy,
            amount_incl_vat: dec!(8.00),
        }]
    );

    for (taxes_id, expected) in [
        (json!([1, 3]), "two percentage sales taxes"),
        (
            json!([1, 120]),
            "tax group \"Taxes diverses\", which is no levy",
        ),
        (json!([130]), "computes as Division"),
        (json!([1, 999]), "account.tax id 999 could not be read"),
    ] {
        let mapped = reference(taxes_id.clone());
        let (reason, detail, _) = rejection(&mapped);
        assert_eq!(reason, ReasonCode::MappingFailed, "{taxes_id}: {detail}");
        assert!(detail.contains(expected), "{taxes_id}: {detail}");
    }
}

/// The mapped elements with each rejected row's bytes read as JSON, so rows that differ only
/// in whitespace compare equal.
fn with_raw_as_json(sourced: Vec<Sourced>) -> Vec<(Sourced, Option<serde_json::Value>)> {
    sourced
        .into_iter()
        .map(|element| match element {
            Sourced::Rejected {
                reason,
                detail,
                raw,
                origin,
            } => (
                Sourced::Rejected {
                    reason,
                    detail,
                    raw: Vec::new(),
                    origin,
                },
                Some(serde_json::from_slice(&raw).unwrap()),
            ),
            signal => (signal, None),
        })
        .collect()
}

#[test]
fn json2_and_jsonrpc_answers_map_to_the_same_signals() {
    let json2 = with_raw_as_json(products(&json2_rows(PRODUCTS_JSON2)));
    assert_eq!(json2.len(), 14);
    assert_eq!(
        json2,
        with_raw_as_json(products(&jsonrpc_rows(PRODUCTS_JSONRPC)))
    );
}

#[test]
fn amounts_keep_odoos_digits_without_a_float() {
    let row = RawValue::from_string(
        json!({
            "id": 1, "barcode": "3760123456784", "default_code": false,
            "name": "Câble", "categ_id": [15, "All / Saleable / Accessories"],
            "weight": 0.1, "taxes_id": [1],
            "standard_price": 0.1, "cost_currency_id": [1, "EUR"],
            "qty_available": 1.0, "free_qty": 1.0, "incoming_qty": 0.0,
            "active": true, "write_date": "2025-03-10 06:00:00"
        })
        .to_string(),
    )
    .unwrap();
    let mapped = map_product(
        &row,
        &origin("odoo.product.product"),
        &sale_taxes(),
        &settings(),
    );
    // Without default_code there is no SKU; stock and cost still go.
    let (reason, detail, _) = rejection(&mapped[0]);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("default_code"), "{detail}");
    assert_eq!(mapped[2], standard_cost("3760123456784", dec!(0.1000)));
}

#[test]
fn supplier_prices_apply_to_their_variant_or_every_variant_of_their_template() {
    let rows = jsonrpc_rows(SUPPLIERINFO);
    assert_eq!(referenced_products(&rows), (vec![41, 43], vec![35]));

    let variants: Vec<VariantRow> =
        serde_json::from_str(jsonrpc_result(VARIANTS).unwrap().get()).unwrap();
    let barcodes = VariantBarcodes::from_rows(&variants);
    let origin = origin("odoo.product.supplierinfo");
    let mapped: Vec<Sourced> = rows
        .iter()
        .flat_map(|raw| map_supplierinfo(raw, &origin, &barcodes, &settings()))
        .collect();
    assert_eq!(mapped.len(), 5, "{mapped:#?}");

    let supplier_price = |gtin: &str, supplier: &str, cost, currency: &str| CostSignal {
        gtin: gtin.to_owned(),
        cost_kind: CostKind::SupplierPrice,
        supplier_id: Some(supplier.to_owned()),
        unit_cost_excl_vat: cost,
        currency: currency.to_owned(),
        moq: None,
        valid_from: None,
        valid_to: None,
        lead_time_days: None,
        source: "odoo.product.supplierinfo".to_owned(),
        request_id: origin.request_id.clone(),
        observed_at: RECEIVED_AT,
    };
    let signal = |cost: CostSignal| Sourced::Signal {
        record: SignalRecord::Cost(cost),
        origin: origin.clone(),
    };

    assert_eq!(
        mapped[0],
        signal(CostSignal {
            moq: Some(1),
            lead_time_days: Some(3),
            valid_from: Some(MARCH_1_2025),
            valid_to: Some(END_OF_MARCH_31_2025),
            ..supplier_price("3760123456784", "grossiste_ouest", dec!(999.1700), "EUR")
        })
    );
    // Template-wide price in USD with 10% discount: one cost per variant with a barcode, an
    // unmapped partner named by its Odoo id, and the variant without barcode rejected.
    assert_eq!(
        mapped[1],
        signal(CostSignal {
            moq: Some(500),
            lead_time_days: Some(35),
            ..supplier_price("5901234123457", "odoo_partner_58", dec!(1.0080), "USD")
        })
    );
    let (reason, detail, raw) = rejection(&mapped[2]);
    assert_eq!(reason, ReasonCode::MissingField);
    assert!(detail.contains("variant product.product id 46"), "{detail}");
    assert!(raw.contains("\"id\": 302"), "{raw}");
    // min_qty 0 is "no minimum": no MOQ.
    assert_eq!(
        mapped[3],
        signal(CostSignal {
            lead_time_days: Some(2),
            valid_to: Some(END_OF_JUNE_30_2025),
            ..supplier_price("4006381333931", "grossiste_ouest", dec!(3.0500), "EUR")
        })
    );
    let (reason, detail, _) = rejection(&mapped[4]);
    assert_eq!(reason, ReasonCode::OutOfRange);
    assert!(detail.contains("min_qty 2.5"), "{detail}");
}

#[test]
fn quants_and_moves_name_the_products_whose_stock_changed() {
    let origin = origin("odoo.stock.quant");
    let quants = jsonrpc_rows(QUANTS);
    let (products, rejections) = changed_products("stock.quant", &quants, &origin);
    // Two quants of one product (two locations or lots) name it once.
    assert_eq!(products, vec![41, 43]);
    assert_eq!(rejections.len(), 1);
    let (reason, detail, raw) = rejection(&rejections[0]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("stock.quant row"), "{detail}");
    assert!(raw.contains("\"id\": 911"), "{raw}");
    // The quant without a product still moves the cursor: it has an id and a write_date.
    assert_eq!(
        raw_rows(&quants)
            .iter()
            .filter(|row| row.key.is_some())
            .count(),
        4
    );

    let moves = json2_rows(MOVES_JSON2);
    let (products, rejections) = changed_products("stock.move", &moves, &origin);
    assert_eq!((products, rejections.len()), (vec![43, 47], 0));
}

#[test]
fn the_cursor_follows_the_pages_write_dates_and_excludes_rows_already_read_at_the_last_one() {
    let rows = jsonrpc_rows(SUPPLIERINFO);
    let keys: Vec<_> = raw_rows(&rows)
        .into_iter()
        .map(|row| row.key.expect("every fixture row has id and write_date"))
        .collect();
    let mut cursor = WriteDateCursor::default();
    cursor.advance(&keys[..2]).unwrap();
    assert_eq!(
        cursor.domain(),
        json!([
            ["write_date", ">=", "2025-03-09 17:42:10"],
            ["id", "not in", [301, 302]]
        ])
    );
    cursor.advance(&keys[2..]).unwrap();
    assert_eq!(
        cursor.domain(),
        json!([
            ["write_date", ">=", "2025-03-09 18:00:00"],
            ["id", "not in", [303, 304]]
        ])
    );
    let stored = serde_json::to_string(&cursor).unwrap();
    assert_eq!(
        serde_json::from_str::<WriteDateCursor>(&stored).unwrap(),
        cursor
    );
}

#[test]
fn odoo_errors_are_read_from_both_protocols() {
    assert_eq!(
        authenticated_uid(
            include_bytes!("fixtures/odoo/jsonrpc_authenticate.json"),
            "prod",
            "hub-bot"
        ),
        Ok(6)
    );
    let refused = authenticated_uid(
        include_bytes!("fixtures/odoo/jsonrpc_authenticate_refused.json"),
        "prod",
        "hub-bot",
    )
    .unwrap_err();
    assert!(refused.is_access_denied());

    let denied =
        jsonrpc_result(include_bytes!("fixtures/odoo/jsonrpc_access_denied.json")).unwrap_err();
    assert!(denied.is_access_denied(), "{denied}");
    assert!(denied.to_string().contains("odoo.exceptions.AccessDenied"));

    let unauthorized = json2_error(401, include_bytes!("fixtures/odoo/json2_error_401.json"));
    assert!(matches!(
        &unauthorized,
        OdooResponseError::Odoo { code: 401, message, .. } if message == "Invalid apikey"
    ));
    assert!(matches!(
        json2_error(502, b"<html>Bad Gateway</html>"),
        OdooResponseError::Malformed { .. }
    ));
}
