//! Our bytes are standard Avro: realistic records of every contract, encoded in both
//! framings, are decoded by fastavro (tests/python/decode_with_fastavro.py), which checks
//! the framing with its own fingerprinting and compares every field, decimals exactly.
//!
//! The interpreter is `HUB_PYTHON`, by default the venv that `devtools/requirements.txt`
//! is installed into; a missing interpreter or fastavro fails the test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail, ensure};
use hub_integration_tests::unique_name;
use hub_schemas::records::{
    CostKind, CostSignal, FactorContribution, Levy, LevyKind, MarginBreakdown, OfferSignal,
    ProductReference, QuarantinedRecord, ReferenceScore, StockSignal, StockSource,
};
use hub_schemas::{
    AvroRecord, Encoder, Framing, RegistryConfig, SchemaRegistry, Topic, TopicNames,
};
use rust_decimal_macros::dec;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const DEFAULT_PYTHON: &str = "/root/.local/share/sourcing-hub/venv/bin/python";

fn python() -> String {
    std::env::var("HUB_PYTHON").unwrap_or_else(|_| DEFAULT_PYTHON.to_owned())
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/decode_with_fastavro.py")
}

const OBSERVED_AT: i64 = 1_767_225_600_123;

fn product() -> ProductReference {
    ProductReference {
        gtin: "3760123456789".into(),
        sku: "KET-17-INOX".into(),
        title: "Bouilloire électrique 1,7 L – inox".into(),
        brand: Some("Cuisinor".into()),
        category: "small_appliances".into(),
        vat_rate: dec!(0.2),
        weight_g: Some(1450),
        length_mm: Some(230),
        width_mm: Some(160),
        height_mm: Some(250),
        levies: vec![
            Levy {
                kind: LevyKind::DeeeEcoParticipation,
                amount_incl_vat: dec!(0.50),
            },
            Levy {
                kind: LevyKind::PrivateCopy,
                amount_incl_vat: dec!(12.0001),
            },
        ],
        source: "odoo.product.product".into(),
        updated_at: OBSERVED_AT,
        active: true,
    }
}

fn offer() -> OfferSignal {
    OfferSignal {
        gtin: "3760123456789".into(),
        channel: "amazon".into(),
        currency: "EUR".into(),
        our_price_incl_vat: Some(dec!(39.99)),
        our_shipping_incl_vat: Some(dec!(0)),
        buy_box_price_incl_vat: Some(dec!(38.49)),
        we_own_buy_box: Some(false),
        lowest_listing_price_incl_vat: Some(dec!(35.90)),
        lowest_shipping_incl_vat: Some(dec!(2.59)),
        lowest_landed_price_incl_vat: Some(dec!(38.49)),
        offer_count: Some(7),
        sales_rank: Some(15_204),
        marketplace_category: None,
        source: "amazon.getItemOffers".into(),
        request_id: Some("8f1c2a7e-0b1d-4c55-9a61-3d1f0e2b9c44".into()),
        observed_at: OBSERVED_AT,
    }
}

fn stock() -> StockSignal {
    StockSignal {
        gtin: "3760123456789".into(),
        stock_source: StockSource::Fba,
        location: Some("FR".into()),
        quantity: 0,
        incoming_quantity: Some(240),
        lead_time_days: None,
        source: "amazon.fbaInventorySummaries".into(),
        request_id: None,
        observed_at: OBSERVED_AT,
    }
}

fn cost() -> CostSignal {
    CostSignal {
        gtin: "3760123456789".into(),
        cost_kind: CostKind::SupplierPrice,
        supplier_id: Some("SUP-0042".into()),
        unit_cost_excl_vat: dec!(17.4235),
        currency: "EUR".into(),
        moq: Some(24),
        valid_from: Some(1_764_547_200_000),
        valid_to: None,
        lead_time_days: Some(5),
        source: "supplier.priceList".into(),
        request_id: None,
        observed_at: OBSERVED_AT,
    }
}

