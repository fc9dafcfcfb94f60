//! Fixed expectations computed outside this crate: fingerprints from the Avro specification
//! and fastavro, header bytes, topic names and keys, and the errors a caller sees.

use hub_schemas::records::{
    Levy, LevyKind, OfferSignal, ProductReference, QuarantinedRecord, StockSignal,
};
use hub_schemas::{
    AvroRecord, Contract, DatumError, DecodeError, Decoder, EncodeError, Encoder, FieldProblem,
    Fingerprint, Framing, Topic, TopicNames,
};
use rust_decimal::Decimal;

use crate::samples::{sample_offer, sample_stock};

#[test]
fn fingerprints_match_the_avro_specification_test_vectors() {
    // share/test/data/schema-tests.txt of the Avro repository: CRC-64-AVRO as a signed long.
    for (schema, expected) in [
        ("\"null\"", 7_195_948_357_588_979_594_i64),
        ("\"int\"", 8_247_732_601_305_521_295),
    ] {
        let fingerprint = Fingerprint::of_json(schema).expect("primitive schema");
        assert_eq!(fingerprint.as_u64() as i64, expected, "{schema}");
    }
    // fastavro.schema.fingerprint(..., "CRC-64-AVRO") prints the 8 header bytes in order.
    let record = Fingerprint::of_json(
        r#"{"type":"record","name":"Test","fields":[{"name":"f","type":"long"}]}"#,
    )
    .expect("record schema");
    assert_eq!(record.0, [0xed, 0x94, 0xe5, 0xf5, 0xe6, 0xeb, 0x58, 0x8e]);
}

#[test]
fn the_stock_signal_single_object_header_is_the_one_fastavro_computes() {
    // fastavro 1.13.1: fingerprint(to_parsing_canonical_form(stock_signal.avsc), "CRC-64-AVRO")
    // == "fd6112b813e84941". This pins the committed schema: a change to it is a new version,
    // so update this value (from fastavro) together with the schema.
    let payload = Encoder::single_object(TopicNames::default())
        .encode(Topic::SignalsStock, &sample_stock())
        .expect("encodes");
    assert_eq!(
        &payload[..10],
        &[0xc3, 0x01, 0xfd, 0x61, 0x12, 0xb8, 0x13, 0xe8, 0x49, 0x41]
    );
    assert_eq!(
        Contract::StockSignal.fingerprint().to_string(),
        "0x4149e813b81261fd"
    );
    // fastavro's to_parsing_canonical_form: logical types reduce to their primitive.
    assert_eq!(
        Contract::StockSignal.canonical_form(),
        concat!(
            r#"{"name":"sourcinghub.v1.StockSignal","type":"record","fields":[{"name":"gtin","type":"string"},"#,
            r#"{"name":"stock_source","type":{"name":"sourcinghub.v1.StockSource","type":"enum","symbols":["SUPPLIER","ERP","FBA"]}},"#,
            r#"{"name":"location","type":["null","string"]},{"name":"quantity","type":"long"},"#,
            r#"{"name":"incoming_quantity","type":["null","long"]},{"name":"lead_time_days","type":["null","int"]},"#,
            r#"{"name":"source","type":"string"},{"name":"request_id","type":["null","string"]},"#,
            r#"{"name":"observed_at","type":"long"}]}"#
        )
    );
}

#[test]
fn contracts_expose_their_names_and_distinct_fingerprints() {
    let names: Vec<&str> = Contract::ALL.iter().map(|c| c.full_name()).collect();
    assert_eq!(
        names,
        [
            "sourcinghub.v1.ProductReference",
            "sourcinghub.v1.OfferSignal",
            "sourcinghub.v1.StockSignal",
            "sourcinghub.v1.CostSignal",
            "sourcinghub.v1.ReferenceScore",
            "sourcinghub.v1.QuarantinedRecord",
        ]
    );
    for contract in Contract::ALL {
        assert_eq!(
            Contract::from_fingerprint(contract.fingerprint()),
            Some(contract)
        );
        assert!(
            contract
                .canonical_form()
                .starts_with(&format!("{{\"name\":\"{}\"", contract.full_name()))
        );
        for &topic in contract.topics() {
            assert_eq!(topic.contract(), contract);
        }
    }
}

