//! What scores are computed under, and how a change of it reaches every processor.
//!
//! `hub rescore` publishes a [`ScoringRevision`] (weight and seller profile names, exchange
//! rates, and the configuration files laid over the embedded `config/`) on the compacted
//! control topic `<prefix>.control.scoring`. Every processor reads that topic at start and
//! follows it while running; on a new revision it re-scores every reference of its
//! partitions and reports its progress on the same topic, under `progress/<partition>`.
//! A reference whose restored state was scored under an older revision is re-scored when
//! its partition is restored, so a processor that was down, or crashed half-way through a
//! re-score, catches up by itself.
//!
//! All records go to partition 0, so revisions and progress are totally ordered. The
//! records are JSON: an operator can read them with any Kafka tool.

use std::collections::BTreeMap;

use hub_core::channel::Channel;
use hub_core::money::FxRates;
use hub_core::profile::{EconomicsConfig, SellerProfile, WeightProfile};
use hub_core::score::{ScoringError, ScoringInput, score_reference};
use hub_core::state::ReferenceState;
use hub_schemas::records::ReferenceScore;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::config::{KafkaConfig, ScoringConfig};
use crate::kafka::{self, PartitionReadError};

/// The partition every control record is written to and read from.
pub const CONTROL_PARTITION: i32 = 0;
/// The key of the latest scoring revision.
pub const REVISION_KEY: &str = "scoring";
const PROGRESS_KEY_PREFIX: &str = "progress/";

/// The control topic of a deployment.
pub fn topic_name(topic_prefix: &str) -> String {
    format!("{topic_prefix}.control.scoring")
}

/// The key of one input partition's re-score progress.
pub fn progress_key(partition: i32) -> String {
    format!("{PROGRESS_KEY_PREFIX}{partition}")
}

/// A scoring configuration published for every processor. Revisions count up from 1;
/// revision 0 is each processor's own local configuration, before any was published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringRevision {
    pub revision: u32,
    pub weights_profile: String,
    pub seller_profile: String,
    pub fx: FxRates,
    /// Files laid over the embedded `config/`, by path under it (`weights/default.toml`).
    pub files: BTreeMap<String, String>,
    /// Why the revision was published, for the operator reading the topic later.
    pub reason: String,
    pub published_at: i64,
}

/// One input partition's progress through a revision's re-score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RescoreProgress {
    pub revision: u32,
    pub partition: i32,
    pub rescored: u64,
    pub total: u64,
}

impl RescoreProgress {
    pub fn is_done(&self) -> bool {
        self.rescored >= self.total
    }
}

/// The control topic as read to its end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ControlState {
    pub revision: Option<ScoringRevision>,
    pub progress: BTreeMap<i32, RescoreProgress>,
}

impl ControlState {
    /// Applies one control record; records of unknown keys are refused, so a typo in a
    /// hand-written record is seen rather than ignored.
    pub fn apply(&mut self, key: &[u8], payload: Option<&[u8]>) -> Result<(), ControlRecordError> {
        let key_text = String::from_utf8_lossy(key).into_owned();
        let Some(payload) = payload else {
            return Ok(());
        };
        let invalid = |source| ControlRecordError {
            key: key_text.clone(),
            source,
        };
        if key_text == REVISION_KEY {
            self.revision = Some(serde_json::from_slice(payload).map_err(invalid)?);
        } else if key_text.starts_with(PROGRESS_KEY_PREFIX) {
            let progress: RescoreProgress = serde_json::from_slice(payload).map_err(invalid)?;
            self.progress.insert(progress.partition, progress);
        } else {
            return Err(ControlRecordError {
                key: key_text.clone(),
                source: serde::de::Error::custom(format!(
                    "unknown key: expected {REVISION_KEY:?} or {PROGRESS_KEY_PREFIX}<partition>"
                )),
            });
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "control record {key:?} is not valid: {source}; publish revisions with `hub rescore`, not by hand"
)]
pub struct ControlRecordError {
    key: String,
    source: serde_json::Error,
}

/// Reads the control topic to its end; also returns the offset to follow it from.
pub fn read(
    config: &KafkaConfig,
    topic: &str,
) -> Result<(ControlState, i64), PartitionReadError<ControlRecordError>> {
    let mut state = ControlState::default();
    let next =
        kafka::read_partition_to_end(config, topic, CONTROL_PARTITION, |_, key, payload| {
            state.apply(key, payload)
        })?;
    Ok((state, next))
}

/// Follows the control topic from `next` (where [`read`] stopped), outside any consumer
/// group: every reader needs every control record, whichever input partitions it owns.
pub fn follower(
    config: &KafkaConfig,
    group_id: &str,
    topic: &str,
    next: i64,
) -> KafkaResult<StreamConsumer> {
    let follower: StreamConsumer = kafka::consumer_config(config, group_id).create()?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, CONTROL_PARTITION, Offset::Offset(next))?;
    follower.assign(&assignment)?;
    Ok(follower)
}

/// What scores are computed under: a published revision, or revision 0 from the local
/// configuration. Its profiles are checked to exist when it is built.
#[derive(Debug, Clone)]
pub struct ActiveScoring {
    pub revision: u32,
    pub economics: EconomicsConfig,
    weights_profile: String,
    seller_profile: String,
    pub fx: FxRates,
}

