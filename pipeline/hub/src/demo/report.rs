//! What the demo shows once everything is stored, read back from ClickHouse with the SQL the
//! data team can run themselves: every query is kept, exactly as run, in the report.

use std::collections::{BTreeMap, BTreeSet};

use clickhouse::{Client, Row};
use hub_core::action::{self, Action};
use hub_market_sim::http::SimStats;
use hub_schemas::records::{EpochMillis, FactorContribution, MarginBreakdown, ReferenceScore};
use hub_schemas::{Topic, TopicNames};
use hub_sink_clickhouse::decimal::{Dec9x4, Dec9x6, Dec18x4, Dec18x6};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::DemoError;
use super::positions::{Span, sql_string};

/// The actions that ask someone to do something: what "priorities" are made of.
const ACTIONABLE: [Action; 3] = [Action::Source, Action::List, Action::Reprice];
/// Best-channel examples shown.
const EXAMPLES: usize = 5;

/// A query as run, for the data team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub title: &'static str,
    pub sql: String,
}

/// One of the top priorities: the current score of a (reference, channel) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Priority {
    pub product: ProductSummary,
    pub score: ReferenceScore,
    /// The score's factors as `ARRAY JOIN factors` lists them, largest contribution first.
    pub explanation: Vec<FactorContribution>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSummary {
    pub title: String,
    pub brand: Option<String>,
    pub category: String,
    /// Archived at its source (`ProductReference::active` false).
    pub archived: bool,
}

/// Where the references are best sold, by the core's rule (`hub_core::action::best_channel`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BestChannels {
    /// References per best channel, most first.
    pub per_channel: Vec<(String, u64)>,
    /// Scored references without a profitable channel, archived ones included.
    pub without_profitable_channel: u64,
    pub examples: Vec<BestChannelExample>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestChannelExample {
    pub gtin: String,
    pub title: String,
    pub channels_scored: usize,
    pub channel: String,
    pub reason: String,
}

/// Quarantined records of one reason in this run.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct ReasonCount {
    pub reason_code: String,
    pub records: u64,
}

/// One source API's quarantined records in this run, next to what the simulator served
/// malformed through it: every malformed element and every marketplace placeholder offer
/// must be refused by its connector, one record each, and nothing else. Records the quality
/// gate refused (the connector published them) are counted apart: they were served sound,
/// so they are no part of that comparison, and a sound record refused is worth a look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCount {
    /// The API, as the first part of the source names (`mirakl`, `amazon`, `supplier`...).
    pub api: String,
    pub malformed_served: u64,
    pub placeholders_served: u64,
    /// Refused by the connector, before publication (no original topic).
    pub refused_by_connector: u64,
    /// Published by the connector, refused by the processor's quality gate.
    pub refused_by_gate: u64,
}

impl SourceCount {
    /// What the simulator corrupted through this API: what its connector must refuse.
    pub fn corrupted(&self) -> u64 {
        self.malformed_served + self.placeholders_served
    }

    /// Every record of this API in quarantine.
    pub fn quarantined(&self) -> u64 {
        self.refused_by_connector + self.refused_by_gate
    }

    /// Whether the connector refused exactly what the simulator corrupted.
    pub fn matches(&self) -> bool {
        self.refused_by_connector == self.corrupted()
    }
}

/// Input records the sink itself could not store in their table (so kept in `quarantine`
/// with their raw bytes), per topic and reason.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct SinkRefusal {
    pub topic: String,
    pub reason_code: String,
    pub records: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    pub top_priorities: Vec<Priority>,
    pub best_channels: BestChannels,
    /// By reason, most first.
    pub quarantine: Vec<ReasonCount>,
    /// By source API, next to what the simulator corrupted through it.
    pub quarantine_by_source: Vec<SourceCount>,
    pub sink_refusals: Vec<SinkRefusal>,
    /// (gtin, channel) pairs the connectors read offers of (`sources::offered_pairs`).
    pub offer_pairs: usize,
    /// Those of them without a score row of this run in ClickHouse.
    pub unscored_offer_pairs: Vec<(String, String)>,
    pub queries: Vec<Query>,
}

