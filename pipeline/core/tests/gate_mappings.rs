//! The shipped supplier mappings (`config/mappings/`) on realistic rows, end to end through
//! the quality gate.

use std::collections::{BTreeMap, HashMap};

use hub_core::gate::{GateConfig, Verdict, check_cost, check_stock};
use hub_core::mapping::{MappingConfigError, SupplierMapping};
use hub_core::reason::ReasonCode;
use hub_schemas::records::{CostKind, CostSignal, EpochMillis, StockSignal, StockSource};
use rust_decimal_macros::dec;

use crate::{EUROTECH, GROSSISTE_OUEST};

/// 2025-03-10T06:00:00Z, when the files were fetched.
const FETCHED_AT: EpochMillis = 1_741_586_400_000;
const MARCH_1_2025: EpochMillis = 1_740_787_200_000;
const END_OF_MARCH_31_2025: EpochMillis = 1_743_465_599_999;

const GROSSISTE_OUEST_HEADER: &str = "Réf;EAN;Désignation;Marque;Prix TTC;Qté dispo;Qté en commande;Qté mini;Délai (j);Début validité;Fin validité";

/// What the CSV connector hands over: one line keyed by the header.
fn csv_row(line: &str) -> HashMap<String, String> {
    GROSSISTE_OUEST_HEADER
        .split(';')
        .map(str::to_owned)
        .zip(line.split(';').map(str::to_owned))
        .collect()
}

/// What the JSON connector hands over: the object flattened to dotted paths.
fn json_row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|&(path, value)| (path.to_owned(), value.to_owned()))
        .collect()
}

fn grossiste_ouest() -> SupplierMapping {
    SupplierMapping::from_toml_str(GROSSISTE_OUEST).expect("shipped mapping must load")
}

fn eurotech() -> SupplierMapping {
    SupplierMapping::from_toml_str(EUROTECH).expect("shipped mapping must load")
}

#[test]
fn grossiste_ouest_ttc_prices_with_decimal_comma_become_exact_costs_excl_vat() {
    let row = csv_row(
        "GO-48213;3760123456784;Aspirateur balai 25,2 V;Lumio;1 199,00;14;Rupture;1;3;01/03/2025;31/03/2025",
    );
    let mapped = grossiste_ouest().map_row(2, &row, FETCHED_AT).unwrap();
    assert_eq!(
        mapped.cost,
        Some(CostSignal {
            gtin: "3760123456784".to_owned(),
            cost_kind: CostKind::SupplierPrice,
            supplier_id: Some("grossiste_ouest".to_owned()),
            unit_cost_excl_vat: dec!(999.1667),
            currency: "EUR".to_owned(),
            moq: Some(1),
            valid_from: Some(MARCH_1_2025),
            valid_to: Some(END_OF_MARCH_31_2025),
            lead_time_days: Some(3),
            source: "supplier.grossiste_ouest.csv".to_owned(),
            request_id: None,
            observed_at: FETCHED_AT,
        })
    );
    assert_eq!(
        mapped.stock,
        Some(StockSignal {
            gtin: "3760123456784".to_owned(),
            stock_source: StockSource::Supplier,
            location: Some("grossiste_ouest".to_owned()),
            quantity: 14,
            incoming_quantity: Some(0),
            lead_time_days: Some(3),
            source: "supplier.grossiste_ouest.csv".to_owned(),
            request_id: None,
            observed_at: FETCHED_AT,
        })
    );
    let config = GateConfig::default();
    let cost = mapped.cost.unwrap();
    assert_eq!(
        check_cost(&cost, None, FETCHED_AT, &config),
        Verdict::Accepted(cost.clone())
    );
    let stock = mapped.stock.unwrap();
    assert_eq!(
        check_stock(&stock, FETCHED_AT, &config),
        Verdict::Accepted(stock.clone())
    );
}

#[test]
fn grossiste_ouest_small_prices_labels_and_upc_codes() {
    let row = csv_row("GO-10077;036000291452;Piles AA x4;Voltix;4,99;> 100;;12;;;");
    let mapped = grossiste_ouest().map_row(3, &row, FETCHED_AT).unwrap();
    let cost = mapped.cost.unwrap();
    assert_eq!(cost.gtin, "0036000291452");
    assert_eq!(cost.unit_cost_excl_vat, dec!(4.1583));
    assert_eq!(cost.moq, Some(12));
    assert_eq!(
        (cost.valid_from, cost.valid_to, cost.lead_time_days),
        (None, None, None)
    );
    let stock = mapped.stock.unwrap();
    assert_eq!((stock.quantity, stock.incoming_quantity), (100, None));
}

