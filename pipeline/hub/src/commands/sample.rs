//! `hub sample`: one realistic record of every input contract and one quarantined record
//! (refused by the real quality gate), produced to their topics and read back by position.
//! It proves, on a live deployment, that broker, framing and contracts agree.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use hub_core::gate::{self, GateConfig, Verdict};
use hub_core::reason::{Provenance, RecordType};
use hub_schemas::records::{
    CostKind, CostSignal, Levy, LevyKind, OfferSignal, ProductReference, StockSignal, StockSource,
};
use hub_schemas::{AvroRecord, Decoder, Encoder, Topic};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use rust_decimal::Decimal;

use crate::config::Config;
use crate::kafka::{self, RecordProvenance};
use crate::wiring;

const READ_BACK_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(config: &Config) -> anyhow::Result<()> {
    let topics = wiring::topic_names(config)?;
    kafka::ensure_topics(&config.kafka, &topics.specs()).await?;
    let (encoder, decoder) = wiring::codec(config).await?;
    let producer: FutureProducer = kafka::producer_config(&config.kafka)
        .create()
        .context("creating the Kafka producer")?;
    let now = now_millis();

    let product = sample_product(now);
    let offer = sample_offer(now);
    let stock = sample_stock(now);
    let cost = sample_cost(now);
    let mut cents_mistake = offer.clone();
    cents_mistake.our_price_incl_vat = offer
        .our_price_incl_vat
        .map(|price| price / Decimal::ONE_HUNDRED);
    cents_mistake.our_shipping_incl_vat = Some(Decimal::ZERO);
    let quarantined =
        match gate::check_offer(&cents_mistake, Some(&offer), now, &GateConfig::default()) {
            Verdict::Quarantined(quarantine) => {
                let raw = encoder.encode(Topic::SignalsOffers, &cents_mistake)?;
                quarantine.into_record(
                    raw,
                    Some(cents_mistake.gtin.clone()),
                    Provenance::from_connector("hub.sample", RecordType::OfferSignal),
                    now,
                )
            }
            Verdict::Accepted(_) => anyhow::bail!(
                "the quality gate accepted a price divided by 100; its jump rule is not working"
            ),
        };

    produce_and_read_back(
        &producer,
        &encoder,
        &decoder,
        config,
        Topic::ReferenceProducts,
        &product,
    )
    .await?;
    produce_and_read_back(
        &producer,
        &encoder,
        &decoder,
        config,
        Topic::SignalsOffers,
        &offer,
    )
    .await?;
    produce_and_read_back(
        &producer,
        &encoder,
        &decoder,
        config,
        Topic::SignalsStock,
        &stock,
    )
    .await?;
    produce_and_read_back(
        &producer,
        &encoder,
        &decoder,
        config,
        Topic::SignalsCosts,
        &cost,
    )
    .await?;
    produce_and_read_back(
        &producer,
        &encoder,
        &decoder,
        config,
        Topic::Quarantine,
        &quarantined,
    )
    .await?;
    Ok(())
}

