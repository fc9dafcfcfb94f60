//! Fault injection, configured per run and per operation: slow answers, failing windows
//! (5xx), throttling (429 with `Retry-After`) at a rate, in storms or past a rate limit, and
//! malformed payload elements. Every decision is drawn from a seeded generator, so a run
//! with the same requests in the same order injects the same faults.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What can go wrong, for every operation (`default`) or one operation by name
/// (`operations`, e.g. `"mirakl.OF21"`), which then replaces the default entirely.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    pub seed: u64,
    pub default: Faults,
    pub operations: BTreeMap<String, Faults>,
}

impl FaultConfig {
    pub fn for_operation(&self, operation: &str) -> &Faults {
        self.operations.get(operation).unwrap_or(&self.default)
    }

    /// Checks every share and window, naming the operation at fault.
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        self.default.validate("default")?;
        for (operation, faults) in &self.operations {
            faults.validate(operation)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("fault configuration of {operation}: {field} is {value}, expected {expected}")]
pub struct FaultConfigError {
    pub operation: String,
    pub field: &'static str,
    pub value: String,
    pub expected: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added before every answer: a slow endpoint.
    pub delay_ms: u64,
    /// When the endpoint answers 5xx instead of serving.
    pub failing: Option<FailingWindow>,
    /// Share of requests answered 429, in [0, 1].
    pub throttle_rate: f64,
    /// When every request is answered 429.
    pub storm: Option<Window>,
    /// The endpoint's own rate limit: requests beyond it are answered 429, like the real
    /// API's token bucket.
    pub rate_limit: Option<RateLimit>,
    /// The `Retry-After` of rate and storm throttling, in whole seconds (HTTP's unit).
    pub retry_after_secs: u64,
    /// Share of payload elements (one offer, one product...) served malformed, in [0, 1].
    pub malformed_rate: f64,
    /// How long a page token stays valid where the real API's tokens expire (only Amazon's
    /// FBA inventory here, whose tokens live 30 s); an older one is refused with a 400.
    /// `None`: tokens never expire.
    pub page_token_lifetime_ms: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            delay_ms: 0,
            failing: None,
            throttle_rate: 0.0,
            storm: None,
            rate_limit: None,
            retry_after_secs: 1,
            malformed_rate: 0.0,
            page_token_lifetime_ms: None,
        }
    }
}

impl Faults {
    fn validate(&self, operation: &str) -> Result<(), FaultConfigError> {
        let error = |field, value: String, expected| FaultConfigError {
            operation: operation.to_owned(),
            field,
            value,
            expected,
        };
        for (field, share) in [
            ("throttle_rate", self.throttle_rate),
            ("malformed_rate", self.malformed_rate),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(error(field, share.to_string(), "a share in [0, 1]"));
            }
        }
        if let Some(failing) = &self.failing
            && !(500..=599).contains(&failing.status)
        {
            return Err(error(
                "failing.status",
                failing.status.to_string(),
                "a 5xx status",
            ));
        }
        if let Some(limit) = &self.rate_limit
            && (limit.per_second.is_nan() || limit.per_second <= 0.0 || limit.burst == 0)
        {
            return Err(error(
                "rate_limit",
                format!("{} per second, burst {}", limit.per_second, limit.burst),
                "a positive rate and a burst of at least 1",
            ));
        }
        Ok(())
    }
}

/// A time window measured from when the fault configuration was applied: from `after_ms`
/// for `duration_ms`, repeated every `every_ms` when set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    #[serde(default)]
    pub after_ms: u64,
    pub duration_ms: u64,
    #[serde(default)]
    pub every_ms: Option<u64>,
}