#[test]
fn topics_have_the_documented_names_policies_and_subjects() {
    let specs = TopicNames::default().specs();
    let listed: Vec<(&str, bool)> = specs
        .iter()
        .map(|s| (s.name.as_str(), s.compacted))
        .collect();
    assert_eq!(
        listed,
        [
            ("hub.reference.products", true),
            ("hub.signals.offers", false),
            ("hub.signals.stock", false),
            ("hub.signals.costs", false),
            ("hub.scores.current", true),
            ("hub.scores.history", false),
            ("hub.quarantine", false),
        ]
    );
    let staging = TopicNames::new("staging-2.hub").expect("valid prefix");
    assert_eq!(staging.name(Topic::Quarantine), "staging-2.hub.quarantine");
    assert_eq!(
        staging.value_subject(Topic::SignalsOffers),
        "staging-2.hub.signals.offers-value"
    );
    assert_eq!(
        staging.topic("staging-2.hub.scores.history"),
        Some(Topic::ScoresHistory)
    );
    assert_eq!(staging.topic("hub.scores.history"), None);
    for bad in ["", "hub prod", "hub/x", &"h".repeat(240)] {
        assert!(TopicNames::new(bad).is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn keys_co_partition_signals_by_gtin_and_scores_by_gtin_and_channel() {
    assert_eq!(sample_offer().key().as_deref(), Some("3760123456789"));
    assert_eq!(sample_stock().key().as_deref(), Some("3760123456789"));
    let score = hub_schemas::records::ReferenceScore {
        gtin: "3760123456789".into(),
        channel: "cdiscount".into(),
        version: 3,
        score: Decimal::new(7125, 2),
        confidence: Decimal::new(9, 1),
        factors: vec![],
        missing_inputs: vec![],
        margin: None,
        action: "hold".into(),
        action_rule: "hold: margin_rate < 0.05".into(),
        target_price_incl_vat: None,
        weights_profile: "default".into(),
        weights_version: "1".into(),
        fee_schedule_version: "2026-01".into(),
        offer_observed_at: None,
        stock_observed_at: None,
        cost_observed_at: None,
        scored_at: 1_767_225_600_000,
    };
    assert_eq!(score.key().as_deref(), Some("3760123456789|cdiscount"));
    let mut quarantined = QuarantinedRecord {
        source: "hub.signals.offers".into(),
        record_type: "offer_signal".into(),
        original_topic: None,
        original_partition: None,
        original_offset: None,
        key: Some(b"not-a-gtin".to_vec()),
        raw: vec![1, 2, 3],
        gtin: None,
        reason_code: "GTIN_CHECK_DIGIT".into(),
        detail: "gtin 3760123456788: check digit 8, expected 9".into(),
        observed_at: 0,
    };
    assert_eq!(quarantined.key(), None);
    quarantined.gtin = Some("3760123456789".into());
    assert_eq!(quarantined.key().as_deref(), Some("3760123456789"));
}

fn field_problem(error: EncodeError) -> (String, FieldProblem) {
    match error {
        EncodeError::Field { cause, .. } => (cause.path, cause.problem),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn decimals_are_never_rounded_and_errors_name_record_field_and_value() {
    let encoder = Encoder::single_object(TopicNames::default());
    let mut offer = sample_offer();
    offer.our_price_incl_vat = Some(Decimal::new(1_999_999, 5));
    let error = encoder
        .encode(Topic::SignalsOffers, &offer)
        .expect_err("5 decimals in a scale-4 field");
    let message = error.to_string();
    assert!(
        message.contains("OfferSignal.our_price_incl_vat"),
        "{message}"
    );
    assert!(message.contains("19.99999"), "{message}");
    assert!(message.contains("hub.signals.offers"), "{message}");
    assert_eq!(
        field_problem(error).1,
        FieldProblem::TooManyFractionalDigits {
            value: "19.99999".into(),
            scale: 4
        }
    );

    // Trailing zeros beyond the scale are not digits of the value.
    offer.our_price_incl_vat = Some(Decimal::new(1_999_000, 5));
    let payload = encoder
        .encode(Topic::SignalsOffers, &offer)
        .expect("19.99000 is 19.99");
    let decoded: OfferSignal = Decoder::new(&Framing::SingleObject, TopicNames::default())
        .decode_cached(Topic::SignalsOffers, &payload)
        .expect("decodes");
    assert_eq!(decoded.our_price_incl_vat, Some(Decimal::new(1999, 2)));
    assert_eq!(
        decoded.our_price_incl_vat.map(|d| d.scale()),
        Some(4),
        "decoded at the schema's scale"
    );

    // vat_rate is decimal(9, 6): at most 999.999999.
    let mut product = ProductReference {
        gtin: "3760123456789".into(),
        sku: "SKU-1".into(),
        title: "Bouilloire".into(),
        brand: None,
        category: "small_appliances".into(),
        vat_rate: Decimal::new(1000, 0),
        weight_g: None,
        length_mm: None,
        width_mm: None,
        height_mm: None,
        levies: vec![],
        source: "odoo.product.product".into(),
        updated_at: 0,
        active: true,
    };
    let (path, problem) = field_problem(
        encoder
            .encode(Topic::ReferenceProducts, &product)
            .expect_err("too big"),
    );
    assert_eq!(path, "ProductReference.vat_rate");
    assert!(
        matches!(
            problem,
            FieldProblem::ExceedsPrecision {
                precision: 9,
                scale: 6,
                ..
            }
        ),
        "{problem:?}"
    );

    product.vat_rate = Decimal::new(200_000, 6);
    product.levies = vec![
        Levy {
            kind: LevyKind::DeeeEcoParticipation,
            amount_incl_vat: Decimal::new(50, 2),
        },
        Levy {
            kind: LevyKind::PrivateCopy,
            amount_incl_vat: Decimal::new(123_456, 5),
        },
    ];
    let (path, _) = field_problem(
        encoder
            .encode(Topic::ReferenceProducts, &product)
            .expect_err("scale 5"),
    );
    assert_eq!(path, "ProductReference.levies[1].amount_incl_vat");
}

#[test]
fn a_record_sent_to_another_contracts_topic_is_refused_both_ways() {
    let encoder = Encoder::single_object(TopicNames::default());
    let error = encoder
        .encode(Topic::SignalsStock, &sample_offer())
        .expect_err("wrong topic");
    assert!(matches!(error, EncodeError::WrongTopic { .. }), "{error:?}");
    assert!(error.to_string().contains("hub.signals.stock"), "{error}");

    let payload = encoder
        .encode(Topic::SignalsOffers, &sample_offer())
        .expect("encodes");
    let decoder = Decoder::new(&Framing::SingleObject, TopicNames::default());
    let error = decoder
        .decode_cached::<StockSignal>(Topic::SignalsOffers, &payload)
        .expect_err("wrong type");
    assert!(
        matches!(error, DecodeError::WrongRecordType { .. }),
        "{error:?}"
    );
    // An OfferSignal payload that landed on the stock topic.
    let error = decoder
        .decode_cached::<StockSignal>(Topic::SignalsStock, &payload)
        .expect_err("wrong contract");
    let message = error.to_string();
    assert!(
        matches!(error, DecodeError::WrongContract { .. }),
        "{message}"
    );
    assert!(
        message.contains("sourcinghub.v1.OfferSignal") && message.contains("hub.signals.stock"),
        "{message}"
    );
}

#[test]
fn malformed_payloads_get_errors_that_say_what_is_wrong() {
    let decoder = Decoder::new(&Framing::SingleObject, TopicNames::default());
    let decode = |payload: &[u8]| {
        decoder
            .decode_cached::<StockSignal>(Topic::SignalsStock, payload)
            .expect_err("malformed")
    };

    assert!(matches!(decode(&[]), DecodeError::Empty { .. }));
    let unknown = decode(b"{\"gtin\":1}");
    assert!(
        matches!(&unknown, DecodeError::UnknownFraming { head, .. } if head == "7b 22"),
        "{unknown:?}"
    );
    assert!(matches!(
        decode(&[0xc3, 0x01, 0xfd]),
        DecodeError::Truncated {
            needed: 10,
            len: 3,
            ..
        }
    ));
    assert!(matches!(
        decode(&[0x00, 0x00]),
        DecodeError::Truncated { needed: 5, .. }
    ));

    let foreign = decode(&[0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0]);
    let message = foreign.to_string();
    assert!(
        matches!(foreign, DecodeError::UnknownFingerprint { .. }),
        "{message}"
    );
    assert!(
        message.contains("0x0807060504030201") && message.contains("hub.signals.stock"),
        "{message}"
    );

    let mut payload = Encoder::single_object(TopicNames::default())
        .encode(Topic::SignalsStock, &sample_stock())
        .expect("encodes");
    payload.push(0);
    assert!(matches!(
        decode(&payload),
        DecodeError::Datum {
            cause: DatumError::TrailingBytes(1),
            ..
        }
    ));
    payload.truncate(payload.len() - 4);
    assert!(matches!(
        decode(&payload),
        DecodeError::Datum {
            cause: DatumError::Malformed(_),
            ..
        }
    ));
}

#[test]
fn a_decimal_beyond_the_schema_precision_is_refused_on_decode() {
    // unit_cost_excl_vat is decimal(18, 4); a foreign writer sends 10^18 (19 digits).
    let schema = Contract::CostSignal.schema();
    let value = apache_avro::types::Value::Record(vec![
        (
            "gtin".into(),
            apache_avro::types::Value::String("3760123456789".into()),
        ),
        (
            "cost_kind".into(),
            apache_avro::types::Value::Enum(1, "ERP_STANDARD_COST".into()),
        ),
        (
            "supplier_id".into(),
            apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)),
        ),
        (
            "unit_cost_excl_vat".into(),
            apache_avro::types::Value::Decimal(apache_avro::Decimal::from(
                1_000_000_000_000_000_000_i128.to_be_bytes(),
            )),
        ),
        (
            "currency".into(),
            apache_avro::types::Value::String("EUR".into()),
        ),
        (
            "moq".into(),
            apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)),
        ),
        (
            "valid_from".into(),
            apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)),
        ),
        (
            "valid_to".into(),
            apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)),
        ),
        (
            "lead_time_days".into(),
            apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)),
        ),
        (
            "source".into(),
            apache_avro::types::Value::String("odoo".into()),
        ),
        (
            "request_id".into(),
            apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)),
        ),
        (
            "observed_at".into(),
            apache_avro::types::Value::TimestampMillis(0),
        ),
    ]);
    let mut payload = vec![0xc3, 0x01];
    payload.extend_from_slice(&Contract::CostSignal.fingerprint().0);
    payload.extend(apache_avro::to_avro_datum(schema, value).expect("apache-avro writes it"));
    let error = Decoder::new(&Framing::SingleObject, TopicNames::default())
        .decode_cached::<hub_schemas::records::CostSignal>(Topic::SignalsCosts, &payload)
        .expect_err("19 digits in decimal(18, 4)");
    let message = error.to_string();
    assert!(
        message.contains("CostSignal.unit_cost_excl_vat"),
        "{message}"
    );
    assert!(message.contains("1000000000000000000e-4"), "{message}");
}