fn score() -> ReferenceScore {
    ReferenceScore {
        gtin: "3760123456789".into(),
        channel: "amazon".into(),
        version: 12,
        score: dec!(61.2500),
        confidence: dec!(0.85),
        factors: vec![
            FactorContribution {
                name: "margin_potential".into(),
                raw_value: Some(dec!(0.214817)),
                normalised: dec!(0.716057),
                weight: dec!(0.35),
                contribution: dec!(25.0620),
                explanation: "net margin rate 21.48% against a 30% target".into(),
            },
            FactorContribution {
                name: "availability".into(),
                raw_value: None,
                normalised: dec!(0),
                weight: dec!(0.15),
                contribution: dec!(-0.0001),
                explanation: "no stock signal".into(),
            },
        ],
        missing_inputs: vec!["stock".into()],
        margin: Some(MarginBreakdown {
            currency: "EUR".into(),
            price_incl_vat: dec!(39.99),
            shipping_incl_vat: dec!(0),
            levies_incl_vat: dec!(0.50),
            revenue_excl_vat: dec!(32.9083),
            commission_excl_vat: dec!(5.00),
            digital_services_fee_excl_vat: dec!(0.15),
            fulfilment_method: "fba".into(),
            fulfilment_fee_excl_vat: dec!(4.21),
            subscription_per_unit_excl_vat: dec!(0.03),
            operational_cost_excl_vat: dec!(1.20),
            product_cost_excl_vat: dec!(17.4235),
            product_cost_source: "supplier:SUP-0042".into(),
            net_margin_excl_vat: dec!(4.8948),
            margin_rate: dec!(0.148740),
            roi: dec!(-0.280931),
        }),
        action: "reprice".into(),
        action_rule: "reprice: margin_rate 0.1487 < target 0.20".into(),
        target_price_incl_vat: Some(dec!(43.9900)),
        weights_profile: "default".into(),
        weights_version: "2026-01-15".into(),
        fee_schedule_version: "amazon-fr-2026-01".into(),
        offer_observed_at: Some(OBSERVED_AT),
        stock_observed_at: None,
        cost_observed_at: Some(OBSERVED_AT - 3_600_000),
        scored_at: OBSERVED_AT,
    }
}

fn quarantined() -> QuarantinedRecord {
    QuarantinedRecord {
        source: "hub.signals.offers".into(),
        record_type: "offer_signal".into(),
        original_topic: Some("hub.signals.offers".into()),
        original_partition: Some(3),
        original_offset: Some(918_273),
        key: Some(b"3760123456788".to_vec()),
        raw: vec![0xc3, 0x01, 0x00, 0xff, 0x7f, 0x80],
        gtin: None,
        reason_code: "GTIN_CHECK_DIGIT".into(),
        detail: "gtin 3760123456788: check digit 8, expected 9".into(),
        observed_at: OBSERVED_AT,
    }
}

/// Registry ids the stand-in registry handed out, by subject.
type Ids = Arc<Mutex<HashMap<String, u32>>>;

/// A minimal stand-in for the registry's `POST /subjects/{subject}/versions`, enough for
/// `Encoder::prepare` (this crate has no HTTP server library; one request per connection).
async fn registry_stand_in() -> Result<(String, Ids)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let ids: Ids = Arc::default();
    let assigned = Arc::clone(&ids);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            let mut content_length = 0usize;
            if reader.read_line(&mut request_line).await.is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).await.is_err() || header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; content_length];
            if reader.read_exact(&mut body).await.is_err() {
                continue;
            }
            let subject = request_line
                .split_whitespace()
                .nth(1)
                .and_then(|path| path.strip_prefix("/subjects/"))
                .and_then(|rest| rest.strip_suffix("/versions"))
                .unwrap_or_default()
                .to_owned();
            let id = {
                let mut ids = assigned
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let next = 100 + ids.len() as u32;
                *ids.entry(subject).or_insert(next)
            };
            let answer = json!({ "id": id }).to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = reader.get_mut().write_all(response.as_bytes()).await;
        }
    });
    Ok((url, ids))
}

