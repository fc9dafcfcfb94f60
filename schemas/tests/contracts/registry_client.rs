//! The schema registry client and the Confluent framing against the in-test fake registry.

use std::sync::Arc;
use std::time::Duration;

use apache_avro::Schema;
use hub_schemas::records::StockSignal;
use hub_schemas::{
    Contract, DecodeError, Decoder, Encoder, Framing, REGISTRY_CONTENT_TYPE, RegistryConfig,
    RegistryError, SchemaId, SchemaRegistry, Topic, TopicNames,
};

use crate::fake_registry::FakeRegistry;
use crate::samples::{sample_offer, sample_stock};

fn client(registry: &FakeRegistry) -> SchemaRegistry {
    SchemaRegistry::new(RegistryConfig::new(registry.url())).expect("fake registry URL")
}

/// StockSignal as first published: without `incoming_quantity` and `lead_time_days`.
const STOCK_SIGNAL_V0: &str = r#"{
  "type": "record", "name": "StockSignal", "namespace": "sourcinghub.v1",
  "fields": [
    {"name": "gtin", "type": "string"},
    {"name": "stock_source", "type": {"type": "enum", "name": "StockSource", "symbols": ["SUPPLIER", "ERP", "FBA"]}},
    {"name": "location", "type": ["null", "string"], "default": null},
    {"name": "quantity", "type": "long"},
    {"name": "source", "type": "string"},
    {"name": "request_id", "type": ["null", "string"], "default": null},
    {"name": "observed_at", "type": {"type": "long", "logicalType": "timestamp-millis"}}
  ]
}"#;