#[test]
fn grossiste_ouest_errors_name_supplier_row_column_and_value() {
    let cases = [
        (
            "GO-1;3760123456784;X;Y;19.99;1;0;1;3;01/03/2025;31/03/2025",
            7,
            "Prix TTC",
            "\"19.99\"",
        ),
        (
            "GO-1;3760123456785;X;Y;19,99;1;0;1;3;01/03/2025;31/03/2025",
            8,
            "EAN",
            "check digit",
        ),
        (
            "GO-1;3760123456784;X;Y;19,99;beaucoup;0;1;3;01/03/2025;31/03/2025",
            9,
            "Qté dispo",
            "\"beaucoup\"",
        ),
        (
            "GO-1;3760123456784;X;Y;19,99;1;0;1;3;2025-03-01;31/03/2025",
            10,
            "Début validité",
            "DD/MM/YYYY",
        ),
        (
            "GO-1;3760123456784;X;Y;;1;0;1;3;01/03/2025;31/03/2025",
            11,
            "Prix TTC",
            "blank",
        ),
        (
            "GO-1;3760123456784;X;Y;1.199,00;1;0;1;3;01/03/2025;31/03/2025",
            12,
            "Prix TTC",
            "'.'",
        ),
    ];
    for (line, row_number, column, hint) in cases {
        let error = grossiste_ouest()
            .map_row(row_number, &csv_row(line), FETCHED_AT)
            .unwrap_err();
        let message = error.to_string();
        assert_eq!(error.row, row_number);
        assert_eq!(error.column, column);
        assert!(
            message.contains("supplier \"grossiste_ouest\""),
            "{message}"
        );
        assert!(message.contains(&format!("row {row_number}")), "{message}");
        assert!(message.contains(hint), "{message}");
        assert!(
            message.contains("config/mappings/grossiste_ouest.toml"),
            "{message}"
        );
        assert_eq!(error.quarantine().reason, ReasonCode::MappingFailed);
    }
}

#[test]
fn a_row_without_a_mapped_column_is_refused_as_absent() {
    let mut row = csv_row("GO-1;3760123456784;X;Y;19,99;1;0;1;3;01/03/2025;31/03/2025");
    row.remove("Qté dispo");
    let error = grossiste_ouest().map_row(4, &row, FETCHED_AT).unwrap_err();
    assert_eq!((error.field, error.value.as_deref()), ("quantity", None));
    assert!(error.to_string().contains("value absent"), "{error}");
}

#[test]
fn eurotech_cents_per_carton_become_unit_costs_and_unit_counts() {
    let row = json_row(&[
        ("ean", "4006381333931"),
        ("pricing.net_cents", "4990"),
        ("pricing.currency", "eur"),
        ("stock.available", "12"),
        ("stock.incoming", "30"),
        ("carton_qty", "10"),
        ("lead_time_days", "5"),
    ]);
    let mapped = eurotech().map_row(1, &row, FETCHED_AT).unwrap();
    let cost = mapped.cost.unwrap();
    assert_eq!(cost.unit_cost_excl_vat, dec!(4.99));
    assert_eq!(cost.currency, "EUR");
    assert_eq!(cost.supplier_id.as_deref(), Some("eurotech"));
    assert_eq!(cost.lead_time_days, Some(5));
    let stock = mapped.stock.unwrap();
    assert_eq!((stock.quantity, stock.incoming_quantity), (120, Some(300)));
    assert_eq!(stock.location.as_deref(), Some("eurotech"));
    assert!(matches!(
        check_cost(&cost, None, FETCHED_AT, &GateConfig::default()),
        Verdict::Accepted(_)
    ));
}

#[test]
fn eurotech_defaults_apply_when_optional_fields_are_missing() {
    let row = json_row(&[
        ("ean", "96385074"),
        ("pricing.net_cents", "129900"),
        ("stock.available", "0"),
    ]);
    let mapped = eurotech().map_row(2, &row, FETCHED_AT).unwrap();
    let cost = mapped.cost.unwrap();
    assert_eq!(cost.gtin, "0000096385074");
    assert_eq!(cost.unit_cost_excl_vat, dec!(1299));
    assert_eq!(cost.currency, "EUR");
    assert_eq!(mapped.stock.unwrap().quantity, 0);
}

