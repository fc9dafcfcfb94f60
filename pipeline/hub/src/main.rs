//! `hub`: Sourcing Hub's single binary. Errors are reported here, at the edge, with their
//! whole chain; every library below returns typed errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use hub::commands;
use hub::config::Config;

/// Every hub process allocates through mimalloc: scoring a record allocates and frees a few
/// dozen small strings (explanations, the published record, its Avro value), and mimalloc's
/// per-thread free lists serve them in a fraction of the instructions glibc's malloc takes
/// (`docs/benchmarks.md`; the economics benchmark uses the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sourcing Hub: tells a multi-marketplace distributor which product references to source,
/// list, reprice or stock, on which channel, and why.
#[derive(Debug, Parser)]
#[command(name = "hub", version, propagate_version = true)]
struct Cli {
    /// TOML configuration file; every key can be overridden by HUB_<SECTION>__<KEY>
    /// environment variables (e.g. HUB_KAFKA__BOOTSTRAP_SERVERS).
    #[arg(long, global = true, env = "HUB_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect the effective configuration (defaults, then file, then environment).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage the Kafka topics the hub owns.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Apply the ClickHouse migrations that are not applied yet (idempotent, versioned).
    Migrate,
    /// Quote one sale: reads a JSON object on standard input (channel, category, prices,
    /// costs...) and writes the quality verdict, the margin line by line, the score with
    /// its explanation and the recommended action. Exit status 2 on a bad request.
    Quote,
    /// Publish the configured scoring (weight and seller profiles, the fee schedules and
    /// profiles of scoring.config_dir, exchange rates) as the next revision on the control
    /// topic: every running processor re-scores every reference x channel under it, with
    /// versions moved forward, and this command shows their progress until all are done.
    Rescore(RescoreArgs),
    /// Run the stream processor: gate every signal, join it into its reference's state, and
    /// re-score the reference x channels it affects, until SIGINT or SIGTERM.
    Process,
    /// Produce one realistic record of every contract to its topic and read each back
    /// decoded: a smoke test of broker, framing and contracts.
    Sample,
    /// Store the hub's topics (scores history, products, signals, quarantine) in ClickHouse,
    /// committing offsets only once their rows are stored, until SIGINT or SIGTERM.
    Sink,
    /// Run the whole platform on a simulated market: serve a catalogue with suppliers,
    /// competitors, stock-outs and malformed payloads through the sources' APIs, read it
    /// with every connector, process and store it in-process, then print the top priorities
    /// with their explanation, the best channel per reference, the quarantine by reason and
    /// by source, and the SQL behind them. Uses the configured topics and database; a
    /// re-run serves the same catalogue later, superseding every score.
    Demo(DemoArgs),
    /// Serve the marketplace, ERP and supplier APIs locally over a generated, moving market
    /// (competitors repricing, buy box changes, stock-outs, supplier price changes), with
    /// injected slow answers, failures, 429s and malformed payloads, until SIGINT or SIGTERM.
    /// Prints the base URL and the credentials it accepts.
    Simulate(hub::commands::simulate::SimulateArgs),
    /// Run one configured connector (or --all of them) continuously: every record passes
    /// the quality gate and is published to its signal topic or to quarantine; cursors are
    /// saved once a page is acknowledged. Stops cleanly on SIGINT or SIGTERM.
    Connect(ConnectArgs),
    /// Inspect the connectors.
    #[command(subcommand)]
    Connectors(ConnectorsCommand),
    /// Measure the streaming path through the broker and the processor on a synthetic
    /// market, on fresh topics of its own (removed at the end): records/s and scores/s, or
    /// signal-to-score latency percentiles at a fixed rate.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Publish N records, then start the processor and time it until it has committed them
    /// all: records/s and scores/s.
    Throughput {
        /// Records to publish (at most 5,000,000).
        #[arg(long, default_value_t = 200_000)]
        records: u64,
        #[command(flatten)]
        market: BenchMarketArgs,
    },
    /// After a warm-up (catalogue and initial sync), publish market changes at a fixed rate
    /// while the processor runs: percentiles of the time from each input to its scores.
    Latency {
        /// Records per second (at most 20,000).
        #[arg(long, default_value_t = 1_000)]
        rate: u64,
        /// Seconds of the timed phase (at most 600).
        #[arg(long, default_value_t = 30)]
        duration: u64,
        #[command(flatten)]
        market: BenchMarketArgs,
    },
}

