//! `hub simulate`: serves the third-party APIs (marketplaces, ERP, suppliers) over a
//! generated, moving market on a loopback address, with injected faults, until SIGINT or
//! SIGTERM. The connectors are pointed at it instead of the real APIs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use hub_market_sim::CatalogueParams;
use hub_market_sim::http::{
    FailingWindow, FaultConfig, Faults, MarketClock, SimServerConfig, Simulator, Window,
};

use crate::telemetry;

#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// Loopback address to serve on (the simulated credentials are public: never exposed).
    #[arg(long, default_value = "127.0.0.1:8900")]
    pub listen: SocketAddr,
    /// Product references in the catalogue.
    #[arg(long, default_value_t = 30_000)]
    pub references: usize,
    /// Seed of the catalogue.
    #[arg(long, default_value_t = 42)]
    pub catalogue_seed: u64,
    /// Seed of the market's moves and of the injected faults.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Market changes (repricing, buy box moves, stock-outs, supplier prices) per second.
    #[arg(long, default_value_t = 20.0)]
    pub changes_per_second: f64,
    /// Delay added to every answer, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// Share of requests answered 429 with Retry-After.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Every this many seconds, a 429 storm of --storm-secs (0: no storms).
    #[arg(long, default_value_t = 0)]
    pub storm_every_secs: u64,
    /// Seconds each 429 storm lasts.
    #[arg(long, default_value_t = 5)]
    pub storm_secs: u64,
    /// Every this many seconds, a failing window answering 503 for --failing-secs (0: none).
    #[arg(long, default_value_t = 0)]
    pub failing_every_secs: u64,
    /// Seconds each failing window lasts.
    #[arg(long, default_value_t = 10)]
    pub failing_secs: u64,
    /// Retry-After of throttled answers, seconds.
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Share of payload elements served malformed.
    #[arg(long, default_value_t = 0.0)]
    pub malformed_rate: f64,
    /// Share of product pages showing a marketplace's placeholder offer.
    #[arg(long, default_value_t = 0.02)]
    pub placeholder_share: f64,
    /// A JSON fault plan (`default` and per-operation `operations`, as `GET /_sim/faults`
    /// prints it), replacing the fault flags above.
    #[arg(long)]
    pub faults: Option<PathBuf>,
}

impl SimulateArgs {
    fn fault_config(&self) -> anyhow::Result<FaultConfig> {
        if let Some(path) = &self.faults {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the fault plan {}", path.display()))?;
            return serde_json::from_str(&text)
                .with_context(|| format!("fault plan {} is not a valid plan", path.display()));
        }
        let every = |period_secs: u64, duration_secs: u64| {
            (period_secs > 0).then_some(Window {
                after_ms: period_secs * 1_000,
                duration_ms: duration_secs * 1_000,
                every_ms: Some(period_secs * 1_000),
            })
        };
        Ok(FaultConfig {
            seed: self.seed,
            default: Faults {
                delay_ms: self.delay_ms,
                failing: every(self.failing_every_secs, self.failing_secs).map(|window| {
                    FailingWindow {
                        window,
                        status: 503,
                    }
                }),
                throttle_rate: self.throttle_rate,
                storm: every(self.storm_every_secs, self.storm_secs),
                rate_limit: None,
                retry_after_secs: self.retry_after_secs,
                malformed_rate: self.malformed_rate,
                // As Amazon's: its FBA inventory page tokens live 30 s.
                page_token_lifetime_ms: Some(30_000),
            },
            operations: Default::default(),
        })
    }
}

pub async fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.listen.ip().is_loopback(),
        "--listen {} is not a loopback address: the simulator accepts public credentials, serve it on 127.0.0.1 or ::1",
        args.listen
    );
    anyhow::ensure!(
        args.changes_per_second.is_finite() && args.changes_per_second >= 0.0,
        "--changes-per-second {} must be a non-negative number",
        args.changes_per_second
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_millis() as i64;
    let config = SimServerConfig {
        catalogue: CatalogueParams {
            seed: args.catalogue_seed,
            references: args.references,
            // Today's market: price lists valid now, so the gate accepts what is served.
            as_of: now,
            ..CatalogueParams::default()
        },
        market_seed: args.seed,
        faults: args.fault_config()?,
        placeholder_share: args.placeholder_share,
        ..SimServerConfig::default()
    };
    let clock = if args.changes_per_second > 0.0 {
        MarketClock::ChangesPerSecond(args.changes_per_second)
    } else {
        MarketClock::OnRequest
    };
    let simulator = Simulator::new(config)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    crate::outln!(
        "Simulated APIs at {base_url} ({} references)",
        args.references
    )?;
    crate::outln!("Credentials they accept:")?;
    let credentials = serde_json::to_value(simulator.credentials())?;
    for (name, value) in credentials.as_object().into_iter().flatten() {
        let shown = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        crate::outln!("  {name:<28} {shown}")?;
    }
    crate::outln!(
        "Control: GET {base_url}/_sim/stats, GET|PUT {base_url}/_sim/faults, POST {base_url}/_sim/advance?changes=N"
    )?;
    simulator
        .serve(listener, clock, telemetry::shutdown_signal())
        .await?;
    Ok(())
}