struct Cases {
    dir: PathBuf,
    manifest: Vec<Value>,
}

impl Cases {
    fn add<R: AvroRecord + Serialize>(
        &mut self,
        encoders: &[(&str, &Encoder)],
        topics: &TopicNames,
        ids: &HashMap<String, u32>,
        topic: Topic,
        record: &R,
    ) -> Result<()> {
        let contract = topic.contract();
        std::fs::write(self.dir.join(contract.file_name()), contract.avsc())?;
        for (framing, encoder) in encoders {
            let name = format!("{}_{framing}", topics.name(topic));
            let payload_file = format!("{name}.bin");
            let payload = encoder.encode(topic, record)?;
            std::fs::write(self.dir.join(&payload_file), payload)?;
            let mut case = json!({
                "name": name,
                "schema_file": contract.file_name(),
                "framing": framing,
                "payload_file": payload_file,
                "expected": serde_json::to_value(record)?,
            });
            if *framing == "confluent" {
                let subject = topics.value_subject(topic);
                case["schema_id"] = json!(
                    ids.get(&subject)
                        .with_context(|| format!("no id for {subject}"))?
                );
            }
            self.manifest.push(case);
        }
        Ok(())
    }
}

#[tokio::test]
async fn fastavro_decodes_every_contract_in_both_framings() -> Result<()> {
    let topics = TopicNames::default();
    let (url, ids) = registry_stand_in().await?;
    let framing = Framing::confluent(SchemaRegistry::new(RegistryConfig::new(url))?);
    let confluent = Encoder::prepare(&framing, topics.clone()).await?;
    let single_object = Encoder::single_object(topics.clone());
    let encoders = [("single_object", &single_object), ("confluent", &confluent)];
    let ids = ids
        .lock()
        .map_err(|_| anyhow::anyhow!("id map poisoned"))?
        .clone();

    let dir = std::env::temp_dir().join(unique_name("fastavro_contracts"));
    std::fs::create_dir_all(&dir)?;
    let mut cases = Cases {
        dir: dir.clone(),
        manifest: Vec::new(),
    };
    cases.add(
        &encoders,
        &topics,
        &ids,
        Topic::ReferenceProducts,
        &product(),
    )?;
    cases.add(&encoders, &topics, &ids, Topic::SignalsOffers, &offer())?;
    cases.add(&encoders, &topics, &ids, Topic::SignalsStock, &stock())?;
    cases.add(&encoders, &topics, &ids, Topic::SignalsCosts, &cost())?;
    cases.add(&encoders, &topics, &ids, Topic::ScoresCurrent, &score())?;
    cases.add(&encoders, &topics, &ids, Topic::ScoresHistory, &score())?;
    cases.add(&encoders, &topics, &ids, Topic::Quarantine, &quarantined())?;
    ensure!(
        cases.manifest.len() == 2 * Topic::ALL.len(),
        "every topic in both framings"
    );
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&cases.manifest)?,
    )?;

    let python = python();
    let output = Command::new(&python)
        .arg(script())
        .arg(&dir)
        .output()
        .with_context(|| {
            format!(
                "cannot run {python} (HUB_PYTHON): create the dev venv with fastavro from \
                 devtools/requirements.txt"
            )
        })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "fastavro disagrees with our encoding (or is not installed; see \
             devtools/requirements.txt), cases in {}:\n{stdout}\n{stderr}",
            dir.display()
        );
    }
    ensure!(
        stdout.contains(&format!(
            "{} cases decoded as expected, 0 mismatched",
            cases.manifest.len()
        )),
        "unexpected fastavro script output:\n{stdout}\n{stderr}"
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