#[derive(Debug, clap::Args)]
struct BenchMarketArgs {
    /// Product references in the catalogue.
    #[arg(long, default_value_t = 10_000)]
    references: usize,
    /// Seed of the catalogue and of the market's moves.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Share of published records that are corrupt, each quarantined by the processor.
    #[arg(long, default_value_t = 0.01)]
    corrupt_rate: f64,
    /// Prefix of the run's topics and consumer groups; no topic may have it yet.
    /// Default: bench-<unix milliseconds>.
    #[arg(long)]
    topic_prefix: Option<String>,
    /// Leave the run's topics on the broker instead of removing them.
    #[arg(long)]
    keep_topics: bool,
}

impl BenchCommand {
    fn params(self) -> hub::bench::BenchParams {
        let (mode, market) = match self {
            BenchCommand::Throughput { records, market } => {
                (hub::bench::Mode::Throughput { records }, market)
            }
            BenchCommand::Latency {
                rate,
                duration,
                market,
            } => (
                hub::bench::Mode::Latency {
                    rate,
                    duration: std::time::Duration::from_secs(duration),
                },
                market,
            ),
        };
        hub::bench::BenchParams {
            topic_prefix: market
                .topic_prefix
                .unwrap_or_else(commands::bench::fresh_topic_prefix),
            references: market.references,
            seed: market.seed,
            corrupt_rate: market.corrupt_rate,
            keep_topics: market.keep_topics,
            mode,
        }
    }
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Product references in the catalogue (over Amazon, Cdiscount, Fnac Darty and Mirakl).
    /// The run's length grows with it: 10,000 took 26 minutes here (README, demo section).
    #[arg(long, default_value_t = 2_000)]
    references: usize,
    /// Rounds of market changes after the initial sync, each of as many changes as there
    /// are references; the connectors read the market to its end after each round.
    #[arg(long, default_value_t = hub::demo::DEFAULT_CHANGES_PER_REFERENCE)]
    changes_per_reference: u64,
    /// Share of payload elements the simulated APIs serve malformed, each quarantined.
    #[arg(long, default_value_t = 0.01)]
    malformed_rate: f64,
    /// Seed of the market's moves and of the malformed elements.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Seed of the catalogue; keep it to update the same references on a re-run.
    #[arg(long, default_value_t = 42)]
    catalogue_seed: u64,
    /// Priorities shown.
    #[arg(long, default_value_t = 20)]
    top: usize,
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct ConnectArgs {
    /// The source to run (a [connectors.<source>] section of the configuration).
    source: Option<String>,
    /// Run every configured connector.
    #[arg(long)]
    all: bool,
}

#[derive(Debug, Subcommand)]
enum ConnectorsCommand {
    /// One line per connector and operation: its cursor and the cursor's age, the last
    /// successful poll, the circuit breaker and whether it runs. Read from the compacted
    /// topics <prefix>.connectors.cursors (saved after each acknowledged page) and
    /// <prefix>.connectors.health (published by each running connector every
    /// connect.health_interval_ms, on every breaker change, and when it stops), so it
    /// works from any machine that reaches the broker. A running connector whose report is
    /// older than three intervals is shown as silent: it probably crashed.
    Status,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration as TOML, secrets masked.
    Show,
}

#[derive(Debug, Subcommand)]
enum TopicsCommand {
    /// Create the hub's topics that do not exist yet (compacted where the contract says so)
    /// and list them.
    Ensure,
}

#[derive(Debug, clap::Args)]
struct RescoreArgs {
    /// Weight profile to score under (default: scoring.weights_profile).
    #[arg(long)]
    weights_profile: Option<String>,
    /// Seller profile to score under (default: scoring.seller_profile).
    #[arg(long)]
    seller_profile: Option<String>,
    /// Why, kept with the revision for whoever reads the control topic later.
    #[arg(long)]
    reason: String,
    /// Seconds to wait for every partition to be re-scored; 0 publishes without waiting.
    #[arg(long, default_value_t = 600)]
    wait: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("hub: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    hub::telemetry::init_logging(config.log.format);
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::Config(ConfigCommand::Show) => {
            commands::write_stdout(format_args!("{}", config.to_redacted_toml()))?
        }
        Command::Topics(TopicsCommand::Ensure) => {
            runtime.block_on(commands::topics::ensure(&config))?
        }
        Command::Migrate => runtime.block_on(commands::migrate::run(&config))?,
        Command::Sample => runtime.block_on(commands::sample::run(&config))?,
        Command::Sink => runtime.block_on(commands::sink::run(&config))?,
        Command::Quote => return commands::quote::run(&config),
        Command::Process => runtime.block_on(commands::process::run(&config))?,
        Command::Rescore(args) => runtime.block_on(commands::rescore::run(
            &config,
            &hub::rescore::RescoreRequest {
                weights_profile: args.weights_profile,
                seller_profile: args.seller_profile,
                reason: args.reason,
            },
            (args.wait > 0).then(|| std::time::Duration::from_secs(args.wait)),
        ))?,
        Command::Demo(args) => runtime.block_on(commands::demo::run(
            &config,
            &hub::demo::DemoParams {
                references: args.references,
                changes_per_reference: args.changes_per_reference,
                malformed_rate: args.malformed_rate,
                seed: args.seed,
                catalogue_seed: args.catalogue_seed,
                top: args.top,
            },
        ))?,
        Command::Simulate(args) => runtime.block_on(commands::simulate::run(&args))?,
        Command::Connect(args) => {
            runtime.block_on(commands::connect::run(&config, args.source.as_deref()))?
        }
        Command::Connectors(ConnectorsCommand::Status) => {
            runtime.block_on(commands::connect::status(&config))?
        }
        Command::Bench(bench) => {
            runtime.block_on(commands::bench::run(&config, &bench.params()))?
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every command and subcommand (`hub connectors status`, `hub bench latency`...) with
    /// its path, depth first.
    fn commands(command: &clap::Command, path: &str, found: &mut Vec<(String, clap::Command)>) {
        for sub in command.get_subcommands() {
            let path = format!("{path} {}", sub.get_name());
            found.push((path.clone(), sub.clone()));
            commands(sub, &path, found);
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn hub_help_and_every_subcommand_help_say_what_it_does() {
        let mut hub = Cli::command();
        let about = hub.get_about().map(ToString::to_string).unwrap_or_default();
        assert!(
            about.contains("which product references to source"),
            "{about}"
        );
        let mut all = Vec::new();
        commands(&hub, "hub", &mut all);
        let help = hub.render_help().to_string();
        let mut undocumented = Vec::new();
        for (path, mut command) in all {
            let about = command
                .get_about()
                .map(ToString::to_string)
                .unwrap_or_default();
            // clap's own `help` subcommand is documented by clap.
            if command.get_name() != "help" && about.split_whitespace().count() < 3 {
                undocumented.push(format!("{path}: about {about:?}"));
            }
            for argument in command.get_arguments() {
                let id = argument.get_id().as_str();
                if !["help", "version"].contains(&id) && argument.get_help().is_none() {
                    undocumented.push(format!("{path}: argument {id} has no help"));
                }
            }
            let rendered = command.render_help().to_string();
            assert!(
                rendered.contains(&about),
                "{path} --help omits its description"
            );
        }
        assert!(undocumented.is_empty(), "{undocumented:#?}");
        for command in [
            "config", "topics", "migrate", "process", "sink", "demo", "bench",
        ] {
            assert!(
                help.contains(command),
                "hub --help does not list {command}:\n{help}"
            );
        }
    }
}