impl Window {
    pub fn contains(&self, elapsed: Duration) -> bool {
        let elapsed = elapsed.as_millis() as u64;
        let Some(since_start) = elapsed.checked_sub(self.after_ms) else {
            return false;
        };
        match self.every_ms {
            Some(period) if period > 0 => since_start % period < self.duration_ms,
            _ => since_start < self.duration_ms,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailingWindow {
    #[serde(flatten)]
    pub window: Window,
    /// The 5xx status answered, 503 by default.
    #[serde(default = "service_unavailable")]
    pub status: u16,
}

fn service_unavailable() -> u16 {
    503
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

/// The server side of a [`RateLimit`]: a token bucket refilled with time.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    tokens: f64,
    refilled_at: Duration,
}

impl Bucket {
    pub(crate) fn full(limit: &RateLimit, now: Duration) -> Bucket {
        Bucket {
            tokens: f64::from(limit.burst),
            refilled_at: now,
        }
    }

    /// Takes a token, or tells how long until one is available.
    pub(crate) fn take(&mut self, limit: &RateLimit, now: Duration) -> Result<(), Duration> {
        let elapsed = now.saturating_sub(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(f64::from(limit.burst));
        self.refilled_at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.tokens) / limit.per_second,
            ))
        }
    }
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decision {
    Serve {
        malformed_rate: f64,
        seed: u64,
    },
    Fail {
        status: u16,
    },
    Throttle {
        retry_after_secs: u64,
        cause: ThrottleCause,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThrottleCause {
    Rate,
    Storm,
    RateLimit,
}

/// Draws whether a share-based fault hits, from the run's fault generator.
pub(crate) fn draw(rng: &mut ChaCha8Rng, share: f64) -> bool {
    share > 0.0 && rng.random_bool(share)
}

/// A field of a payload element that the [`Malformer`] may break, as the API documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadField<'a> {
    /// Always in the API's answer: it can go missing or get a value of the wrong type.
    Required(&'a str),
    /// The API may leave it out, so its absence is a valid answer, not a malformation: it
    /// can only get a value of the wrong type.
    Optional(&'a str),
}

impl<'a> PayloadField<'a> {
    fn name(self) -> &'a str {
        match self {
            PayloadField::Required(name) | PayloadField::Optional(name) => name,
        }
    }
}

/// Malforms payload elements at the operation's configured rate. A route calls
/// [`Malformer::malform`] (every field required) or [`Malformer::malform_fields`] on each
/// element it serves, naming the fields a consumer needs: one of those the element holds,
/// chosen at random, gets a value of the wrong type or, when the API always writes it, goes
/// missing, the way real feeds break (a price written `"12,99 EUR"`, a missing reference
/// list). A field the element does not hold, or holds as `null`, is never chosen: breaking
/// it would change nothing, and the element would be counted malformed while served sound.
pub struct Malformer {
    rate: f64,
    rng: ChaCha8Rng,
    malformed: u64,
}

impl Malformer {
    pub(crate) fn new(rate: f64, seed: u64) -> Malformer {
        Malformer {
            rate,
            rng: ChaCha8Rng::seed_from_u64(seed),
            malformed: 0,
        }
    }

    /// Maybe malforms one of `fields` of the JSON object `element`, each one a field the API
    /// always writes; returns whether it did.
    pub fn malform(&mut self, element: &mut Value, fields: &[&str]) -> bool {
        let fields: Vec<PayloadField<'_>> = fields
            .iter()
            .map(|name| PayloadField::Required(name))
            .collect();
        self.malform_fields(element, &fields)
    }

    /// Maybe malforms one of `fields` of the JSON object `element`; returns whether it did.
    pub fn malform_fields(&mut self, element: &mut Value, fields: &[PayloadField<'_>]) -> bool {
        if fields.is_empty() || !draw(&mut self.rng, self.rate) {
            return false;
        }
        let Some(object) = element.as_object_mut() else {
            return false;
        };
        let held: Vec<PayloadField<'_>> = fields
            .iter()
            .copied()
            .filter(|field| {
                object
                    .get(field.name())
                    .is_some_and(|value| !value.is_null())
            })
            .collect();
        if held.is_empty() {
            return false;
        }
        let field = held[self.rng.random_range(0..held.len())];
        let broken = match &object[field.name()] {
            Value::Number(number) => {
                // A decimal comma and a currency sign: a number no JSON reader accepts.
                Value::String(format!("{number} EUR").replace('.', ","))
            }
            Value::String(_) => Value::Array(Vec::new()),
            Value::Array(_) => Value::String("N/A".to_owned()),
            Value::Bool(_) => Value::String("maybe".to_owned()),
            Value::Object(_) | Value::Null => Value::String("N/A".to_owned()),
        };
        let removed = matches!(field, PayloadField::Required(_)) && self.rng.random_bool(0.25);
        if removed {
            object.remove(field.name());
        } else {
            object.insert(field.name().to_owned(), broken);
        }
        self.malformed += 1;
        true
    }

    pub(crate) fn malformed(&self) -> u64 {
        self.malformed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_and_periodic_windows() {
        let once = Window {
            after_ms: 100,
            duration_ms: 50,
            every_ms: None,
        };
        assert!(!once.contains(Duration::from_millis(99)));
        assert!(once.contains(Duration::from_millis(100)));
        assert!(once.contains(Duration::from_millis(149)));
        assert!(!once.contains(Duration::from_millis(150)));
        assert!(!once.contains(Duration::from_millis(1_100)));
        let periodic = Window {
            every_ms: Some(1_000),
            ..once
        };
        assert!(periodic.contains(Duration::from_millis(1_120)));
        assert!(!periodic.contains(Duration::from_millis(1_160)));
    }

    #[test]
    fn bucket_allows_the_burst_then_the_rate() {
        let limit = RateLimit {
            per_second: 2.0,
            burst: 2,
        };
        let start = Duration::from_secs(10);
        let mut bucket = Bucket::full(&limit, start);
        assert!(bucket.take(&limit, start).is_ok());
        assert!(bucket.take(&limit, start).is_ok());
        let wait = bucket.take(&limit, start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert!(
            bucket
                .take(&limit, start + Duration::from_millis(500))
                .is_ok()
        );
    }

    #[test]
    fn malformed_elements_lose_or_mistype_a_named_field() {
        let mut malformer = Malformer::new(1.0, 3);
        for _ in 0..50 {
            let mut element =
                serde_json::json!({"price": 12.5, "sku": "A", "refs": [1], "other": 1});
            assert!(malformer.malform(&mut element, &["price", "sku", "refs"]));
            let intact = serde_json::json!({"price": 12.5, "sku": "A", "refs": [1], "other": 1});
            let changed: Vec<&str> = ["price", "sku", "refs"]
                .into_iter()
                .filter(|field| element.get(field) != intact.get(field))
                .collect();
            assert_eq!(changed.len(), 1, "{element}");
            assert_eq!(element["other"], 1);
        }
        assert_eq!(malformer.malformed(), 50);
        let mut never = Malformer::new(0.0, 3);
        let mut element = serde_json::json!({"price": 1});
        assert!(!never.malform(&mut element, &["price"]));
    }

    #[test]
    fn optional_fields_are_mistyped_never_removed() {
        let mut malformer = Malformer::new(1.0, 9);
        for _ in 0..50 {
            let mut element = serde_json::json!({"shipping": 4.99, "price": 12.5});
            assert!(malformer.malform_fields(&mut element, &[PayloadField::Optional("shipping")]));
            assert_eq!(element["shipping"], "4,99 EUR", "{element}");
            assert_eq!(element["price"], 12.5);
        }
    }

    #[test]
    fn fields_the_element_does_not_hold_are_never_chosen() {
        let mut malformer = Malformer::new(1.0, 4);
        for _ in 0..50 {
            let mut element = serde_json::json!({"price": 12.5, "discount": null});
            assert!(malformer.malform(&mut element, &["price", "discount", "absent"]));
            assert_ne!(
                element.get("price"),
                Some(&serde_json::json!(12.5)),
                "{element}"
            );
            assert_eq!(element["discount"], Value::Null);
            assert!(element.get("absent").is_none());
        }
        let mut bare = serde_json::json!({"discount": null});
        assert!(!malformer.malform(&mut bare, &["discount", "absent"]));
        assert_eq!(malformer.malformed(), 50);
    }

    #[test]
    fn invalid_shares_name_the_operation() {
        let mut config = FaultConfig::default();
        config.operations.insert(
            "mirakl.OF21".into(),
            Faults {
                malformed_rate: 1.5,
                ..Faults::default()
            },
        );
        let error = config.validate().unwrap_err();
        assert!(error.to_string().contains("mirakl.OF21"), "{error}");
        assert!(error.to_string().contains("malformed_rate"), "{error}");
    }
}
