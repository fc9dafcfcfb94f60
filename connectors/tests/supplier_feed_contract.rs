//! Supplier files as suppliers send them (a Windows-1252 CSV with decimal commas, TTC prices
//! and words in the stock column; a JSON feed in cents per carton) read with the shipped
//! mappings of `config/mappings/`: every row becomes its signals or a rejection carrying the
//! row's bytes as received.

use hub_connectors::sourced::{Origin, SignalRecord, Sourced};
use hub_connectors::supplier_feed::{FeedFile, map_feed_file};
use hub_core::mapping::SupplierMapping;
use hub_core::reason::ReasonCode;
use hub_schemas::records::{CostKind, CostSignal, EpochMillis, StockSignal, StockSource};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const GROSSISTE_OUEST: &str = include_str!("../../config/mappings/grossiste_ouest.toml");
const EUROTECH: &str = include_str!("../../config/mappings/eurotech.toml");
const GROSSISTE_OUEST_CSV: &[u8] =
    include_bytes!("fixtures/supplier_feed/grossiste_ouest_20250310.csv");
const EUROTECH_JSON: &[u8] = include_bytes!("fixtures/supplier_feed/eurotech_20250310.json");
const EUROTECH_TRUNCATED: &[u8] = include_bytes!("fixtures/supplier_feed/eurotech_truncated.json");

/// 2025-03-10T06:00:00Z, the files' modification time.
const WRITTEN_AT: EpochMillis = 1_741_586_400_000;
const MARCH_1_2025: EpochMillis = 1_740_787_200_000;
const END_OF_MARCH_31_2025: EpochMillis = 1_743_465_599_999;
const END_OF_JUNE_30_2025: EpochMillis = 1_751_327_999_999;

fn mapping(text: &str) -> SupplierMapping {
    SupplierMapping::from_toml_str(text).expect("shipped mapping must load")
}

fn origin(source: &str, request_id: &str) -> Origin {
    Origin {
        source: source.to_owned(),
        request_id: Some(request_id.to_owned()),
        observed_at: WRITTEN_AT,
    }
}

struct Expected<'a> {
    source: &'a str,
    supplier: &'a str,
    request_id: &'a str,
    gtin: &'a str,
    currency: &'a str,
}

impl Expected<'_> {
    fn cost(&self, unit_cost: Decimal) -> CostSignal {
        CostSignal {
            gtin: self.gtin.to_owned(),
            cost_kind: CostKind::SupplierPrice,
            supplier_id: Some(self.supplier.to_owned()),
            unit_cost_excl_vat: unit_cost,
            currency: self.currency.to_owned(),
            moq: None,
            valid_from: None,
            valid_to: None,
            lead_time_days: None,
            source: self.source.to_owned(),
            request_id: Some(self.request_id.to_owned()),
            observed_at: WRITTEN_AT,
        }
    }

    fn stock(&self, quantity: i64, incoming: Option<i64>, lead_time_days: i32) -> StockSignal {
        StockSignal {
            gtin: self.gtin.to_owned(),
            stock_source: StockSource::Supplier,
            location: Some(self.supplier.to_owned()),
            quantity,
            incoming_quantity: incoming,
            lead_time_days: Some(lead_time_days),
            source: self.source.to_owned(),
            request_id: Some(self.request_id.to_owned()),
            observed_at: WRITTEN_AT,
        }
    }

    fn signals(&self, cost: CostSignal, stock: StockSignal) -> [Sourced; 2] {
        let origin = origin(self.source, self.request_id);
        [
            Sourced::Signal {
                record: SignalRecord::Cost(cost),
                origin: origin.clone(),
            },
            Sourced::Signal {
                record: SignalRecord::Stock(stock),
                origin,
            },
        ]
    }
}

fn grossiste_ouest(request_id: &'static str, gtin: &'static str) -> Expected<'static> {
    Expected {
        source: "supplier.grossiste_ouest.csv",
        supplier: "grossiste_ouest",
        request_id,
        gtin,
        currency: "EUR",
    }
}

fn rejection(sourced: &Sourced) -> (ReasonCode, &str, &[u8], Option<&str>) {
    match sourced {
        Sourced::Rejected {
            reason,
            detail,
            raw,
            origin,
        } => (*reason, detail, raw, origin.request_id.as_deref()),
        Sourced::Signal { .. } => panic!("expected a rejection, got {sourced:?}"),
    }
}