async fn produce_and_read_back<R: AvroRecord + PartialEq + std::fmt::Debug>(
    producer: &FutureProducer,
    encoder: &Encoder,
    decoder: &Decoder,
    config: &Config,
    topic: Topic,
    record: &R,
) -> anyhow::Result<()> {
    let topic_name = encoder.topics().name(topic).to_owned();
    let payload = encoder.encode(topic, record)?;
    let key = record.key();
    let headers = RecordProvenance {
        correlation_id: format!("hub-sample-{}", now_millis()),
        source: Some("hub.sample".into()),
        request_id: None,
    }
    .to_headers();
    let mut message = FutureRecord::to(&topic_name)
        .payload(&payload)
        .headers(headers);
    if let Some(key) = &key {
        message = message.key(key);
    }
    let delivery = producer
        .send(message, Duration::from_secs(30))
        .await
        .map_err(|(error, _)| error)
        .with_context(|| {
            format!(
                "producing the sample {} to {topic_name}",
                R::CONTRACT.name()
            )
        })?;

    let consumer: BaseConsumer = kafka::base_client_config(&config.kafka)
        .set("group.id", "hub-sample-reader")
        .set("enable.auto.commit", "false")
        .create()
        .context("creating the Kafka read-back consumer")?;
    let mut position = TopicPartitionList::new();
    position.add_partition_offset(
        &topic_name,
        delivery.partition,
        Offset::Offset(delivery.offset),
    )?;
    consumer.assign(&position)?;
    let message = tokio::task::block_in_place(|| consumer.poll(READ_BACK_TIMEOUT))
        .with_context(|| {
            format!(
                "no record at {topic_name}/{}@{} within {READ_BACK_TIMEOUT:?}",
                delivery.partition, delivery.offset
            )
        })?
        .context("reading the sample back")?;
    let decoded: R = decoder
        .decode(topic, message.payload().unwrap_or_default())
        .await?;
    anyhow::ensure!(
        &decoded == record,
        "{topic_name}/{}@{} decoded differently from what was produced:\nproduced {record:?}\ndecoded  {decoded:?}",
        delivery.partition,
        delivery.offset
    );
    crate::outln!(
        "{topic_name:<28} partition {} offset {:<6} key {:<22} {} bytes, read back identical",
        delivery.partition,
        delivery.offset,
        key.as_deref().unwrap_or("(none)"),
        payload.len()
    )?;
    Ok(())
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or_default()
}

fn euros(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fn sample_product(now: i64) -> ProductReference {
    ProductReference {
        gtin: "3760145620019".into(),
        sku: "LAP-ASP-A515".into(),
        title: "Acer Aspire 5 A515-58M 15.6\" Intel Core i5 16 Go 512 Go SSD".into(),
        brand: Some("Acer".into()),
        category: "computers".into(),
        vat_rate: Decimal::new(20, 2),
        weight_g: Some(2_400),
        length_mm: Some(480),
        width_mm: Some(330),
        height_mm: Some(80),
        levies: vec![Levy {
            kind: LevyKind::DeeeEcoParticipation,
            amount_incl_vat: euros(100),
        }],
        source: "odoo.product.product".into(),
        updated_at: now,
        active: true,
    }
}

fn sample_offer(now: i64) -> OfferSignal {
    OfferSignal {
        gtin: "3760145620019".into(),
        channel: "amazon".into(),
        currency: "EUR".into(),
        our_price_incl_vat: Some(euros(64_999)),
        our_shipping_incl_vat: Some(Decimal::ZERO),
        buy_box_price_incl_vat: Some(euros(62_990)),
        we_own_buy_box: Some(false),
        lowest_listing_price_incl_vat: Some(euros(61_990)),
        lowest_shipping_incl_vat: Some(euros(499)),
        lowest_landed_price_incl_vat: Some(euros(62_489)),
        offer_count: Some(7),
        sales_rank: Some(1_284),
        marketplace_category: Some("Informatique".into()),
        source: "amazon.getItemOffers".into(),
        request_id: Some("6b0c4a4e-5d1f-4f7e-9f5a-2a1f0c3e8d11".into()),
        observed_at: now,
    }
}

fn sample_stock(now: i64) -> StockSignal {
    StockSignal {
        gtin: "3760145620019".into(),
        stock_source: StockSource::Erp,
        location: Some("WH-LYON".into()),
        quantity: 42,
        incoming_quantity: Some(100),
        lead_time_days: Some(2),
        source: "odoo.product.product".into(),
        request_id: None,
        observed_at: now,
    }
}

fn sample_cost(now: i64) -> CostSignal {
    CostSignal {
        gtin: "3760145620019".into(),
        cost_kind: CostKind::SupplierPrice,
        supplier_id: Some("grossiste-ouest".into()),
        unit_cost_excl_vat: Decimal::new(4_312_500, 4),
        currency: "EUR".into(),
        moq: Some(5),
        valid_from: Some(now - 86_400_000),
        valid_to: Some(now + 30 * 86_400_000),
        lead_time_days: Some(4),
        source: "odoo.product.supplierinfo".into(),
        request_id: None,
        observed_at: now,
    }
}
