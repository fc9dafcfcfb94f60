//! The Mirakl connector over real HTTP against the in-process simulator, run as `hub
//! connect` runs it and publishing to the real broker: a pass reads every offer once;
//! a restart resumes from the persisted cursor with no gap and no duplicate; a 429 storm
//! is obeyed without exceeding the rate budget; a failing endpoint opens the breaker,
//! which closes again once it recovers; malformed payload elements go to quarantine with
//! their reasons while the connector keeps running. What the connector sent is read from
//! the simulator's own counters (`/_sim/stats`), what it published from the topics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Once;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use hub::config::Config;
use hub_connectors::config::{ConnectorsConfig, build};
use hub_connectors::connector::Connector;
use hub_connectors::machinery::{HttpSettings, RateLimit};
use hub_connectors::mirakl::MiraklConfig;
use hub_core::channel::Channel;
use hub_integration_tests::connectors::{
    broker_config, cursors, eventually, health, run_connectors, simulator_stats, start_simulator,
};
use hub_integration_tests::market::read_until;
use hub_market_sim::http::{
    FailingWindow, FaultConfig, Faults, MIRAKL_OF21, MIRAKL_P11, RunningSimulator, Window,
};
use hub_schemas::records::{OfferSignal, QuarantinedRecord};
use hub_schemas::{Decoder, Framing, Topic, TopicNames};

const WAIT: Duration = Duration::from_secs(120);
/// Long enough that a test sees exactly one pass: a connector that caught up waits this
/// long before the next.
const ONE_PASS: Duration = Duration::from_secs(3_600);
const API_KEY_ENV: &str = "HUB_TEST_SIMULATED_MIRAKL_KEY";

/// Every test's connector reads its key from the same variable, set once to the
/// simulator's key (identical in every simulator) before any connector is built.
fn provide_api_key(simulator: &RunningSimulator) {
    static SET: Once = Once::new();
    let key = simulator.simulator.credentials().mirakl_api_key.clone();
    SET.call_once(|| {
        // SAFETY: set once, to the same constant in every test, before any connector of
        // this process reads it; nothing else in the tests reads or writes it.
        unsafe { std::env::set_var(API_KEY_ENV, key) };
    });
}

fn mirakl_config(simulator: &RunningSimulator, page_size: u32, rate: RateLimit) -> MiraklConfig {
    provide_api_key(simulator);
    MiraklConfig {
        base_url: simulator.base_url(),
        api_key_env: API_KEY_ENV.to_owned(),
        shop_id: Some(simulator.simulator.credentials().mirakl_shop_id as i64),
        shop_name: None,
        page_size,
        of21_rate: rate,
        p11_rate: rate,
        http: HttpSettings {
            timeout_ms: 5_000,
            max_retries: 1,
            min_backoff_ms: 50,
            max_backoff_ms: 500,
            breaker_failure_threshold: 3,
            breaker_cooldown_ms: 1_000,
            ..HttpSettings::default()
        },
    }
}

fn mirakl(config: MiraklConfig) -> Result<Box<dyn Connector>> {
    let connectors = ConnectorsConfig {
        mirakl: Some(config),
        ..ConnectorsConfig::default()
    };
    Ok(build("mirakl", &connectors)?)
}

const FAST: RateLimit = RateLimit {
    per_second: 50.0,
    burst: 5,
};

fn decoder(config: &Config) -> Result<Decoder> {
    Ok(Decoder::new(
        &Framing::SingleObject,
        TopicNames::new(&config.kafka.topic_prefix)?,
    ))
}

/// The GTINs of our offers on the simulated Mirakl marketplace: what one OF21 pass reads.
fn our_mirakl_offers(simulator: &RunningSimulator) -> BTreeSet<String> {
    simulator
        .simulator
        .pages(Channel::Mirakl)
        .into_iter()
        .filter(|page| page.ours)
        .map(|page| page.gtin)
        .collect()
}

fn from_mirakl(source: &str) -> bool {
    source.starts_with("mirakl.")
}