#[test]
fn eurotech_refuses_bad_cartons_and_currencies() {
    let base = [
        ("ean", "4006381333931"),
        ("pricing.net_cents", "4990"),
        ("stock.available", "1"),
    ];
    for (extra, field) in [
        (("carton_qty", "0"), "pack_size"),
        (("carton_qty", "2.5"), "pack_size"),
        (("pricing.currency", "EURO"), "currency"),
        (("lead_time_days", "9999999999"), "lead_time_days"),
    ] {
        let mut pairs = base.to_vec();
        pairs.push(extra);
        let error = eurotech()
            .map_row(5, &json_row(&pairs), FETCHED_AT)
            .unwrap_err();
        assert_eq!(error.field, field, "{error}");
    }
}

#[test]
fn invalid_mapping_files_are_refused_with_the_field() {
    let broken = [
        (
            GROSSISTE_OUEST.replace("vat_rate = \"0.20\"", "vat_rate = \"20\""),
            "vat_rate",
        ),
        (
            GROSSISTE_OUEST.replace("vat_rate = \"0.20\"\n", ""),
            "vat_rate",
        ),
        (
            GROSSISTE_OUEST.replace("thousands_separator = \" \"", "thousands_separator = \",\""),
            "thousands_separator",
        ),
        (
            GROSSISTE_OUEST.replace("currency = \"EUR\"", "currency = \"EURO\""),
            "currency",
        ),
        (
            GROSSISTE_OUEST.replace("pack_size = 1", "pack_size = 0"),
            "pack_size",
        ),
        (
            GROSSISTE_OUEST.replace(
                "supplier_id = \"grossiste_ouest\"",
                "supplier_id = \"Grossiste Ouest\"",
            ),
            "supplier_id",
        ),
        (
            GROSSISTE_OUEST.replace("csv_delimiter = \";\"", "csv_delimiter = \"x\""),
            "csv_delimiter",
        ),
        (
            EUROTECH.replace(
                "prices_include_vat = false",
                "prices_include_vat = false\nvat_rate = \"0.2\"",
            ),
            "vat_rate",
        ),
        (
            EUROTECH
                .replace("currency = \"EUR\"\n", "")
                .replace("currency = \"pricing.currency\"\n", ""),
            "currency",
        ),
        (
            EUROTECH
                .replace("unit_cost = \"pricing.net_cents\"\n", "")
                .replace("quantity = \"stock.available\"\n", ""),
            "columns",
        ),
    ];
    for (text, field) in broken {
        match SupplierMapping::from_toml_str(&text) {
            Err(MappingConfigError::Invalid { field: named, .. }) => assert_eq!(named, field),
            other => panic!("expected invalid {field}, got {other:?}"),
        }
    }
    let float_rate = GROSSISTE_OUEST.replace("vat_rate = \"0.20\"", "vat_rate = 0.2");
    assert!(
        SupplierMapping::from_toml_str(&float_rate)
            .unwrap_err()
            .to_string()
            .contains("as a string")
    );
}

const PACKS_OF_SIX: &str = r#"
supplier_id = "cartons_du_nord"
source = "supplier.cartons_du_nord.csv"
csv_delimiter = ","
currency = "EUR"
pack_size = 6

[columns]
gtin = "gtin"
unit_cost = "price_per_pack"
quantity = "packs_in_stock"
moq = "min_packs"
location = "warehouse"
"#;

#[test]
fn a_fixed_pack_size_divides_prices_and_multiplies_counts() {
    let mapping = SupplierMapping::from_toml_str(PACKS_OF_SIX).unwrap();
    let row = json_row(&[
        ("gtin", "4006381333931"),
        ("price_per_pack", "35.94"),
        ("packs_in_stock", "7"),
        ("min_packs", "2"),
        ("warehouse", " LILLE-2 "),
    ]);
    let mapped = mapping.map_row(9, &row, FETCHED_AT).unwrap();
    let cost = mapped.cost.unwrap();
    assert_eq!((cost.unit_cost_excl_vat, cost.moq), (dec!(5.99), Some(12)));
    let stock = mapped.stock.unwrap();
    assert_eq!(stock.quantity, 42);
    assert_eq!(stock.location.as_deref(), Some("LILLE-2"));
}

#[test]
fn a_mapping_built_in_code_without_validation_fails_rows_instead_of_panicking() {
    let mut mapping = SupplierMapping::from_toml_str(PACKS_OF_SIX).unwrap();
    mapping.pack_size = 0;
    let row = json_row(&[
        ("gtin", "4006381333931"),
        ("price_per_pack", "35.94"),
        ("packs_in_stock", "7"),
    ]);
    let error = mapping.map_row(1, &row, FETCHED_AT).unwrap_err();
    assert_eq!(error.field, "unit_cost_excl_vat");
    assert!(error.problem.contains("pack size 0"), "{error}");
}
