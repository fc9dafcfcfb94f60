//! The Mirakl connector's poll over real HTTP against a fake Mirakl seller API on loopback
//! (OF21 offset paging and P11 in their documented shapes, the API key checked exactly as
//! Mirakl does: `Authorization: <key>`, no `Bearer`): a pass to the end, a restart that
//! resumes from the persisted cursor with no gap and no duplicate, a refused page read
//! again, an unreadable page quarantined while the pass goes on.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::in_memory::{CollectingSink, MemoryCursorStore};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hub_connectors::config::{ConnectorsConfig, build};
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{CursorKey, Disposition, ErrorKind, HttpSettings, RateLimit};
use hub_connectors::mirakl::MiraklConfig;
use hub_connectors::sourced::{SignalRecord, Sourced};
use hub_core::gtin::check_digit;
use hub_core::reason::ReasonCode;
use serde_json::{Value, json};

const OUR_SHOP_ID: i64 = 2001;
const OFFERS: usize = 23;

fn gtin(index: usize) -> String {
    let payload = format!("376123400{index:03}");
    let digits: Vec<u8> = payload.bytes().map(|byte| byte - b'0').collect();
    format!("{payload}{}", check_digit(&digits))
}

struct FakeMirakl {
    api_key: String,
    /// OF21 offsets answered with a body that is not JSON.
    garbled_offsets: Vec<usize>,
    /// (max, offset) of every OF21 call.
    of21_calls: Vec<(usize, usize)>,
}

type Shared = Arc<Mutex<FakeMirakl>>;

async fn start(api_key: &str, garbled_offsets: Vec<usize>) -> (Shared, SocketAddr) {
    let state = Arc::new(Mutex::new(FakeMirakl {
        api_key: api_key.to_owned(),
        garbled_offsets,
        of21_calls: Vec::new(),
    }));
    let app = Router::new()
        .route("/api/offers", get(of21))
        .route("/api/products/offers", get(p11))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, address)
}

fn refused(headers: &HeaderMap, api_key: &str) -> Option<Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    (presented != Some(api_key)).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Unauthorized", "status": 401})),
        )
            .into_response()
    })
}

fn own_offer(index: usize) -> Value {
    let price = 100 + index;
    json!({
        "active": true,
        "category_code": "TV_LED",
        "currency_iso_code": "EUR",
        "inactivity_reasons": [],
        "leadtime_to_ship": 2,
        "min_shipping_price": 4.99,
        "offer_id": 5000 + index,
        "price": price,
        "product_references": [{"reference": gtin(index), "reference_type": "EAN"}],
        "product_sku": format!("MP{}", gtin(index)),
        "quantity": 5,
        "shop_sku": format!("SKU-{index}"),
        "state_code": "11",
        "total_price": format!("{}.99", price + 4).parse::<f64>().unwrap()
    })
}

async fn of21(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut fake = state.lock().unwrap();
    if let Some(refusal) = refused(&headers, &fake.api_key) {
        return refusal;
    }
    let max: usize = query["max"].parse().unwrap();
    let offset: usize = query["offset"].parse().unwrap();
    assert_eq!(query["shop_id"], OUR_SHOP_ID.to_string());
    fake.of21_calls.push((max, offset));
    if fake.garbled_offsets.contains(&offset) {
        return (StatusCode::OK, "<html>maintenance</html>").into_response();
    }
    let offers: Vec<Value> = (offset..(offset + max).min(OFFERS))
        .map(own_offer)
        .collect();
    axum::Json(json!({"offers": offers, "total_count": OFFERS})).into_response()
}

async fn p11(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fake = state.lock().unwrap();
    if let Some(refusal) = refused(&headers, &fake.api_key) {
        return refusal;
    }
    let references: Vec<&str> = query["product_references"].split(',').collect();
    assert!(references.len() <= 100);
    let products: Vec<Value> = references
        .iter()
        .map(|reference| {
            let ean = reference
                .strip_prefix("EAN|")
                .expect("EAN|<code> references");
            json!({
                "product_references": [{"reference": ean, "reference_type": "EAN"}],
                "product_sku": format!("MP{ean}"),
                "total_count": 2,
                "offers": [
                    {"active": true, "currency_iso_code": "EUR", "min_shipping_price": 0.0,
                     "offer_id": 9000, "price": 95.5, "shop_id": 3001, "shop_name": "ElectroMax",
                     "state_code": "11", "total_price": 95.5},
                    {"active": true, "currency_iso_code": "EUR", "min_shipping_price": 4.99,
                     "offer_id": 5000, "price": 100, "shop_id": OUR_SHOP_ID,
                     "shop_name": "Sourcing Hub Distribution", "state_code": "11",
                     "total_price": 104.99}
                ]
            })
        })
        .collect();
    axum::Json(json!({"products": products})).into_response()
}

