//! `ApiClient`: the one HTTP client setup of every connector. Around reqwest it adds the
//! per-operation rate budget, the request timeout, retries of throttled and failing calls
//! (Retry-After honoured, bounded exponential backoff with jitter), the connector's circuit
//! breaker, the request id of each response, error classification and metrics.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backon::Retryable;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};
use serde::de::DeserializeOwned;

use super::backoff::{HttpSettings, RetryPolicy};
use super::breaker::{BreakerState, CircuitBreaker};
use super::budget::{RateBudget, RateLimit, parse_announced_rate};
use super::error::{ConnectorError, ErrorKind};
use super::metrics::ConnectorMetrics;
use super::retry_after::parse_retry_after;
use crate::sourced::Origin;

/// The longest pause a `Retry-After` header imposes: a server asking for more than a day is
/// misbehaving, and an instant that far ahead may not even be representable.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Builds an [`ApiClient`]: every operation the connector calls is declared with its
/// documented rate limit.
#[derive(Debug)]
pub struct ApiClientBuilder {
    connector: String,
    settings: HttpSettings,
    operations: Vec<(String, RateLimit)>,
    request_id_header: Option<String>,
    rate_limit_header: Option<String>,
}

impl ApiClientBuilder {
    /// Declares an operation (`OF21`, `getItemOffers`...) and its rate limit.
    pub fn operation(mut self, name: impl Into<String>, limit: RateLimit) -> Self {
        self.operations.push((name.into(), limit));
        self
    }

    /// The response header carrying the API's request id (e.g. `x-amzn-RequestId`).
    pub fn request_id_header(mut self, name: impl Into<String>) -> Self {
        self.request_id_header = Some(name.into());
        self
    }

    /// The response header announcing the operation's current rate in requests per second
    /// (Amazon's `x-amzn-RateLimit-Limit`); the budget follows it.
    pub fn rate_limit_header(mut self, name: impl Into<String>) -> Self {
        self.rate_limit_header = Some(name.into());
        self
    }

    pub fn build(self) -> Result<ApiClient, ConnectorError> {
        let connector = self.connector;
        let invalid = |detail: String| ConnectorError::config(&connector, detail);
        let header = |name: Option<String>| {
            name.map(|name| {
                HeaderName::try_from(name.as_str())
                    .map_err(|error| invalid(format!("header name {name:?}: {error}")))
            })
            .transpose()
        };
        let request_id_header = header(self.request_id_header)?;
        let rate_limit_header = header(self.rate_limit_header)?;
        let mut budgets = HashMap::new();
        for (operation, limit) in self.operations {
            let budget = RateBudget::new(limit).map_err(|error| {
                invalid(format!("rate limit of operation {operation}: {error}"))
            })?;
            if budgets.insert(operation.clone(), budget).is_some() {
                return Err(invalid(format!("operation {operation} declared twice")));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(self.settings.timeout())
            .user_agent(concat!("sourcing-hub/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| invalid(format!("HTTP client: {error}")))?;
        let metrics = ConnectorMetrics::new(connector.clone());
        metrics.circuit(BreakerState::Closed);
        Ok(ApiClient {
            breaker: Mutex::new(CircuitBreaker::new(self.settings.breaker())),
            retry: self.settings.retry_policy(),
            connector,
            http,
            budgets,
            request_id_header,
            rate_limit_header,
            metrics,
        })
    }
}

/// The HTTP client of one connector; share it by reference between its operations.
#[derive(Debug)]
pub struct ApiClient {
    connector: String,
    http: reqwest::Client,
    budgets: HashMap<String, RateBudget>,
    retry: RetryPolicy,
    breaker: Mutex<CircuitBreaker>,
    request_id_header: Option<HeaderName>,
    rate_limit_header: Option<HeaderName>,
    metrics: ConnectorMetrics,
}

/// A successful (2xx) response, read to the end.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    connector: String,
    operation: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The API's request id, or one we generated when the API sends none.
    pub request_id: String,
    pub received_at: SystemTime,
}

impl ApiResponse {
    /// `<connector>.<operation>`, the `source` of the records read from this response.
    pub fn source(&self) -> String {
        format!("{}.{}", self.connector, self.operation)
    }

    pub fn received_at_ms(&self) -> i64 {
        epoch_millis(self.received_at)
    }

    /// Where records read from this response come from; observed when received.
    pub fn origin(&self) -> Origin {
        Origin {
            source: self.source(),
            request_id: Some(self.request_id.clone()),
            observed_at: self.received_at_ms(),
        }
    }

    /// Parses the body as JSON. A body that is not the expected document is a
    /// [`ErrorKind::Malformed`] error carrying the raw bytes, for quarantine.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            self.error(ErrorKind::Malformed {
                detail: format!("the response body is not the documented JSON: {error}"),
                raw: self.body.to_vec(),
            })
        })
    }

    /// An error about this response, carrying its request id.
    pub fn error(&self, kind: ErrorKind) -> ConnectorError {
        ConnectorError::new(&self.connector, &self.operation, kind)
            .with_request_id(self.request_id.clone())
    }
}

