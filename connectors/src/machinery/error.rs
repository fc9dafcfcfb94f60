//! What went wrong in a connector, and what to do about it (Arroyo style): retry later,
//! quarantine the element, or stop and fix the configuration.

use std::time::Duration;

use super::cursor::CursorStoreError;
use crate::connector::SinkError;

/// The action an error calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The source or our infrastructure is unavailable for now: poll again later, no sooner
    /// than `after` when the source said so. The cursor did not move, so nothing is lost.
    RetryLater { after: Option<Duration> },
    /// This element (one request's subject, one payload) cannot be read: quarantine its raw
    /// bytes with a reason and carry on with the next.
    Quarantine,
    /// Polling again cannot help (credentials refused, a request the API does not accept,
    /// an invalid configuration): stop the connector and fix the cause.
    Stop,
}

/// The longest part of a response body kept in an error message.
const BODY_EXCERPT_CHARS: usize = 500;

/// An error of one connector operation (`<connector>.<operation>`), with the API's request
/// id when there was a response. Boxed: it travels through every `Result` of a poll.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ConnectorError(Box<ConnectorFailure>);

#[derive(Debug, thiserror::Error)]
#[error("{connector}.{operation}{}: {kind}", request_id.as_ref().map(|id| format!(" (request id {id})")).unwrap_or_default())]
pub struct ConnectorFailure {
    pub connector: String,
    pub operation: String,
    pub request_id: Option<String>,
    #[source]
    pub kind: ErrorKind,
}

#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    #[error(
        "throttled (HTTP {status}{}): the rate budget waits, retry later",
        retry_after.map(|after| format!(", Retry-After {}s", after.as_secs_f64())).unwrap_or_default()
    )]
    Throttled {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error(
        "the API is failing (HTTP {status}): {body}; retry later{}",
        retry_after.map(|after| format!(" (Retry-After {}s)", after.as_secs_f64())).unwrap_or_default()
    )]
    Unavailable {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error(
        "request failed before a response (timeout, connection or body read): {0}; retry later"
    )]
    Transport(#[source] reqwest::Error),
    #[error(
        "circuit open after repeated failures: the API is not called until a probe in {}s; \
         retry later",
        retry_in.as_secs_f64()
    )]
    CircuitOpen { retry_in: Duration },
    #[error(
        "credentials refused (HTTP {status}): {body}; stop and check the connector's \
         credentials and their permissions"
    )]
    Unauthorized { status: u16, body: String },
    #[error(
        "the API refused this element (HTTP {status}): {body}; quarantine it and go on with \
         the next"
    )]
    ElementRefused { status: u16, body: String },
    #[error(
        "the API refused the request (HTTP {status}): {body}; stop and fix the connector's \
         configuration (base URL, ids, API version)"
    )]
    RequestRefused { status: u16, body: String },
    #[error("malformed payload: {detail}; quarantine its raw bytes and go on with the next")]
    Malformed { detail: String, raw: Vec<u8> },
    #[error("invalid connector configuration: {0}; stop and fix it")]
    Config(String),
    #[error("cursor store: {0}; retry later (the cursor did not move)")]
    Cursor(#[source] CursorStoreError),
    #[error("record sink: {0}; retry later (the cursor did not move, the page is read again)")]
    Sink(#[source] SinkError),
}

impl ErrorKind {
    /// Classifies a non-success HTTP status. Not for 2xx.
    pub fn from_status(status: u16, body: &[u8], retry_after: Option<Duration>) -> ErrorKind {
        let body = body_excerpt(body);
        match status {
            429 => ErrorKind::Throttled {
                status,
                retry_after,
            },
            500..=599 | 408 => ErrorKind::Unavailable {
                status,
                body,
                retry_after,
            },
            401 | 403 => ErrorKind::Unauthorized { status, body },
            400 | 404 | 410 | 422 => ErrorKind::ElementRefused { status, body },
            _ => ErrorKind::RequestRefused { status, body },
        }
    }

    pub fn disposition(&self) -> Disposition {
        match self {
            ErrorKind::Throttled { retry_after, .. }
            | ErrorKind::Unavailable { retry_after, .. } => Disposition::RetryLater {
                after: *retry_after,
            },
            ErrorKind::CircuitOpen { retry_in } => Disposition::RetryLater {
                after: Some(*retry_in),
            },
            ErrorKind::Transport(_) | ErrorKind::Cursor(_) | ErrorKind::Sink(_) => {
                Disposition::RetryLater { after: None }
            }
            ErrorKind::ElementRefused { .. } | ErrorKind::Malformed { .. } => {
                Disposition::Quarantine
            }
            ErrorKind::Unauthorized { .. }
            | ErrorKind::RequestRefused { .. }
            | ErrorKind::Config(_) => Disposition::Stop,
        }
    }

    /// The `error_type` metric label: a closed set.
    pub fn error_type(&self) -> &'static str {
        match self {
            ErrorKind::Throttled { .. } => "throttled",
            ErrorKind::Unavailable { .. } => "unavailable",
            ErrorKind::Transport(error) if error.is_timeout() => "timeout",
            ErrorKind::Transport(_) => "transport",
            ErrorKind::CircuitOpen { .. } => "circuit_open",
            ErrorKind::Unauthorized { .. } => "unauthorized",
            ErrorKind::ElementRefused { .. } => "element_refused",
            ErrorKind::RequestRefused { .. } => "request_refused",
            ErrorKind::Malformed { .. } => "malformed",
            ErrorKind::Config(_) => "config",
            ErrorKind::Cursor(_) => "cursor",
            ErrorKind::Sink(_) => "sink",
        }
    }

    /// A failure of the API itself, which counts towards opening the circuit.
    pub fn is_source_failure(&self) -> bool {
        matches!(
            self,
            ErrorKind::Unavailable { .. } | ErrorKind::Transport(_)
        )
    }
}