#[tokio::test]
async fn prepare_registers_every_topic_subject_then_the_hot_path_stays_off_the_network() {
    let registry = FakeRegistry::start().await;
    let topics = TopicNames::new("staging.hub").expect("valid prefix");
    let framing = Framing::confluent(client(&registry));
    let encoder = Encoder::prepare(&framing, topics.clone())
        .await
        .expect("registration succeeds");

    let requests = registry.requests();
    let subjects: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "/subjects/staging.hub.reference.products-value/versions",
            "/subjects/staging.hub.signals.offers-value/versions",
            "/subjects/staging.hub.signals.stock-value/versions",
            "/subjects/staging.hub.signals.costs-value/versions",
            "/subjects/staging.hub.scores.current-value/versions",
            "/subjects/staging.hub.scores.history-value/versions",
            "/subjects/staging.hub.quarantine-value/versions",
        ]
    );
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(request.content_type.as_deref(), Some(REGISTRY_CONTENT_TYPE));
        let body: serde_json::Value = serde_json::from_str(&request.body).expect("JSON body");
        let text = body["schema"].as_str().expect("schema string");
        Schema::parse_str(text).expect("the registered schema is valid Avro");
        let topic = Topic::ALL
            .into_iter()
            .find(|&t| request.path.contains(topics.name(t)))
            .expect("a topic subject");
        assert_eq!(
            hub_schemas::parsing_canonical_form(text).expect("canonical form"),
            topic.contract().canonical_form()
        );
        // Defaults drive compatibility checks and logical types give bytes their meaning:
        // both must reach the registry.
        assert!(text.contains(r#""default""#), "{text}");
        assert!(
            text.contains(r#""logicalType":"timestamp-millis""#),
            "{text}"
        );
    }

    let decoder = Decoder::new(&framing, topics);
    let before = registry.request_count();
    for _ in 0..3 {
        let payload = encoder
            .encode(Topic::SignalsOffers, &sample_offer())
            .expect("encodes");
        assert_eq!(payload[0], 0);
        let decoded: hub_schemas::records::OfferSignal = decoder
            .decode(Topic::SignalsOffers, &payload)
            .await
            .expect("decodes");
        assert_eq!(decoded, sample_offer());
    }
    assert_eq!(
        registry.request_count(),
        before,
        "warm encode/decode must not call the registry"
    );
}

#[tokio::test]
async fn the_same_schema_under_two_subjects_shares_one_id_and_registering_again_is_cached() {
    let registry = FakeRegistry::start().await;
    let client = client(&registry);
    let schema = Contract::ReferenceScore.schema();
    let current = client
        .register("hub.scores.current-value", schema)
        .await
        .expect("registers");
    let history = client
        .register("hub.scores.history-value", schema)
        .await
        .expect("registers");
    assert_eq!(current, history);
    let count = registry.request_count();
    let again = client
        .register("hub.scores.current-value", schema)
        .await
        .expect("cached");
    assert_eq!(again, current);
    assert_eq!(registry.request_count(), count);
}

#[tokio::test]
async fn a_writer_schema_fetched_by_id_is_resolved_against_the_reader_schema() {
    let registry = FakeRegistry::start().await;
    registry.preload(41, "hub.signals.stock-value", STOCK_SIGNAL_V0);
    let old = Schema::parse_str(STOCK_SIGNAL_V0).expect("v0 parses");
    let value = apache_avro::types::Value::Record(vec![
        (
            "gtin".into(),
            apache_avro::types::Value::String("3760123456789".into()),
        ),
        (
            "stock_source".into(),
            apache_avro::types::Value::Enum(2, "FBA".into()),
        ),
        (
            "location".into(),
            apache_avro::types::Value::Union(
                1,
                Box::new(apache_avro::types::Value::String("FR".into())),
            ),
        ),
        ("quantity".into(), apache_avro::types::Value::Long(12)),
        (
            "source".into(),
            apache_avro::types::Value::String("amazon.fbaInventory".into()),
        ),
        (
            "request_id".into(),
            apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null)),
        ),
        (
            "observed_at".into(),
            apache_avro::types::Value::TimestampMillis(1_767_225_600_000),
        ),
    ]);
    let mut payload = vec![0, 0, 0, 0, 41];
    payload.extend(apache_avro::to_avro_datum(&old, value).expect("v0 datum"));

    let decoder = Decoder::new(
        &Framing::confluent(client(&registry)),
        TopicNames::default(),
    );
    let cold = decoder.decode_cached::<StockSignal>(Topic::SignalsStock, &payload);
    assert!(
        matches!(
            cold,
            Err(DecodeError::UnknownSchemaId {
                id: SchemaId(41),
                ..
            })
        ),
        "{cold:?}"
    );
    let stock: StockSignal = decoder
        .decode(Topic::SignalsStock, &payload)
        .await
        .expect("v0 data reads with the current schema");
    assert_eq!(
        stock,
        StockSignal {
            gtin: "3760123456789".into(),
            stock_source: hub_schemas::records::StockSource::Fba,
            location: Some("FR".into()),
            quantity: 12,
            incoming_quantity: None,
            lead_time_days: None,
            source: "amazon.fbaInventory".into(),
            request_id: None,
            observed_at: 1_767_225_600_000,
        }
    );
    let fetches = registry.request_count();
    let again: StockSignal = decoder
        .decode_cached(Topic::SignalsStock, &payload)
        .expect("cached now");
    assert_eq!(again, stock);
    assert_eq!(registry.request_count(), fetches);
    assert_eq!(registry.requests()[0].path, "/schemas/ids/41");
}

#[tokio::test]
async fn a_writer_schema_of_another_record_is_refused_by_name() {
    let registry = FakeRegistry::start().await;
    registry.preload(9, "hub.signals.offers-value", Contract::OfferSignal.avsc());
    let decoder = Decoder::new(
        &Framing::confluent(client(&registry)),
        TopicNames::default(),
    );
    let error = decoder
        .decode::<StockSignal>(Topic::SignalsStock, &[0, 0, 0, 0, 9, 0])
        .await
        .expect_err("an OfferSignal id on the stock topic");
    let message = error.to_string();
    assert!(
        matches!(error, DecodeError::WrongContract { .. }),
        "{message}"
    );
    assert!(message.contains("hub.signals.stock"), "{message}");
    assert!(message.contains("sourcinghub.v1.OfferSignal"), "{message}");
}

