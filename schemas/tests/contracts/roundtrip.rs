//! Property tests: every record survives both framings exactly, and no byte sequence makes
//! the decoder panic or accept what the encoder would refuse.

use std::fmt::Debug;
use std::sync::{Arc, LazyLock};

use hub_schemas::records::{
    CostSignal, OfferSignal, ProductReference, QuarantinedRecord, ReferenceScore, StockSignal,
};
use hub_schemas::{
    AvroRecord, CONFLUENT_MAGIC, Contract, Decoder, Encoder, Framing, RegistryConfig,
    SINGLE_OBJECT_MAGIC, SchemaRegistry, Topic, TopicNames,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tokio::runtime::Runtime;

use crate::fake_registry::FakeRegistry;
use crate::samples::{
    cost_signal, offer_signal, product_reference, quarantined_record, reference_score, stock_signal,
};

/// Encoders of both framings and a decoder, warmed up once for the whole test binary: the
/// Confluent encoder registered every schema with the fake registry at preparation.
struct Codecs {
    single_object: Encoder,
    confluent: Encoder,
    decoder: Decoder,
    client: Arc<SchemaRegistry>,
    registry: FakeRegistry,
    /// Runs the fake registry's server task.
    runtime: Runtime,
}

static CODECS: LazyLock<Codecs> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime for the fake registry");
    let registry = runtime.block_on(FakeRegistry::start());
    let client = Arc::new(
        SchemaRegistry::new(RegistryConfig::new(registry.url())).expect("fake registry URL"),
    );
    let framing = Framing::Confluent(Arc::clone(&client));
    let confluent = runtime
        .block_on(Encoder::prepare(&framing, TopicNames::default()))
        .expect("registering every contract with the fake registry");
    Codecs {
        single_object: Encoder::single_object(TopicNames::default()),
        confluent,
        decoder: Decoder::new(&framing, TopicNames::default()),
        client,
        registry,
        runtime,
    }
});

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

fn assert_round_trip<R>(topic: Topic, record: &R) -> Result<(), TestCaseError>
where
    R: AvroRecord + PartialEq + Debug,
{
    let codecs = &*CODECS;
    let requests_before = codecs.registry.request_count();

    let single = codecs.single_object.encode(topic, record).map_err(fail)?;
    prop_assert_eq!(&single[..2], &SINGLE_OBJECT_MAGIC[..]);
    prop_assert_eq!(&single[2..10], &R::CONTRACT.fingerprint().0[..]);
    let decoded: R = codecs.decoder.decode_cached(topic, &single).map_err(fail)?;
    prop_assert_eq!(&decoded, record);

    let confluent = codecs.confluent.encode(topic, record).map_err(fail)?;
    prop_assert_eq!(confluent[0], CONFLUENT_MAGIC);
    // Same datum, different header.
    prop_assert_eq!(&confluent[5..], &single[10..]);
    let decoded: R = codecs
        .decoder
        .decode_cached(topic, &confluent)
        .map_err(fail)?;
    prop_assert_eq!(&decoded, record);

    prop_assert_eq!(
        codecs.registry.request_count(),
        requests_before,
        "the warm hot path must not call the registry"
    );
    Ok(())
}

/// Decodes `payload` as every contract; whatever is accepted must be encodable again to the
/// same bytes' meaning, so the decoder never lets through a value the encoder refuses.
fn decode_as_every_contract(payload: &[u8]) -> Result<(), TestCaseError> {
    fn check<R: AvroRecord + PartialEq + Debug>(
        topic: Topic,
        payload: &[u8],
    ) -> Result<(), TestCaseError> {
        let codecs = &*CODECS;
        if let Ok(record) = codecs.decoder.decode_cached::<R>(topic, payload) {
            let again = codecs.single_object.encode(topic, &record).map_err(fail)?;
            let decoded: R = codecs.decoder.decode_cached(topic, &again).map_err(fail)?;
            prop_assert_eq!(decoded, record);
        }
        Ok(())
    }
    for topic in Topic::ALL {
        match topic.contract() {
            Contract::ProductReference => check::<ProductReference>(topic, payload)?,
            Contract::OfferSignal => check::<OfferSignal>(topic, payload)?,
            Contract::StockSignal => check::<StockSignal>(topic, payload)?,
            Contract::CostSignal => check::<CostSignal>(topic, payload)?,
            Contract::ReferenceScore => check::<ReferenceScore>(topic, payload)?,
            Contract::QuarantinedRecord => check::<QuarantinedRecord>(topic, payload)?,
        }
    }
    Ok(())
}

/// The Confluent header the encoder writes for `topic` (the id comes from the client's cache).
fn confluent_header(topic: Topic) -> Vec<u8> {
    let codecs = &*CODECS;
    let subject = TopicNames::default().value_subject(topic);
    let id = codecs
        .runtime
        .block_on(codecs.client.register(&subject, topic.contract().schema()))
        .expect("schemas registered at preparation are cached");
    [&[CONFLUENT_MAGIC][..], &id.0.to_be_bytes()[..]].concat()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn product_reference_round_trips(record in product_reference()) {
        assert_round_trip(Topic::ReferenceProducts, &record)?;
    }

    #[test]
    fn offer_signal_round_trips(record in offer_signal()) {
        assert_round_trip(Topic::SignalsOffers, &record)?;
    }

    #[test]
    fn stock_signal_round_trips(record in stock_signal()) {
        assert_round_trip(Topic::SignalsStock, &record)?;
    }

    #[test]
    fn cost_signal_round_trips(record in cost_signal()) {
        assert_round_trip(Topic::SignalsCosts, &record)?;
    }

    #[test]
    fn reference_score_round_trips_on_both_score_topics(record in reference_score()) {
        assert_round_trip(Topic::ScoresCurrent, &record)?;
        assert_round_trip(Topic::ScoresHistory, &record)?;
    }

    #[test]
    fn quarantined_record_round_trips(record in quarantined_record()) {
        assert_round_trip(Topic::Quarantine, &record)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(payload in vec(any::<u8>(), 0..256)) {
        decode_as_every_contract(&payload)?;
    }

    #[test]
    fn arbitrary_datum_behind_a_valid_header_never_panics(
        contract in 0..Contract::ALL.len(),
        confluent in any::<bool>(),
        datum in vec(any::<u8>(), 0..256),
    ) {
        let contract = Contract::ALL[contract];
        let mut payload = if confluent {
            confluent_header(contract.topics()[0])
        } else {
            [&SINGLE_OBJECT_MAGIC[..], &contract.fingerprint().0[..]].concat()
        };
        payload.extend_from_slice(&datum);
        decode_as_every_contract(&payload)?;
    }

    #[test]
    fn corrupted_payloads_never_panic(
        record in offer_signal(),
        position in any::<prop::sample::Index>(),
        flip in 1..=255u8,
        cut in any::<prop::sample::Index>(),
    ) {
        let mut payload = CODECS
            .single_object
            .encode(Topic::SignalsOffers, &record)
            .map_err(fail)?;
        let at = position.index(payload.len());
        payload[at] ^= flip;
        decode_as_every_contract(&payload)?;
        payload.truncate(cut.index(payload.len()));
        decode_as_every_contract(&payload)?;
    }
}