impl ActiveScoring {
    /// Revision 0: the embedded defaults with the files of `scoring.config_dir` laid over.
    pub fn local(scoring: &ScoringConfig) -> Result<Self, String> {
        let economics = if scoring.config_dir.is_empty() {
            EconomicsConfig::embedded()
        } else {
            EconomicsConfig::with_overrides_from_dir(std::path::Path::new(&scoring.config_dir))
        }
        .map_err(|error| error.to_string())?;
        Self::checked(
            0,
            economics,
            &scoring.weights_profile,
            &scoring.seller_profile,
            scoring.fx.clone(),
        )
    }

    pub fn from_revision(revision: &ScoringRevision) -> Result<Self, String> {
        let economics = EconomicsConfig::with_overrides(revision.files.clone())
            .map_err(|error| format!("scoring revision {}: {error}", revision.revision))?;
        Self::checked(
            revision.revision,
            economics,
            &revision.weights_profile,
            &revision.seller_profile,
            revision.fx.clone(),
        )
    }

    fn checked(
        revision: u32,
        economics: EconomicsConfig,
        weights_profile: &str,
        seller_profile: &str,
        fx: FxRates,
    ) -> Result<Self, String> {
        economics
            .weights(weights_profile)
            .map_err(|error| format!("weights_profile: {error}"))?;
        economics
            .seller(seller_profile)
            .map_err(|error| format!("seller_profile: {error}"))?;
        Ok(ActiveScoring {
            revision,
            economics,
            weights_profile: weights_profile.to_owned(),
            seller_profile: seller_profile.to_owned(),
            fx,
        })
    }

    pub fn weights(&self) -> &WeightProfile {
        self.economics
            .weights(&self.weights_profile)
            .expect("checked when built")
    }

    pub fn seller(&self) -> &SellerProfile {
        self.economics
            .seller(&self.seller_profile)
            .expect("checked when built")
    }

    /// The score of `channel` for a reference, `None` while its product record is missing
    /// (it is scored on every channel when the product arrives). The state must already be
    /// under this revision, so that its version carries it.
    pub fn score(
        &self,
        state: &ReferenceState,
        channel: Channel,
    ) -> Option<Result<ReferenceScore, ScoringError>> {
        debug_assert_eq!(state.scoring_revision, self.revision);
        let reference = state.product.as_ref()?;
        Some(score_reference(&ScoringInput {
            reference,
            channel,
            offer: state.offer(channel),
            stock: &state.stock,
            costs: &state.costs,
            config: &self.economics,
            weights: self.weights(),
            seller: self.seller(),
            fx: &self.fx,
            version: state.score_version(channel),
            now: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(number: u32) -> ScoringRevision {
        ScoringRevision {
            revision: number,
            weights_profile: "default".into(),
            seller_profile: "default".into(),
            fx: FxRates::identity("EUR"),
            files: BTreeMap::new(),
            reason: "test".into(),
            published_at: 1_700_000_000_000,
        }
    }

    #[test]
    fn the_last_revision_and_the_last_progress_per_partition_win() {
        let mut state = ControlState::default();
        for number in [1, 2] {
            let payload = serde_json::to_vec(&revision(number)).unwrap();
            state
                .apply(REVISION_KEY.as_bytes(), Some(&payload))
                .unwrap();
        }
        for (partition, rescored) in [(0, 5), (1, 2), (0, 10)] {
            let progress = RescoreProgress {
                revision: 2,
                partition,
                rescored,
                total: 10,
            };
            let payload = serde_json::to_vec(&progress).unwrap();
            state
                .apply(progress_key(partition).as_bytes(), Some(&payload))
                .unwrap();
        }
        assert_eq!(state.revision.unwrap().revision, 2);
        assert!(state.progress[&0].is_done());
        assert!(!state.progress[&1].is_done());
    }

    #[test]
    fn an_unknown_key_or_a_malformed_record_is_refused_with_its_key() {
        let mut state = ControlState::default();
        let error = state.apply(b"scorng", Some(b"{}")).unwrap_err();
        assert!(error.to_string().contains("\"scorng\""), "{error}");
        let error = state
            .apply(REVISION_KEY.as_bytes(), Some(b"{\"revision\": \"two\"}"))
            .unwrap_err();
        assert!(error.to_string().contains("hub rescore"), "{error}");
    }

    #[test]
    fn a_revision_naming_a_missing_profile_is_refused() {
        let mut unknown = revision(3);
        unknown.weights_profile = "margin_first".into();
        let error = ActiveScoring::from_revision(&unknown).unwrap_err();
        assert!(error.contains("margin_first"), "{error}");
    }

    #[test]
    fn a_revision_overrides_the_embedded_weights() {
        let mut custom = revision(4);
        custom.weights_profile = "margin_first".into();
        let default = EconomicsConfig::embedded().unwrap();
        let text = include_str!("../../../config/weights/default.toml")
            .replace("name = \"default\"", "name = \"margin_first\"");
        custom
            .files
            .insert("weights/margin_first.toml".into(), text);
        let active = ActiveScoring::from_revision(&custom).unwrap();
        assert_eq!(active.revision, 4);
        assert_eq!(&*active.weights().name, "margin_first");
        assert_eq!(
            active.weights().version,
            default.weights("default").unwrap().version
        );
    }
}