/// Every column of `scores_current` but the Kafka position, with the product's title,
/// brand, category and whether it is still sold at its source (`None` without a product
/// row).
#[derive(Debug, Row, Deserialize)]
struct CurrentScoreRow {
    gtin: String,
    title: String,
    brand: Option<String>,
    category: String,
    active: Option<bool>,
    channel: String,
    version: i64,
    score: Dec9x4,
    confidence: Dec9x4,
    factor_names: Vec<String>,
    factor_raw_values: Vec<Option<Dec18x6>>,
    factor_normalised: Vec<Dec9x6>,
    factor_weights: Vec<Dec9x6>,
    factor_contributions: Vec<Dec9x4>,
    factor_explanations: Vec<String>,
    missing_inputs: Vec<String>,
    margin_currency: Option<String>,
    margin_price_incl_vat: Option<Dec18x4>,
    margin_shipping_incl_vat: Option<Dec18x4>,
    margin_levies_incl_vat: Option<Dec18x4>,
    margin_revenue_excl_vat: Option<Dec18x4>,
    margin_commission_excl_vat: Option<Dec18x4>,
    margin_digital_services_fee_excl_vat: Option<Dec18x4>,
    margin_fulfilment_method: Option<String>,
    margin_fulfilment_fee_excl_vat: Option<Dec18x4>,
    margin_subscription_per_unit_excl_vat: Option<Dec18x4>,
    margin_operational_cost_excl_vat: Option<Dec18x4>,
    margin_product_cost_excl_vat: Option<Dec18x4>,
    margin_product_cost_source: Option<String>,
    margin_net_margin_excl_vat: Option<Dec18x4>,
    margin_rate: Option<Dec18x6>,
    margin_roi: Option<Dec18x6>,
    action: String,
    action_rule: String,
    target_price_incl_vat: Option<Dec18x4>,
    weights_profile: String,
    weights_version: String,
    fee_schedule_version: String,
    offer_observed_at: Option<EpochMillis>,
    stock_observed_at: Option<EpochMillis>,
    cost_observed_at: Option<EpochMillis>,
    scored_at: EpochMillis,
}

impl CurrentScoreRow {
    /// The SELECT list: product columns from the join, factors by their Nested subcolumns.
    fn select_list() -> String {
        <CurrentScoreRow as Row>::COLUMN_NAMES
            .iter()
            .map(|column| match column.strip_prefix("factor_") {
                Some(field) => {
                    let subcolumn = match field {
                        "names" => "name",
                        "raw_values" => "raw_value",
                        "weights" => "weight",
                        "contributions" => "contribution",
                        "explanations" => "explanation",
                        other => other,
                    };
                    format!("factors.{subcolumn} AS {column}")
                }
                None => (*column).to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",\n    ")
    }

    fn product(&self) -> ProductSummary {
        ProductSummary {
            title: self.title.clone(),
            brand: self.brand.clone(),
            category: self.category.clone(),
            archived: self.active == Some(false),
        }
    }

    /// The published score record back from its columns. All margin columns are NULL
    /// together (no margin) or set together.
    fn into_reference_score(self) -> ReferenceScore {
        let margin = self.margin_breakdown();
        let factors = (0..self.factor_names.len())
            .map(|i| FactorContribution {
                name: self.factor_names[i].clone().into(),
                raw_value: self.factor_raw_values[i].map(Decimal::from),
                normalised: self.factor_normalised[i].into(),
                weight: self.factor_weights[i].into(),
                contribution: self.factor_contributions[i].into(),
                explanation: self.factor_explanations[i].clone(),
            })
            .collect();
        ReferenceScore {
            gtin: self.gtin,
            channel: self.channel.into(),
            version: self.version,
            score: self.score.into(),
            confidence: self.confidence.into(),
            factors,
            missing_inputs: self.missing_inputs.into_iter().map(Into::into).collect(),
            margin,
            action: self.action.into(),
            action_rule: self.action_rule,
            target_price_incl_vat: self.target_price_incl_vat.map(Decimal::from),
            weights_profile: self.weights_profile.into(),
            weights_version: self.weights_version.into(),
            fee_schedule_version: self.fee_schedule_version.into(),
            offer_observed_at: self.offer_observed_at,
            stock_observed_at: self.stock_observed_at,
            cost_observed_at: self.cost_observed_at,
            scored_at: self.scored_at,
        }
    }

    fn margin_breakdown(&self) -> Option<MarginBreakdown> {
        let amount = |value: Option<Dec18x4>| value.map(Decimal::from);
        Some(MarginBreakdown {
            currency: self.margin_currency.as_deref()?.into(),
            price_incl_vat: amount(self.margin_price_incl_vat)?,
            shipping_incl_vat: amount(self.margin_shipping_incl_vat)?,
            levies_incl_vat: amount(self.margin_levies_incl_vat)?,
            revenue_excl_vat: amount(self.margin_revenue_excl_vat)?,
            commission_excl_vat: amount(self.margin_commission_excl_vat)?,
            digital_services_fee_excl_vat: amount(self.margin_digital_services_fee_excl_vat)?,
            fulfilment_method: self.margin_fulfilment_method.clone()?.into(),
            fulfilment_fee_excl_vat: amount(self.margin_fulfilment_fee_excl_vat)?,
            subscription_per_unit_excl_vat: amount(self.margin_subscription_per_unit_excl_vat)?,
            operational_cost_excl_vat: amount(self.margin_operational_cost_excl_vat)?,
            product_cost_excl_vat: amount(self.margin_product_cost_excl_vat)?,
            product_cost_source: self.margin_product_cost_source.clone()?,
            net_margin_excl_vat: amount(self.margin_net_margin_excl_vat)?,
            margin_rate: self.margin_rate?.into(),
            roi: self.margin_roi?.into(),
        })
    }
}

#[derive(Debug, Row, Deserialize)]
struct FactorRow {
    gtin: String,
    channel: String,
    factor: String,
    contribution: Dec9x4,
    weight: Dec9x6,
    normalised: Dec9x6,
    raw_value: Option<Dec18x6>,
    explanation: String,
}

#[derive(Debug, Row, Deserialize)]
struct SourceRow {
    api: String,
    by_connector: u64,
    by_gate: u64,
}

#[derive(Debug, Row, Deserialize)]
struct PairRow {
    gtin: String,
    channel: String,
}

/// Runs the report's queries, keeping each one's SQL.
struct Reader<'a> {
    client: &'a Client,
    queries: Vec<Query>,
}

