//! The demo's progress lines and final report as text for a terminal.

use std::fmt::{self, Display, Formatter, Write as _};
use std::time::Duration;

use hub_core::calendar::display_time;
use hub_core::money::{display_amount, fixed};
use hub_schemas::records::{FactorContribution, MarginBreakdown};
use rust_decimal::Decimal;

use super::market::per_second;
use super::{DemoReport, Priority, Progress};

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

fn seconds(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}

impl Display for Progress {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Progress::Started {
                references,
                simulator,
                market_starts_at,
                topic_prefix,
                database,
            } => write!(
                f,
                "simulated APIs at {simulator}: {} references, market from {}; topics {topic_prefix}.*, database {database}",
                thousands(*references as u64),
                display_time(*market_starts_at)
            ),
            Progress::Sweeping { stage, waiting } => {
                write!(
                    f,
                    "{stage}: waiting for {} to read to the end",
                    waiting.join(", ")
                )
            }
            Progress::Swept { stage, elapsed } => write!(
                f,
                "{stage}: read to the end by every connector, {} after the start",
                seconds(*elapsed)
            ),
            Progress::Read { elapsed } => write!(
                f,
                "every stage read in {}: every page acknowledged by the broker, every cursor saved",
                seconds(*elapsed)
            ),
            Progress::Waiting {
                processed,
                to_process,
                stored,
                to_store,
            } => {
                write!(
                    f,
                    "processed {} of {} records; stored {}",
                    thousands(*processed),
                    thousands(*to_process),
                    thousands(*stored)
                )?;
                match to_store {
                    Some(total) => write!(f, " of {} records", thousands(*total)),
                    None => f.write_str(" records so far (outputs still being produced)"),
                }
            }
            Progress::Done { elapsed } => write!(
                f,
                "everything read is processed and stored, {} after the connectors started; processor and sink stopped",
                seconds(*elapsed)
            ),
        }
    }
}

impl Display for DemoReport {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.summary(f)?;
        self.priorities(f)?;
        self.best_channels(f)?;
        self.quarantine(f)?;
        self.queries(f)
    }
}

impl DemoReport {
    fn summary(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "\n== Run ==")?;
        writeln!(
            f,
            "catalogue: {} references (catalogue seed {}); market (seed {}) simulated from {} to {}, {} changes after the initial sync",
            thousands(self.params.references as u64),
            self.params.catalogue_seed,
            self.params.seed,
            display_time(self.market_started_at),
            display_time(self.market_ended_at),
            thousands(self.market_changes)
        )?;
        let requests: u64 = self.served.operations.values().map(|op| op.requests).sum();
        writeln!(
            f,
            "the connectors made {} requests to the simulated APIs in {}",
            thousands(requests),
            seconds(self.read_duration)
        )?;
        let records: u64 = self.records.iter().map(|(_, records)| records).sum();
        writeln!(
            f,
            "read, processed and stored in {} ({} records of this run, {}/s end to end)",
            seconds(self.pipeline_duration),
            thousands(records),
            thousands(per_second(records, self.pipeline_duration))
        )?;
        writeln!(f, "records of this run per topic:")?;
        for (topic, records) in &self.records {
            writeln!(f, "  {topic:<32} {:>12}", thousands(*records))?;
        }
        let findings = &self.findings;
        if findings.unscored_offer_pairs.is_empty() {
            writeln!(
                f,
                "every (reference, channel) the connectors read an offer of has a score in ClickHouse: {} pairs",
                thousands(findings.offer_pairs as u64)
            )
        } else {
            writeln!(
                f,
                "{} of {} (reference, channel) pairs the connectors read an offer of have no score in ClickHouse, e.g. {:?}; the quarantine below and the log lines above say why",
                thousands(findings.unscored_offer_pairs.len() as u64),
                thousands(findings.offer_pairs as u64),
                &findings.unscored_offer_pairs[..findings.unscored_offer_pairs.len().min(5)]
            )
        }
    }

    fn priorities(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let priorities = &self.findings.top_priorities;
        writeln!(
            f,
            "\n== Top {} priorities (current scores asking to source, list or reprice) ==",
            priorities.len()
        )?;
        if priorities.is_empty() {
            writeln!(f, "none: no current score asks for an action")?;
        }
        for (rank, priority) in priorities.iter().enumerate() {
            write_priority(f, rank + 1, priority)?;
        }
        Ok(())
    }

    fn best_channels(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let best = &self.findings.best_channels;
        writeln!(
            f,
            "\n== Best channel per reference (highest score with a positive net margin, not to delist) =="
        )?;
        for (channel, references) in &best.per_channel {
            writeln!(
                f,
                "  {channel:<12} {:>8} references",
                thousands(*references)
            )?;
        }
        writeln!(
            f,
            "  {:>21} references with no profitable channel",
            thousands(best.without_profitable_channel)
        )?;
        if !best.examples.is_empty() {
            writeln!(f, "examples:")?;
        }
        for example in &best.examples {
            writeln!(
                f,
                "  {} {} ({} channels scored) -> {}: {}",
                example.gtin,
                example.title,
                example.channels_scored,
                example.channel,
                example.reason
            )?;
        }
        Ok(())
    }

    fn quarantine(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let findings = &self.findings;
        writeln!(f, "\n== Quarantine of this run by reason ==")?;
        for reason in &findings.quarantine {
            writeln!(
                f,
                "  {:<32} {:>10}",
                reason.reason_code,
                thousands(reason.records)
            )?;
        }
        writeln!(
            f,
            "\n== Quarantine by source, next to what the simulator served malformed =="
        )?;
        writeln!(
            f,
            "  (each malformed element and placeholder offer must be refused by its connector, one record each;\n   the quality gate's refusals are of records served sound, counted apart)"
        )?;
        writeln!(
            f,
            "  {:<12} {:>10} {:>13} {:>12} {:>10}",
            "api", "malformed", "placeholders", "connector", "gate"
        )?;
        for source in &findings.quarantine_by_source {
            let verdict = if source.matches() { "ok" } else { "MISMATCH" };
            writeln!(
                f,
                "  {:<12} {:>10} {:>13} {:>12} {:>10}  {verdict}",
                source.api,
                thousands(source.malformed_served),
                thousands(source.placeholders_served),
                thousands(source.refused_by_connector),
                thousands(source.refused_by_gate)
            )?;
        }
        if !findings.sink_refusals.is_empty() {
            writeln!(
                f,
                "also kept raw in quarantine by the sink (not storable in their own table):"
            )?;
            for refusal in &findings.sink_refusals {
                writeln!(
                    f,
                    "  {:<32} {:<24} {:>8}",
                    refusal.topic,
                    refusal.reason_code,
                    thousands(refusal.records)
                )?;
            }
        }
        Ok(())
    }

    fn queries(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n== SQL for the data team (run in ClickHouse database {}) ==",
            self.database
        )?;
        for query in &self.findings.queries {
            writeln!(f, "\n-- {}\n{};", query.title, query.sql)?;
        }
        Ok(())
    }
}