/// Mirakl offer signals per GTIN, read until every GTIN of `expected` has one.
async fn mirakl_offers_covering(
    config: &Config,
    expected: &BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<OfferSignal>>> {
    let covered = |offers: &[OfferSignal]| {
        let seen: BTreeSet<&str> = offers
            .iter()
            .filter(|offer| from_mirakl(&offer.source))
            .map(|offer| offer.gtin.as_str())
            .collect();
        expected.iter().all(|gtin| seen.contains(gtin.as_str()))
    };
    // The connectors create the topics as they start; the reader may come first.
    hub::kafka::ensure_topics(
        &config.kafka,
        &TopicNames::new(&config.kafka.topic_prefix)?.specs(),
    )
    .await?;
    let offers: Vec<OfferSignal> = read_until(
        config,
        &decoder(config)?,
        Topic::SignalsOffers,
        WAIT,
        covered,
    )
    .await?;
    let mut by_gtin: BTreeMap<String, Vec<OfferSignal>> = BTreeMap::new();
    for offer in offers
        .into_iter()
        .filter(|offer| from_mirakl(&offer.source))
    {
        by_gtin.entry(offer.gtin.clone()).or_default().push(offer);
    }
    Ok(by_gtin)
}

/// Exactly one signal per offer: none missing, none twice, nothing else.
fn exactly_once(
    by_gtin: &BTreeMap<String, Vec<OfferSignal>>,
    expected: &BTreeSet<String>,
) -> Result<()> {
    let seen: BTreeSet<String> = by_gtin.keys().cloned().collect();
    ensure!(
        &seen == expected,
        "offers read {} differ from the {} offers listed: missing {:?}, unexpected {:?}",
        seen.len(),
        expected.len(),
        expected.difference(&seen).collect::<Vec<_>>(),
        seen.difference(expected).collect::<Vec<_>>()
    );
    let duplicated: Vec<(&String, usize)> = by_gtin
        .iter()
        .filter(|(_, offers)| offers.len() > 1)
        .map(|(gtin, offers)| (gtin, offers.len()))
        .collect();
    ensure!(
        duplicated.is_empty(),
        "offers published more than once: {duplicated:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_pages_through_every_offer_to_the_end() -> Result<()> {
    let config = broker_config("mirakl_pages", ONE_PASS);
    let simulator = start_simulator(400, FaultConfig::default()).await?;
    let expected = our_mirakl_offers(&simulator);
    ensure!(
        expected.len() > 3 * 20,
        "the catalogue must span several pages"
    );
    let connectors = run_connectors(&config, vec![mirakl(mirakl_config(&simulator, 20, FAST))?]);
    let by_gtin = mirakl_offers_covering(&config, &expected).await?;
    connectors.stop().await?;
    exactly_once(&by_gtin, &expected)?;
    let stats = simulator_stats(&simulator).await?;
    let of21 = stats.operation(MIRAKL_OF21);
    let pages = expected.len().div_ceil(20) as u64;
    ensure!(
        of21.status_count(200) == pages,
        "one pass of {} offers by 20 is {pages} OF21 pages, the simulator answered {:?}",
        expected.len(),
        of21.responses
    );
    ensure!(
        stats.operation(MIRAKL_P11).status_count(200) == pages,
        "one P11 call per page"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_resumes_from_the_saved_cursor_without_gap_or_duplicate() -> Result<()> {
    let config = broker_config("mirakl_resume", ONE_PASS);
    // Slow pages, so the stop lands in the middle of the pass.
    let slow = FaultConfig {
        default: Faults {
            delay_ms: 150,
            ..Faults::default()
        },
        ..FaultConfig::default()
    };
    let simulator = start_simulator(500, slow).await?;
    let expected = our_mirakl_offers(&simulator);
    let page_size = 10;
    let first = run_connectors(
        &config,
        vec![mirakl(mirakl_config(&simulator, page_size, FAST))?],
    );
    let mid_pass = |cursors: &BTreeMap<String, String>| {
        cursors
            .get("mirakl.OF21")
            .and_then(|offset| offset.parse::<usize>().ok())
    };
    eventually(
        WAIT,
        async || cursors(&config).await,
        |saved| mid_pass(saved).is_some_and(|offset| offset >= 3 * page_size as usize),
        |saved| format!("cursors so far: {saved:?}"),
    )
    .await?;
    first.stop().await?;
    let stopped_at = cursors(&config).await?;
    let offset = mid_pass(&stopped_at).unwrap_or_default();
    ensure!(
        offset > 0 && offset < expected.len(),
        "the stop must land mid-pass: cursor {offset} of {} offers ({stopped_at:?})",
        expected.len()
    );

    let second = run_connectors(
        &config,
        vec![mirakl(mirakl_config(&simulator, page_size, FAST))?],
    );
    let by_gtin = mirakl_offers_covering(&config, &expected).await?;
    second.stop().await?;
    exactly_once(&by_gtin, &expected)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_storm_is_obeyed_within_the_rate_budget() -> Result<()> {
    let config = broker_config("mirakl_storm", ONE_PASS);
    let budget = RateLimit {
        per_second: 4.0,
        burst: 2,
    };
    // Throttling at random throughout; the storm (every request refused) from the start
    // until the connector has met it, however long it takes to start on a loaded machine.
    let throttling = Faults {
        throttle_rate: 0.2,
        retry_after_secs: 1,
        ..Faults::default()
    };
    let storm = Faults {
        storm: Some(Window {
            after_ms: 0,
            duration_ms: WAIT.as_millis() as u64,
            every_ms: None,
        }),
        ..throttling.clone()
    };
    let simulator = start_simulator(
        250,
        FaultConfig {
            seed: 11,
            default: storm,
            ..FaultConfig::default()
        },
    )
    .await?;
    let expected = our_mirakl_offers(&simulator);
    let connectors = run_connectors(
        &config,
        vec![mirakl(mirakl_config(&simulator, 20, budget))?],
    );
    eventually(
        WAIT,
        async || simulator_stats(&simulator).await,
        |stats| stats.operation(MIRAKL_OF21).throttled_in_storm > 0,
        |stats| format!("the connector never met the storm: {stats:?}"),
    )
    .await?;
    // A storm of a few Retry-Afters, then only the random throttling.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    simulator.simulator.set_faults(FaultConfig {
        seed: 11,
        default: throttling,
        ..FaultConfig::default()
    })?;
    let by_gtin = mirakl_offers_covering(&config, &expected).await?;
    connectors.stop().await?;
    exactly_once(&by_gtin, &expected)?;

    let stats = simulator_stats(&simulator).await?;
    for operation in [MIRAKL_OF21, MIRAKL_P11] {
        let counters = stats.operation(operation);
        ensure!(
            operation != MIRAKL_OF21 || counters.throttled_in_storm > 0,
            "{operation}: the storm must have throttled requests: {counters:?}"
        );
        ensure!(
            counters.retry_after_violations == 0,
            "{operation}: {} requests came before their Retry-After elapsed",
            counters.retry_after_violations
        );
        // A token bucket admits at most burst + rate x window in any window; one more
        // for the network's jitter between the client's clock and the server's.
        let ceiling = budget.burst as usize + budget.per_second as usize + 1;
        let densest = counters.max_in_window(1_000);
        ensure!(
            densest <= ceiling,
            "{operation}: {densest} requests within one second, above the budget of {} per second with a burst of {} ({ceiling} at most)",
            budget.per_second,
            budget.burst
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_endpoint_opens_the_breaker_which_closes_on_recovery() -> Result<()> {
    let config = broker_config("mirakl_breaker", ONE_PASS);
    // Failing until the test has seen the breaker open, however long the connector takes
    // to start on a loaded machine; then healed.
    let failing = Faults {
        failing: Some(FailingWindow {
            window: Window {
                after_ms: 0,
                duration_ms: WAIT.as_millis() as u64,
                every_ms: None,
            },
            status: 503,
        }),
        ..Faults::default()
    };
    let simulator = start_simulator(
        200,
        FaultConfig {
            operations: [(MIRAKL_OF21.to_owned(), failing)].into(),
            ..FaultConfig::default()
        },
    )
    .await?;
    let expected = our_mirakl_offers(&simulator);
    let settings = mirakl_config(&simulator, 20, FAST);
    let threshold = settings.http.breaker_failure_threshold;
    let cooldown = Duration::from_millis(settings.http.breaker_cooldown_ms);
    let outage_started = Instant::now();
    let connectors = run_connectors(&config, vec![mirakl(settings)?]);

    let tripped = eventually(
        WAIT,
        async || health(&config).await,
        |reports| {
            reports
                .get("mirakl")
                .is_some_and(|report| report.breaker != "closed")
        },
        |reports| format!("health reports: {reports:?}"),
    )
    .await?;
    // Open for a few cooldowns, so that probes are seen failing, then healed.
    tokio::time::sleep(cooldown * 3).await;
    simulator.simulator.set_faults(FaultConfig::default())?;
    let outage = outage_started.elapsed();
    let by_gtin = mirakl_offers_covering(&config, &expected).await?;
    let recovered = eventually(
        WAIT,
        async || health(&config).await,
        |reports| {
            reports.get("mirakl").is_some_and(|report| {
                report.breaker == "closed" && report.last_success_at.is_some()
            })
        },
        |reports| format!("health reports: {reports:?}"),
    )
    .await?;
    connectors.stop().await?;
    exactly_once(&by_gtin, &expected)?;

    let of21 = simulator_stats(&simulator).await?.operation(MIRAKL_OF21);
    // While open, the breaker lets one probe through per cooldown: the outage costs the
    // threshold's failures (each retried once) plus about one probe per cooldown, not a
    // retry storm.
    let probes = outage.as_millis() / cooldown.as_millis() + 2;
    let bound = u64::from(threshold) * 2 + probes as u64;
    ensure!(
        of21.failed <= bound,
        "{} OF21 requests failed during the {outage:?} outage, more than the breaker allows ({bound}); tripped: {:?}, recovered: {:?}",
        of21.failed,
        tripped.get("mirakl"),
        recovered.get("mirakl")
    );
    ensure!(
        of21.failed >= u64::from(threshold),
        "the outage must have been met"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_elements_are_quarantined_and_the_connector_keeps_running() -> Result<()> {
    let config = broker_config("mirakl_malformed", ONE_PASS);
    let simulator = start_simulator(
        300,
        FaultConfig {
            seed: 5,
            default: Faults {
                malformed_rate: 0.1,
                ..Faults::default()
            },
            ..FaultConfig::default()
        },
    )
    .await?;
    let listed = our_mirakl_offers(&simulator);
    let connectors = run_connectors(&config, vec![mirakl(mirakl_config(&simulator, 20, FAST))?]);
    // The pass ends when the connector caught up: its cursor is back to the start.
    eventually(
        WAIT,
        async || Ok((cursors(&config).await?, health(&config).await?)),
        |(saved, reports)| {
            saved.get("mirakl.OF21").is_some_and(|offset| offset == "0")
                && reports
                    .get("mirakl")
                    .is_some_and(|report| report.signals > 0)
        },
        |(saved, reports)| format!("cursors {saved:?}, health {reports:?}"),
    )
    .await?;
    let stats = simulator_stats(&simulator).await?;
    let (malformed, placeholders) = [MIRAKL_OF21, MIRAKL_P11]
        .iter()
        .map(|operation| stats.operation(operation))
        .fold((0, 0), |(malformed, placeholders), served| {
            (
                malformed + served.malformed_elements,
                placeholders + served.placeholder_offers,
            )
        });
    ensure!(
        malformed > 0,
        "the simulator must have malformed some elements"
    );
    // One quarantined record per malformed element and per placeholder offer served, no
    // more: a sound element refused would be one too many.
    let refused = malformed + placeholders;
    let decoder = decoder(&config)?;
    let quarantined: Vec<QuarantinedRecord> = read_until(
        &config,
        &decoder,
        Topic::Quarantine,
        WAIT,
        |records: &[QuarantinedRecord]| {
            records
                .iter()
                .filter(|record| from_mirakl(&record.source))
                .count() as u64
                >= refused
        },
    )
    .await?;
    ensure!(
        !connectors.has_stopped(),
        "the connector must keep running after malformed pages"
    );
    connectors.stop().await?;
    let from_mirakl: Vec<&QuarantinedRecord> = quarantined
        .iter()
        .filter(|record| from_mirakl(&record.source))
        .collect();
    ensure!(
        from_mirakl.len() as u64 == refused
            && from_mirakl
                .iter()
                .filter(|record| record.reason_code == "PLACEHOLDER_OFFER")
                .count() as u64
                == placeholders,
        "{} Mirakl elements quarantined for {malformed} malformed ones and {placeholders} \
         placeholder offers served",
        from_mirakl.len()
    );
    for record in &from_mirakl {
        ensure!(
            !record.reason_code.is_empty() && !record.detail.is_empty() && !record.raw.is_empty(),
            "a quarantined element carries its reason, detail and raw bytes: {record:?}"
        );
    }
    // Every listed offer that was served intact became a signal.
    let offers: Vec<OfferSignal> = read_until(
        &config,
        &decoder,
        Topic::SignalsOffers,
        WAIT,
        |offers: &[OfferSignal]| {
            let seen: BTreeSet<&str> = offers.iter().map(|offer| offer.gtin.as_str()).collect();
            seen.len() as u64 + stats.operation(MIRAKL_OF21).malformed_elements
                >= listed.len() as u64
        },
    )
    .await?;
    ensure!(offers.iter().all(|offer| listed.contains(&offer.gtin)));
    Ok(())
}