#[test]
fn windows_1252_csv_with_decimal_commas_and_ttc_prices_maps_row_by_row() {
    let file = FeedFile {
        name: "grossiste_ouest_20250310.csv",
        bytes: GROSSISTE_OUEST_CSV,
        observed_at: WRITTEN_AT,
    };
    let mapped = map_feed_file(&mapping(GROSSISTE_OUEST), &file);
    assert_eq!(mapped.len(), 9, "{mapped:#?}");

    // 1 199,00 TTC at 20% VAT; "Rupture" on order means none incoming.
    let vacuum = grossiste_ouest("grossiste_ouest_20250310.csv#L2", "3760123456784");
    assert_eq!(
        mapped[0..2],
        vacuum.signals(
            CostSignal {
                moq: Some(1),
                lead_time_days: Some(3),
                valid_from: Some(MARCH_1_2025),
                valid_to: Some(END_OF_MARCH_31_2025),
                ..vacuum.cost(dec!(999.1667))
            },
            vacuum.stock(14, Some(0), 3),
        )
    );
    // A quoted designation holding the delimiter and doubled quotes; "> 100" in stock.
    let highlighter = grossiste_ouest("grossiste_ouest_20250310.csv#L3", "4006381333931");
    assert_eq!(
        mapped[2..4],
        highlighter.signals(
            CostSignal {
                moq: Some(10),
                lead_time_days: Some(2),
                valid_from: Some(MARCH_1_2025),
                valid_to: Some(END_OF_JUNE_30_2025),
                ..highlighter.cost(dec!(3.05))
            },
            highlighter.stock(100, Some(0), 2),
        )
    );
    // Windows-1252 bytes (é, –) decoded; blank MOQ and validity are absent.
    let cable = grossiste_ouest("grossiste_ouest_20250310.csv#L4", "5901234123457");
    assert_eq!(
        mapped[4..6],
        cable.signals(
            CostSignal {
                lead_time_days: Some(5),
                ..cable.cost(dec!(8.25))
            },
            cable.stock(0, Some(50), 5),
        )
    );

    let (reason, detail, raw, request_id) = rejection(&mapped[6]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(
        detail.contains("field gtin") && detail.contains("1234567890123"),
        "{detail}"
    );
    assert_eq!(request_id, Some("grossiste_ouest_20250310.csv#L5"));
    assert_eq!(
        raw,
        b"GO-3001;1234567890123;Cl\xE9 USB 64 Go;Kingstone;12,00;8;0;1;2;01/03/2025;31/03/2025",
        "the row's bytes as the supplier wrote them, in Windows-1252"
    );

    let (reason, detail, _, _) = rejection(&mapped[7]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("\"N/C\""), "{detail}");

    let (reason, detail, _, request_id) = rejection(&mapped[8]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(
        detail.contains("has 12 fields where the header has 11"),
        "{detail}"
    );
    assert_eq!(request_id, Some("grossiste_ouest_20250310.csv#L7"));
}

#[test]
fn a_csv_read_in_the_wrong_encoding_is_refused_whole_not_mapped_wrongly() {
    let utf8_mapping = GROSSISTE_OUEST.replace("encoding = \"windows-1252\"\n", "");
    let file = FeedFile {
        name: "grossiste_ouest_20250310.csv",
        bytes: GROSSISTE_OUEST_CSV,
        observed_at: WRITTEN_AT,
    };
    let mapped = map_feed_file(&mapping(&utf8_mapping), &file);
    assert_eq!(mapped.len(), 1);
    let (reason, detail, raw, _) = rejection(&mapped[0]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(
        detail.contains("header does not decode in UTF-8"),
        "{detail}"
    );
    assert_eq!(raw, GROSSISTE_OUEST_CSV);
}

#[test]
fn json_feed_in_cents_per_carton_maps_element_by_element() {
    let file = FeedFile {
        name: "eurotech_20250310.json",
        bytes: EUROTECH_JSON,
        observed_at: WRITTEN_AT,
    };
    let mapped = map_feed_file(&mapping(EUROTECH), &file);
    assert_eq!(mapped.len(), 7, "{mapped:#?}");

    let eurotech = |request_id, gtin, currency| Expected {
        source: "supplier.eurotech.json",
        supplier: "eurotech",
        request_id,
        gtin,
        currency,
    };
    // 4990 cents a carton of 10: 4.99 a unit; 12 cartons in stock, 30 incoming.
    let keyboard = eurotech("eurotech_20250310.json#/0", "3017620422003", "EUR");
    assert_eq!(
        mapped[0..2],
        keyboard.signals(
            CostSignal {
                lead_time_days: Some(5),
                ..keyboard.cost(dec!(4.99))
            },
            keyboard.stock(120, Some(300), 5),
        )
    );
    let mouse = eurotech("eurotech_20250310.json#/1", "8711253001202", "USD");
    assert_eq!(
        mapped[2..4],
        mouse.signals(
            CostSignal {
                lead_time_days: Some(12),
                ..mouse.cost(dec!(12.50))
            },
            mouse.stock(0, None, 12),
        )
    );

    let (reason, detail, raw, _) = rejection(&mapped[4]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(
        detail.contains("pricing.net_cents") && detail.contains("12,50"),
        "{detail}"
    );
    assert!(raw.starts_with(br#"{"ean": "3760140000014""#));

    let (reason, detail, raw, request_id) = rejection(&mapped[5]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("is not a JSON object"), "{detail}");
    assert_eq!(raw, br#""discontinued: 3760140000021""#);
    assert_eq!(request_id, Some("eurotech_20250310.json#/3"));

    let (_, detail, _, _) = rejection(&mapped[6]);
    assert!(detail.contains("the column is absent"), "{detail}");
}

#[test]
fn a_truncated_json_file_is_one_rejection_carrying_the_whole_file() {
    let file = FeedFile {
        name: "eurotech_20250311.json",
        bytes: EUROTECH_TRUNCATED,
        observed_at: WRITTEN_AT,
    };
    let mapped = map_feed_file(&mapping(EUROTECH), &file);
    assert_eq!(mapped.len(), 1);
    let (reason, detail, raw, _) = rejection(&mapped[0]);
    assert_eq!(reason, ReasonCode::MappingFailed);
    assert!(detail.contains("not a JSON document"), "{detail}");
    assert_eq!(raw, EUROTECH_TRUNCATED);
}

#[test]
fn mappings_refuse_unknown_or_ascii_incompatible_encodings_when_loaded() {
    let with_encoding =
        |label: &str| GROSSISTE_OUEST.replace("\"windows-1252\"", &format!("\"{label}\""));
    for accepted in ["windows-1252", "latin1", "utf-8", "iso-8859-15"] {
        assert!(
            SupplierMapping::from_toml_str(&with_encoding(accepted)).is_ok(),
            "{accepted}"
        );
    }
    for refused in ["ebcdic", "utf-16le"] {
        let error = SupplierMapping::from_toml_str(&with_encoding(refused)).unwrap_err();
        assert!(error.to_string().contains("field encoding"), "{error}");
    }
}