fn write_priority(f: &mut Formatter<'_>, rank: usize, priority: &Priority) -> fmt::Result {
    let score = &priority.score;
    let product = &priority.product;
    let brand = product.brand.as_deref().unwrap_or("no brand");
    writeln!(
        f,
        "\n{rank:>2}. score {}  {} on {}  {}  {} [{}, {brand}]",
        score.score,
        score.action.to_uppercase(),
        score.channel,
        score.gtin,
        product.title,
        product.category
    )?;
    writeln!(
        f,
        "    version {}, confidence {}, scored at {}, weights {} {}, fees {}",
        score.version,
        score.confidence,
        display_time(score.scored_at),
        score.weights_profile,
        score.weights_version,
        score.fee_schedule_version
    )?;
    writeln!(f, "    rule: {}", score.action_rule)?;
    match &score.margin {
        Some(margin) => {
            if let Some(target) = score.target_price_incl_vat {
                writeln!(
                    f,
                    "    target price: {} incl. VAT",
                    display_amount(target, &margin.currency)
                )?;
            }
            f.write_str(&margin_lines(margin))?;
        }
        None => writeln!(f, "    margin: unknown")?,
    }
    if !score.missing_inputs.is_empty() {
        writeln!(f, "    missing inputs: {}", score.missing_inputs.join(", "))?;
    }
    writeln!(f, "    factors (largest contribution first):")?;
    for factor in &priority.explanation {
        writeln!(f, "{}", factor_line(factor))?;
    }
    Ok(())
}

fn margin_lines(margin: &MarginBreakdown) -> String {
    let amount = |value| display_amount(value, &margin.currency);
    let mut lines = String::new();
    let _ = writeln!(
        lines,
        "    margin: price {} + shipping {} incl. VAT, of which levies {} -> revenue {} excl. VAT",
        amount(margin.price_incl_vat),
        amount(margin.shipping_incl_vat),
        amount(margin.levies_incl_vat),
        amount(margin.revenue_excl_vat)
    );
    let _ = writeln!(
        lines,
        "            - commission {} - digital services fee {} - fulfilment {} ({}) - subscription {}",
        amount(margin.commission_excl_vat),
        amount(margin.digital_services_fee_excl_vat),
        amount(margin.fulfilment_fee_excl_vat),
        margin.fulfilment_method,
        amount(margin.subscription_per_unit_excl_vat)
    );
    let _ = writeln!(
        lines,
        "            - operational cost {} - product cost {} ({})",
        amount(margin.operational_cost_excl_vat),
        amount(margin.product_cost_excl_vat),
        margin.product_cost_source
    );
    let _ = writeln!(
        lines,
        "            = net margin {} excl. VAT, margin rate {}, ROI {}",
        amount(margin.net_margin_excl_vat),
        percent(margin.margin_rate),
        percent(margin.roi)
    );
    lines
}

/// A fraction as a percentage with one decimal (`0.1234` as `12.3%`).
fn percent(fraction: Decimal) -> String {
    format!("{}%", fixed(fraction * Decimal::ONE_HUNDRED, 1))
}

fn factor_line(factor: &FactorContribution) -> String {
    format!(
        "      {:>8}  {:<24} weight {} x normalised {}  {}",
        format!("+{}", factor.contribution),
        factor.name,
        factor.weight,
        factor.normalised,
        factor.explanation
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