/// A configuration pointing at the fake, its API key in a variable of this test's own.
fn config(address: SocketAddr, key_variable: &str, key: &str) -> ConnectorsConfig {
    // SAFETY: each test sets its own variable, read only by the connector it builds.
    unsafe { std::env::set_var(key_variable, key) };
    let mirakl = MiraklConfig {
        base_url: format!("http://{address}"),
        api_key_env: key_variable.to_owned(),
        shop_id: Some(OUR_SHOP_ID),
        shop_name: None,
        page_size: 10,
        of21_rate: RateLimit::new(200.0, 5).unwrap(),
        p11_rate: RateLimit::new(200.0, 5).unwrap(),
        http: HttpSettings {
            max_retries: 1,
            min_backoff_ms: 10,
            max_backoff_ms: 20,
            ..HttpSettings::default()
        },
    };
    // Through the configuration's serde shape, as `hub connect` reads it.
    serde_json::from_value(json!({ "mirakl": mirakl })).unwrap()
}

/// How many signals each GTIN got.
fn signals_per_gtin(sink: &CollectingSink) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for element in sink.records() {
        if let Sourced::Signal {
            record: SignalRecord::Offer(offer),
            ..
        } = element
        {
            *counts.entry(offer.gtin.clone()).or_insert(0) += 1;
        }
    }
    counts
}

fn every_gtin_once() -> BTreeMap<String, usize> {
    (0..OFFERS).map(|index| (gtin(index), 1)).collect()
}

fn cursor_of(store: &MemoryCursorStore) -> Option<String> {
    store
        .cursors
        .get(&CursorKey::new("mirakl", "OF21"))
        .map(|cursor| cursor.value.clone())
}

async fn poll_until_caught_up(
    connector: &mut Box<dyn Connector>,
    store: &mut MemoryCursorStore,
    sink: &mut CollectingSink,
) -> usize {
    for polls in 1..=10 {
        if connector.poll(store, sink).await.unwrap().caught_up {
            return polls;
        }
    }
    panic!("the pass did not end in 10 polls");
}

#[tokio::test]
async fn a_pass_reads_every_page_once_then_starts_over() {
    let (fake, address) = start("mirakl-key-1", Vec::new()).await;
    let config = config(address, "HUBCONN_TEST_MIRAKL_KEY_1", "mirakl-key-1");
    let mut connector = build("mirakl", &config).unwrap();
    let (mut store, mut sink) = (MemoryCursorStore::default(), CollectingSink::default());

    assert_eq!(
        poll_until_caught_up(&mut connector, &mut store, &mut sink).await,
        3
    );
    assert_eq!(signals_per_gtin(&sink), every_gtin_once());
    assert_eq!(cursor_of(&store).as_deref(), Some("0"));
    assert_eq!(
        fake.lock().unwrap().of21_calls,
        vec![(10, 0), (10, 10), (10, 20)]
    );
    let first = sink.records().next().unwrap();
    let Sourced::Signal {
        record: SignalRecord::Offer(offer),
        origin,
    } = first
    else {
        panic!("expected an offer signal, got {first:?}");
    };
    assert_eq!(origin.source, "mirakl.P11");
    assert_eq!(
        offer.lowest_landed_price_incl_vat,
        Some("95.5".parse().unwrap())
    );
    assert_eq!(offer.offer_count, Some(2));

    // The next pass starts from the first page again.
    connector.poll(&mut store, &mut sink).await.unwrap();
    assert_eq!(fake.lock().unwrap().of21_calls.last(), Some(&(10, 0)));
}

#[tokio::test]
async fn a_restart_resumes_from_the_persisted_cursor_with_no_gap_and_no_duplicate() {
    let (_fake, address) = start("mirakl-key-2", Vec::new()).await;
    let config = config(address, "HUBCONN_TEST_MIRAKL_KEY_2", "mirakl-key-2");
    let (mut store, mut sink) = (MemoryCursorStore::default(), CollectingSink::default());
    {
        let mut first_run = build("mirakl", &config).unwrap();
        let report = first_run.poll(&mut store, &mut sink).await.unwrap();
        assert_eq!((report.signals, report.caught_up), (10, false));
    }
    assert_eq!(cursor_of(&store).as_deref(), Some("10"));
    let mut second_run = build("mirakl", &config).unwrap();
    assert_eq!(
        poll_until_caught_up(&mut second_run, &mut store, &mut sink).await,
        2
    );
    assert_eq!(signals_per_gtin(&sink), every_gtin_once());
}