impl ConnectorError {
    pub fn new(connector: &str, operation: &str, kind: ErrorKind) -> Self {
        ConnectorError(Box::new(ConnectorFailure {
            connector: connector.to_owned(),
            operation: operation.to_owned(),
            request_id: None,
            kind,
        }))
    }

    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.0.request_id = Some(request_id.into());
        self
    }

    /// An invalid configuration of `connector`: stop and fix it.
    pub fn config(connector: &str, detail: impl Into<String>) -> Self {
        ConnectorError::new(connector, "config", ErrorKind::Config(detail.into()))
    }

    pub fn connector(&self) -> &str {
        &self.0.connector
    }

    pub fn operation(&self) -> &str {
        &self.0.operation
    }

    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The failure, to take what it carries (e.g. a malformed payload's raw bytes).
    pub fn into_failure(self) -> ConnectorFailure {
        *self.0
    }

    pub fn disposition(&self) -> Disposition {
        self.0.kind.disposition()
    }

    pub fn error_type(&self) -> &'static str {
        self.0.kind.error_type()
    }
}

/// The start of a response body, for error messages (never the whole of a large page).
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    match text.char_indices().nth(BODY_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_by_what_to_do() {
        let after = Some(Duration::from_secs(3));
        let cases = [
            (429, Disposition::RetryLater { after }),
            (503, Disposition::RetryLater { after }),
            (500, Disposition::RetryLater { after }),
            (408, Disposition::RetryLater { after }),
            (401, Disposition::Stop),
            (403, Disposition::Stop),
            (404, Disposition::Quarantine),
            (400, Disposition::Quarantine),
            (405, Disposition::Stop),
        ];
        for (status, expected) in cases {
            assert_eq!(
                ErrorKind::from_status(status, b"{}", after).disposition(),
                expected,
                "HTTP {status}"
            );
        }
    }

    #[test]
    fn messages_name_the_call_and_the_action() {
        let error = ConnectorError::new(
            "mirakl",
            "OF21",
            ErrorKind::from_status(401, br#"{"message":"Unauthorized"}"#, None),
        )
        .with_request_id("abc-1");
        let message = error.to_string();
        assert!(
            message.starts_with("mirakl.OF21 (request id abc-1): credentials refused (HTTP 401)")
        );
        assert!(message.contains("stop and check"));
        assert_eq!(error.error_type(), "unauthorized");
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "é".repeat(2_000);
        let excerpt = body_excerpt(body.as_bytes());
        assert_eq!(excerpt.chars().count(), BODY_EXCERPT_CHARS + 3);
        assert_eq!(body_excerpt(b"  "), "(empty body)");
    }
}