pub fn epoch_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

impl ApiClient {
    pub fn builder(connector: impl Into<String>, settings: &HttpSettings) -> ApiClientBuilder {
        ApiClientBuilder {
            connector: connector.into(),
            settings: *settings,
            operations: Vec::new(),
            request_id_header: None,
            rate_limit_header: None,
        }
    }

    pub fn connector(&self) -> &str {
        &self.connector
    }

    pub fn metrics(&self) -> &ConnectorMetrics {
        &self.metrics
    }

    /// The circuit's state, for health: anything but closed means unhealthy.
    pub fn circuit(&self) -> BreakerState {
        self.lock_breaker().state()
    }

    /// The rate limit an operation currently runs at (after adjustments from headers).
    pub fn rate_limit(&self, operation: &str) -> Option<RateLimit> {
        self.budgets.get(operation).map(RateBudget::limit)
    }

    fn lock_breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        // Each transition replaces the state whole: a poisoned lock still holds a valid one.
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one request of `operation`, built by `request` for each attempt (so an attempt
    /// can carry a renewed token). Waits for the operation's budget before each attempt;
    /// retries throttled (429), failing (5xx, 408) and unreachable calls with bounded
    /// exponential backoff and jitter, never sooner than a Retry-After; a Retry-After longer
    /// than the policy's `max_retry_after`, exhausted retries or an open circuit end the call
    /// with a "retry later" error. Any other status ends it at once with its classification.
    pub async fn send<F>(&self, operation: &str, request: F) -> Result<ApiResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync,
    {
        let budget = self.budgets.get(operation).ok_or_else(|| {
            ConnectorError::config(
                &self.connector,
                format!("operation {operation} was not declared with its rate limit on the client"),
            )
        })?;
        let attempt = || self.attempt(operation, budget, &request);
        attempt
            .retry(self.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(|error: &ConnectorError| {
                matches!(
                    error.kind(),
                    ErrorKind::Throttled { .. }
                        | ErrorKind::Unavailable { .. }
                        | ErrorKind::Transport(_)
                )
            })
            .adjust(|error: &ConnectorError, backoff| {
                let retry_after = match error.kind() {
                    ErrorKind::Throttled { retry_after, .. }
                    | ErrorKind::Unavailable { retry_after, .. } => *retry_after,
                    _ => None,
                };
                self.retry.next_delay(backoff, retry_after)
            })
            .notify(|error: &ConnectorError, delay| {
                tracing::warn!(
                    connector = %self.connector,
                    operation,
                    error = %error,
                    delay_ms = delay.as_millis() as u64,
                    "retrying"
                );
            })
            .await
    }

    async fn attempt<F>(
        &self,
        operation: &str,
        budget: &RateBudget,
        request: &F,
    ) -> Result<ApiResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync,
    {
        let result = self.attempt_unrecorded(operation, budget, request).await;
        if let Err(error) = &result {
            self.metrics.error(operation, error.error_type());
        }
        result
    }

    async fn attempt_unrecorded<F>(
        &self,
        operation: &str,
        budget: &RateBudget,
        request: &F,
    ) -> Result<ApiResponse, ConnectorError>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync,
    {
        let error = |kind| ConnectorError::new(&self.connector, operation, kind);
        if let Some(remaining) = budget.paused_for(Instant::now())
            && remaining > self.retry.max_retry_after
        {
            // The API asked for a longer pause than one call waits: give the poll back.
            return Err(error(ErrorKind::Throttled {
                status: StatusCode::TOO_MANY_REQUESTS.as_u16(),
                retry_after: Some(remaining),
            }));
        }
        let permit = self.lock_breaker().permit(Instant::now());
        if let Err(open) = permit {
            return Err(error(ErrorKind::CircuitOpen {
                retry_in: open.retry_in,
            }));
        }
        budget.acquire().await;
        self.metrics.request_sent(operation);
        let started = Instant::now();
        let response = match request(&self.http).send().await {
            Ok(response) => response,
            Err(failure) => {
                self.source_failed();
                return Err(error(ErrorKind::Transport(failure)));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        let request_id = self.request_id(&headers);
        let error = |kind| error(kind).with_request_id(request_id.clone());
        self.follow_announced_rate(operation, budget, &headers);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(failure) => {
                self.source_failed();
                return Err(error(ErrorKind::Transport(failure)));
            }
        };
        self.metrics.request_finished(operation, started.elapsed());
        let received_at = SystemTime::now();
        if status.is_success() {
            self.source_answered();
            self.metrics.succeeded(operation, received_at);
            return Ok(ApiResponse {
                connector: self.connector.clone(),
                operation: operation.to_owned(),
                status,
                headers,
                body,
                request_id,
                received_at,
            });
        }
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, received_at))
            .map(|after| after.min(LONGEST_RETRY_AFTER));
        let kind = ErrorKind::from_status(status.as_u16(), &body, retry_after);
        if let Some(after) = retry_after
            && matches!(
                kind,
                ErrorKind::Throttled { .. } | ErrorKind::Unavailable { .. }
            )
        {
            budget.pause_until(Instant::now() + after);
        }
        if matches!(kind, ErrorKind::Throttled { .. }) {
            self.metrics.throttled(operation);
        }
        if kind.is_source_failure() {
            self.source_failed();
        } else {
            self.source_answered();
        }
        Err(error(kind))
    }

    fn request_id(&self, headers: &HeaderMap) -> String {
        self.request_id_header
            .as_ref()
            .and_then(|name| headers.get(name))
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    fn follow_announced_rate(&self, operation: &str, budget: &RateBudget, headers: &HeaderMap) {
        let Some(per_second) = self
            .rate_limit_header
            .as_ref()
            .and_then(|name| headers.get(name))
            .and_then(|value| value.to_str().ok())
            .and_then(parse_announced_rate)
        else {
            return;
        };
        if let Ok(true) = budget.adjust_rate(per_second) {
            tracing::info!(
                connector = %self.connector,
                operation,
                per_second,
                "the API announced another rate limit: the budget follows it"
            );
        }
    }

    fn source_failed(&self) {
        let (before, after) = {
            let mut breaker = self.lock_breaker();
            let before = breaker.state();
            breaker.on_failure(Instant::now());
            (before, breaker.state())
        };
        if before != after && after == BreakerState::Open {
            tracing::warn!(
                connector = %self.connector,
                "circuit opened: the API keeps failing, requests are refused until a probe"
            );
        }
        self.metrics.circuit(after);
    }

    fn source_answered(&self) {
        self.lock_breaker().on_success();
        self.metrics.circuit(BreakerState::Closed);
    }
}