#[tokio::test]
async fn a_page_the_sink_refuses_is_read_again_and_the_cursor_does_not_move() {
    let (fake, address) = start("mirakl-key-3", Vec::new()).await;
    let config = config(address, "HUBCONN_TEST_MIRAKL_KEY_3", "mirakl-key-3");
    let mut connector = build("mirakl", &config).unwrap();
    let mut store = MemoryCursorStore::default();
    let mut sink = CollectingSink::default();
    connector.poll(&mut store, &mut sink).await.unwrap();

    sink.refuse_next = 1;
    let error = connector.poll(&mut store, &mut sink).await.unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Sink(_)));
    assert_eq!(error.disposition(), Disposition::RetryLater { after: None });
    assert_eq!(cursor_of(&store).as_deref(), Some("10"));

    poll_until_caught_up(&mut connector, &mut store, &mut sink).await;
    assert_eq!(signals_per_gtin(&sink), every_gtin_once());
    let offsets: Vec<usize> = fake
        .lock()
        .unwrap()
        .of21_calls
        .iter()
        .map(|(_, offset)| *offset)
        .collect();
    assert_eq!(offsets, vec![0, 10, 10, 20]);
}

#[tokio::test]
async fn an_unreadable_page_is_quarantined_and_the_pass_goes_on() {
    let (_fake, address) = start("mirakl-key-4", vec![10]).await;
    let config = config(address, "HUBCONN_TEST_MIRAKL_KEY_4", "mirakl-key-4");
    let mut connector = build("mirakl", &config).unwrap();
    let (mut store, mut sink) = (MemoryCursorStore::default(), CollectingSink::default());
    assert_eq!(
        poll_until_caught_up(&mut connector, &mut store, &mut sink).await,
        3
    );
    let quarantined: Vec<&Sourced> = sink
        .records()
        .filter(|element| matches!(element, Sourced::Rejected { .. }))
        .collect();
    assert_eq!(quarantined.len(), 1);
    let Sourced::Rejected { reason, raw, .. } = quarantined[0] else {
        unreachable!()
    };
    assert_eq!(*reason, ReasonCode::Undecodable);
    assert_eq!(raw, b"<html>maintenance</html>");
    let expected: BTreeMap<String, usize> = (0..OFFERS)
        .filter(|index| !(10..20).contains(index))
        .map(|index| (gtin(index), 1))
        .collect();
    assert_eq!(signals_per_gtin(&sink), expected);
}

#[tokio::test]
async fn a_refused_key_stops_the_connector() {
    let (fake, address) = start("the-right-key", Vec::new()).await;
    let config = config(address, "HUBCONN_TEST_MIRAKL_KEY_5", "a-wrong-key");
    let mut connector = build("mirakl", &config).unwrap();
    let (mut store, mut sink) = (MemoryCursorStore::default(), CollectingSink::default());
    let error = connector.poll(&mut store, &mut sink).await.unwrap_err();
    assert_eq!(error.disposition(), Disposition::Stop);
    assert!(error.to_string().starts_with("mirakl.OF21"), "{error}");
    assert!(
        !error.to_string().contains("a-wrong-key"),
        "the key leaked: {error}"
    );
    assert!(fake.lock().unwrap().of21_calls.is_empty());
    assert!(store.cursors.is_empty());
}

#[tokio::test]
async fn a_missing_key_stops_before_any_request() {
    let mut config = config(
        "127.0.0.1:9".parse().unwrap(),
        "HUBCONN_TEST_MIRAKL_KEY_6",
        "k",
    );
    if let Some(mirakl) = config.mirakl.as_mut() {
        mirakl.api_key_env = "HUBCONN_TEST_MIRAKL_KEY_NEVER_SET".to_owned();
    }
    let error = build("mirakl", &config).err().unwrap();
    assert_eq!(error.disposition(), Disposition::Stop);
    assert!(
        error
            .to_string()
            .contains("HUBCONN_TEST_MIRAKL_KEY_NEVER_SET_FILE"),
        "{error}"
    );
}