impl Reader<'_> {
    async fn fetch<T>(&mut self, title: &'static str, sql: String) -> Result<Vec<T>, DemoError>
    where
        T: clickhouse::RowOwned + clickhouse::RowRead,
    {
        let rows = self
            .client
            .query(&sql)
            .fetch_all::<T>()
            .await
            .map_err(|source| DemoError::Query { title, source })?;
        self.queries.push(Query { title, sql });
        Ok(rows)
    }
}

fn actionable_list() -> String {
    ACTIONABLE
        .iter()
        .map(|action| sql_string(action.key()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The topics of a run, by role.
#[derive(Debug, Clone)]
pub struct RunTopics {
    /// Products and the three signal topics: what the connectors publish.
    pub inputs: Vec<String>,
    pub scores_history: String,
    pub quarantine: String,
}

impl RunTopics {
    pub fn new(names: &TopicNames) -> Self {
        let name = |topic: Topic| names.name(topic).to_owned();
        RunTopics {
            inputs: [
                Topic::ReferenceProducts,
                Topic::SignalsOffers,
                Topic::SignalsStock,
                Topic::SignalsCosts,
            ]
            .map(name)
            .to_vec(),
            scores_history: name(Topic::ScoresHistory),
            quarantine: name(Topic::Quarantine),
        }
    }

    /// What the processor writes and the sink stores.
    pub fn outputs(&self) -> Vec<String> {
        vec![self.scores_history.clone(), self.quarantine.clone()]
    }

    /// Every topic the sink stores.
    pub fn all(&self) -> Vec<String> {
        self.inputs.iter().cloned().chain(self.outputs()).collect()
    }
}

/// Reads what the run produced. `span` covers every topic the sink stores.
pub async fn read(
    client: &Client,
    span: &Span,
    topics: &RunTopics,
    served: &SimStats,
    offered_pairs: &BTreeSet<(String, String)>,
    top: usize,
) -> Result<Findings, DemoError> {
    let mut reader = Reader {
        client,
        queries: Vec::new(),
    };
    let actionable = actionable_list();
    let current = |filter: &str, order: &str| {
        format!(
            "SELECT\n    {}\nFROM scores_current FINAL\nLEFT JOIN\n(\n    SELECT gtin, title, brand, category, toNullable(active) AS active\n    FROM products FINAL\n) AS p USING (gtin)\n{filter}ORDER BY {order}",
            CurrentScoreRow::select_list()
        )
    };
    let top_rows: Vec<CurrentScoreRow> = reader
        .fetch(
            "Top priorities: the best current scores asking for an action, with the product",
            current(
                &format!("WHERE action IN ({actionable})\n"),
                &format!("score DESC, gtin, channel\nLIMIT {top}"),
            ),
        )
        .await?;
    let factor_rows: Vec<FactorRow> = reader
        .fetch(
            "Why they rank: factor contributions of the top priorities",
            format!(
                "SELECT\n    gtin,\n    channel,\n    factors.name AS factor,\n    factors.contribution AS contribution,\n    factors.weight AS weight,\n    factors.normalised AS normalised,\n    factors.raw_value AS raw_value,\n    factors.explanation AS explanation\nFROM scores_current FINAL\nARRAY JOIN factors\nWHERE (gtin, channel, version) IN\n(\n    SELECT gtin, channel, version\n    FROM scores_current FINAL\n    WHERE action IN ({actionable})\n    ORDER BY score DESC, gtin, channel\n    LIMIT {top}\n)\nORDER BY gtin, channel, contribution DESC, factor"
            ),
        )
        .await?;
    let mut explanations: BTreeMap<(String, String), Vec<FactorContribution>> = BTreeMap::new();
    for row in factor_rows {
        explanations
            .entry((row.gtin, row.channel))
            .or_default()
            .push(FactorContribution {
                name: row.factor.into(),
                raw_value: row.raw_value.map(Decimal::from),
                normalised: row.normalised.into(),
                weight: row.weight.into(),
                contribution: row.contribution.into(),
                explanation: row.explanation,
            });
    }
    let top_priorities = top_rows
        .into_iter()
        .map(|row| {
            let product = row.product();
            let score = row.into_reference_score();
            let explanation = explanations
                .remove(&(score.gtin.clone(), score.channel.to_string()))
                .unwrap_or_default();
            Priority {
                product,
                score,
                explanation,
            }
        })
        .collect();

    let all_rows: Vec<CurrentScoreRow> = reader
        .fetch(
            "Best channel per reference: every current score, ranked by hub_core::action::best_channel",
            current("", "gtin, channel"),
        )
        .await?;
    let best_channels = best_channels(all_rows);

    let quarantine: Vec<ReasonCount> = reader
        .fetch(
            "Quarantine of this run by reason (records refused by the connectors and the quality gate)",
            format!(
                "SELECT\n    reason_code,\n    count() AS records\nFROM quarantine_records\nWHERE {}\nGROUP BY reason_code\nORDER BY records DESC, reason_code",
                span.sql_condition(&topics.quarantine)
            ),
        )
        .await?;
    let by_source: Vec<SourceRow> = reader
        .fetch(
            "Quarantine of this run by source API: refused by its connector (no original topic) or by the quality gate",
            format!(
                "SELECT\n    splitByChar('.', source)[1] AS api,\n    countIf(ifNull(original_topic, '') = '') AS by_connector,\n    countIf(ifNull(original_topic, '') != '') AS by_gate\nFROM quarantine_records\nWHERE {}\nGROUP BY api\nORDER BY api",
                span.sql_condition(&topics.quarantine)
            ),
        )
        .await?;
    let quarantine_by_source = source_counts(served, by_source);

    let inputs_condition = topics
        .inputs
        .iter()
        .map(|topic| span.sql_condition(topic))
        .collect::<Vec<_>>()
        .join("\n   OR ");
    let sink_refusals: Vec<SinkRefusal> = reader
        .fetch(
            "Input records of this run the sink could not store in their own table",
            format!(
                "SELECT\n    kafka_topic AS topic,\n    reason_code,\n    count() AS records\nFROM quarantine\nWHERE {inputs_condition}\nGROUP BY topic, reason_code\nORDER BY topic, reason_code"
            ),
        )
        .await?;

    let scored: Vec<PairRow> = reader
        .fetch(
            "(reference, channel) pairs scored in this run",
            format!(
                "SELECT DISTINCT\n    gtin,\n    channel\nFROM scores\nWHERE {}",
                span.sql_condition(&topics.scores_history)
            ),
        )
        .await?;
    let scored: BTreeSet<(String, String)> = scored
        .into_iter()
        .map(|row| (row.gtin, row.channel))
        .collect();
    let unscored_offer_pairs = offered_pairs
        .iter()
        .filter(|pair| !scored.contains(*pair))
        .cloned()
        .collect();

    Ok(Findings {
        top_priorities,
        best_channels,
        quarantine,
        quarantine_by_source,
        sink_refusals,
        offer_pairs: offered_pairs.len(),
        unscored_offer_pairs,
        queries: reader.queries,
    })
}

/// The API of an operation or source name: what precedes its first dot.
fn api_of(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// Every API the simulator served or quarantine names, with both sides' counts.
fn source_counts(served: &SimStats, quarantined: Vec<SourceRow>) -> Vec<SourceCount> {
    fn entry<'a>(apis: &'a mut BTreeMap<String, SourceCount>, api: &str) -> &'a mut SourceCount {
        apis.entry(api.to_owned()).or_insert_with(|| SourceCount {
            api: api.to_owned(),
            malformed_served: 0,
            placeholders_served: 0,
            refused_by_connector: 0,
            refused_by_gate: 0,
        })
    }
    let mut apis: BTreeMap<String, SourceCount> = BTreeMap::new();
    for (operation, stats) in &served.operations {
        let count = entry(&mut apis, api_of(operation));
        count.malformed_served += stats.malformed_elements;
        count.placeholders_served += stats.placeholder_offers;
    }
    for row in quarantined {
        let count = entry(&mut apis, &row.api);
        count.refused_by_connector += row.by_connector;
        count.refused_by_gate += row.by_gate;
    }
    apis.into_values().collect()
}

/// The core's best channel of every reference; examples among those scored on the most
/// channels, best score first, so the choice between channels is visible.
fn best_channels(rows: Vec<CurrentScoreRow>) -> BestChannels {
    let mut references: BTreeMap<String, (ProductSummary, Vec<ReferenceScore>)> = BTreeMap::new();
    for row in rows {
        let product = row.product();
        let score = row.into_reference_score();
        references
            .entry(score.gtin.clone())
            .or_insert_with(|| (product, Vec::new()))
            .1
            .push(score);
    }
    let mut per_channel: BTreeMap<String, u64> = BTreeMap::new();
    let mut without_profitable_channel = 0;
    let mut candidates: Vec<(usize, Decimal, BestChannelExample)> = Vec::new();
    for (gtin, (product, scores)) in references {
        let Some(best) = action::best_channel(!product.archived, &scores) else {
            without_profitable_channel += 1;
            continue;
        };
        *per_channel.entry(best.channel.clone()).or_default() += 1;
        let best_score = scores
            .iter()
            .find(|score| score.channel == best.channel)
            .map_or(Decimal::ZERO, |score| score.score);
        candidates.push((
            scores.len(),
            best_score,
            BestChannelExample {
                gtin,
                title: product.title,
                channels_scored: scores.len(),
                channel: best.channel,
                reason: best.reason,
            },
        ));
    }
    candidates.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then_with(|| a.2.gtin.cmp(&b.2.gtin))
    });
    let mut per_channel: Vec<(String, u64)> = per_channel.into_iter().collect();
    per_channel.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    BestChannels {
        per_channel,
        without_profitable_channel,
        examples: candidates
            .into_iter()
            .take(EXAMPLES)
            .map(|(_, _, example)| example)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_select_list_reads_factors_from_their_nested_subcolumns() {
        let list = CurrentScoreRow::select_list();
        assert!(list.contains("factors.name AS factor_names"), "{list}");
        assert!(
            list.contains("factors.raw_value AS factor_raw_values"),
            "{list}"
        );
        assert!(
            list.contains("factors.normalised AS factor_normalised"),
            "{list}"
        );
        assert!(list.contains("factors.weight AS factor_weights"), "{list}");
        assert!(
            list.contains("factors.contribution AS factor_contributions"),
            "{list}"
        );
        assert!(
            list.contains("factors.explanation AS factor_explanations"),
            "{list}"
        );
        assert!(list.starts_with("gtin,\n    title,"), "{list}");
    }

    #[test]
    fn sources_pair_what_was_served_malformed_with_what_was_quarantined() {
        let mut served = SimStats::default();
        for (operation, malformed, placeholders) in [
            ("mirakl.OF21", 2, 0),
            ("mirakl.P11", 3, 4),
            ("odoo.jsonrpc", 0, 0),
        ] {
            let stats = served.operations.entry(operation.to_owned()).or_default();
            stats.malformed_elements = malformed;
            stats.placeholder_offers = placeholders;
        }
        let counts = source_counts(
            &served,
            vec![
                SourceRow {
                    api: "mirakl".into(),
                    by_connector: 9,
                    by_gate: 2,
                },
                SourceRow {
                    api: "supplier".into(),
                    by_connector: 1,
                    by_gate: 0,
                },
            ],
        );
        let got: Vec<(&str, u64, u64, u64, bool)> = counts
            .iter()
            .map(|c| {
                (
                    c.api.as_str(),
                    c.corrupted(),
                    c.refused_by_connector,
                    c.quarantined(),
                    c.matches(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("mirakl", 9, 9, 11, true),
                ("odoo", 0, 0, 0, true),
                ("supplier", 0, 1, 1, false)
            ]
        );
        assert_eq!(api_of("supplier.grossiste.csv"), "supplier");
    }
}