#[tokio::test]
async fn an_unknown_id_is_a_fatal_not_found_naming_id_and_topic() {
    let registry = FakeRegistry::start().await;
    let decoder = Decoder::new(
        &Framing::confluent(client(&registry)),
        TopicNames::default(),
    );
    let error = decoder
        .decode::<StockSignal>(Topic::SignalsStock, &[0, 0, 0, 0, 7, 2])
        .await
        .expect_err("id 7 is unknown");
    let message = error.to_string();
    match &error {
        DecodeError::Registry { id, cause, .. } => {
            assert_eq!(*id, SchemaId(7));
            assert!(matches!(cause, RegistryError::NotFound { .. }), "{cause:?}");
            assert!(!cause.is_retryable());
        }
        other => panic!("expected a registry error, got {other:?}"),
    }
    assert!(message.contains("Schema 7 not found"), "{message}");
    assert!(message.contains("40403"), "{message}");
    assert!(message.contains("hub.signals.stock"), "{message}");
}

#[tokio::test]
async fn without_a_registry_a_confluent_payload_is_a_clear_error() {
    let decoder = Decoder::new(&Framing::SingleObject, TopicNames::default());
    let error = decoder
        .decode::<StockSignal>(Topic::SignalsStock, &[0, 0, 0, 1, 0, 2])
        .await
        .expect_err("no registry to ask");
    let message = error.to_string();
    assert!(
        matches!(
            error,
            DecodeError::UnknownSchemaId {
                id: SchemaId(256),
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("256") && message.contains("hub.signals.stock"),
        "{message}"
    );
    assert!(
        message.contains("no schema registry is configured"),
        "{message}"
    );
}

#[tokio::test]
async fn an_incompatible_schema_is_refused_with_the_registry_message() {
    let registry = FakeRegistry::start().await;
    let client = client(&registry);
    let subject = "hub.signals.stock-value";
    client
        .register(subject, Contract::StockSignal.schema())
        .await
        .expect("first version");
    let breaking = Schema::parse_str(&Contract::StockSignal.avsc().replace(
        r#""fields": ["#,
        r#""fields": [{"name": "warehouse_zone", "type": "string"},"#,
    ))
    .expect("still valid Avro");

    let verdict = client
        .check_compatibility(subject, &breaking)
        .await
        .expect("answered");
    assert!(!verdict.is_compatible);
    assert!(
        verdict
            .messages
            .iter()
            .any(|m| m.contains("warehouse_zone")),
        "{verdict:?}"
    );
    let last = registry.requests().pop().expect("a request");
    assert_eq!(
        last.path,
        "/compatibility/subjects/hub.signals.stock-value/versions/latest"
    );
    assert_eq!(last.query.as_deref(), Some("verbose=true"));

    let error = client.register(subject, &breaking).await.expect_err("409");
    let message = error.to_string();
    assert!(
        matches!(error, RegistryError::Incompatible { .. }),
        "{message}"
    );
    assert!(!error.is_retryable());
    assert!(
        message.contains("incompatible with an earlier schema"),
        "{message}"
    );
    assert!(message.contains("error_code 409"), "{message}");

    let compatible = client
        .check_compatibility(subject, Contract::StockSignal.schema())
        .await
        .expect("answered");
    assert!(compatible.is_compatible);
    let fresh = client
        .check_compatibility("hub.brand-new-value", &breaking)
        .await
        .expect("a subject without versions accepts anything");
    assert!(fresh.is_compatible);
}

#[tokio::test]
async fn an_invalid_schema_is_refused_as_422() {
    let registry = FakeRegistry::start().await;
    registry.script(
        422,
        r#"{"error_code": 42201, "message": "Either the input schema or one its references is invalid"}"#,
    );
    let error = client(&registry)
        .register("hub.signals.stock-value", Contract::StockSignal.schema())
        .await
        .expect_err("422");
    assert!(
        matches!(error, RegistryError::InvalidSchema { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("42201"), "{error}");
}

#[tokio::test]
async fn server_errors_and_timeouts_are_retryable_and_a_retry_succeeds() {
    let registry = FakeRegistry::start().await;
    registry.script(503, "<html><body>Service Unavailable</body></html>");
    registry.script(
        500,
        r#"{"error_code": 50001, "message": "Error in the backend data store"}"#,
    );
    let client = client(&registry);
    let schema = Contract::CostSignal.schema();

    let first = client
        .register("hub.signals.costs-value", schema)
        .await
        .expect_err("503");
    assert!(first.is_retryable(), "{first:?}");
    assert!(first.to_string().contains("Service Unavailable"), "{first}");
    let second = client
        .register("hub.signals.costs-value", schema)
        .await
        .expect_err("500");
    assert!(second.is_retryable(), "{second:?}");
    assert!(second.to_string().contains("error_code 50001"), "{second}");
    client
        .register("hub.signals.costs-value", schema)
        .await
        .expect("the registry recovered");
}

#[tokio::test]
async fn an_unreachable_registry_is_retryable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let client = SchemaRegistry::new(
        RegistryConfig::new(format!("http://{address}")).with_timeout(Duration::from_secs(2)),
    )
    .expect("valid URL");
    let error = client
        .schema_by_id(SchemaId(1))
        .await
        .expect_err("nobody listens");
    assert!(
        matches!(error, RegistryError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn basic_auth_is_sent_and_never_printed() {
    let registry = FakeRegistry::start().await;
    // base64("hub-producer:s3cr3t/pass")
    registry.require_authorization("Basic aHViLXByb2R1Y2VyOnMzY3IzdC9wYXNz");
    let config = RegistryConfig::new(registry.url()).with_basic_auth("hub-producer", "s3cr3t/pass");
    assert!(!format!("{config:?}").contains("s3cr3t"), "{config:?}");
    let client = Arc::new(SchemaRegistry::new(config).expect("valid"));
    assert!(!format!("{client:?}").contains("s3cr3t"), "{client:?}");
    client
        .register("hub.signals.offers-value", Contract::OfferSignal.schema())
        .await
        .expect("authorised");

    let wrong = SchemaRegistry::new(
        RegistryConfig::new(registry.url()).with_basic_auth("hub-producer", "wrong"),
    )
    .expect("valid");
    let error = wrong.schema_by_id(SchemaId(1)).await.expect_err("401");
    assert!(
        matches!(error, RegistryError::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    assert!(!error.to_string().contains("wrong"), "{error}");
}

#[test]
fn urls_with_credentials_or_odd_schemes_are_refused() {
    for url in [
        "http://user:secret@localhost:8081",
        "ftp://localhost",
        "not a url",
    ] {
        let error = SchemaRegistry::new(RegistryConfig::new(url)).expect_err(url);
        assert!(
            matches!(error, RegistryError::InvalidConfig { .. }),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn a_base_path_is_kept_and_subjects_are_escaped() {
    let registry = FakeRegistry::start().await;
    let client = SchemaRegistry::new(RegistryConfig::new(format!("{}/registry/", registry.url())))
        .expect("valid");
    // The fake has no /registry prefix, so it answers with its generic 404.
    let error = client
        .register("odd subject/value", Contract::StockSignal.schema())
        .await
        .expect_err("no such route");
    assert!(matches!(error, RegistryError::NotFound { .. }), "{error:?}");
    assert_eq!(
        registry.requests()[0].path,
        "/registry/subjects/odd%20subject%2Fvalue/versions"
    );
}

#[tokio::test]
async fn a_non_registry_answer_is_reported_as_such() {
    let registry = FakeRegistry::start().await;
    registry.script(200, "<html>login page</html>");
    let error = client(&registry)
        .schema_by_id(SchemaId(3))
        .await
        .expect_err("not JSON");
    assert!(
        matches!(error, RegistryError::BadResponse { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("fetch schema id 3"), "{error}");
}

#[tokio::test]
async fn stock_encoded_by_one_process_is_decoded_by_another_through_the_registry() {
    let registry = FakeRegistry::start().await;
    let producer_framing = Framing::confluent(client(&registry));
    let encoder = Encoder::prepare(&producer_framing, TopicNames::default())
        .await
        .expect("prepared");
    let payload = encoder
        .encode(Topic::SignalsStock, &sample_stock())
        .expect("encodes");
    // A fresh client has an empty cache, as in a consumer process.
    let consumer = Decoder::new(
        &Framing::confluent(client(&registry)),
        TopicNames::default(),
    );
    let decoded: StockSignal = consumer
        .decode(Topic::SignalsStock, &payload)
        .await
        .expect("decodes");
    assert_eq!(decoded, sample_stock());
    let last = registry
        .requests()
        .pop()
        .expect("the consumer fetched the schema");
    assert_eq!(last.method, "GET");
    assert!(last.path.starts_with("/schemas/ids/"), "{}", last.path);
}
