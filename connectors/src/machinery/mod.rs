//! The machinery every connector shares: rate budgets, retries, circuit breaker, the HTTP
//! client that combines them, errors with their disposition, metrics, secrets, access tokens,
//! cursors and periodic sweeps.

pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod client;
pub mod cursor;
pub mod error;
pub mod metrics;
pub mod retry_after;
pub mod secret;
pub mod sweep;
pub mod token;

pub use backoff::{HttpSettings, RetryPolicy};
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use budget::{RateBudget, RateLimit, RateLimitError};
pub use client::{ApiClient, ApiClientBuilder, ApiResponse, epoch_millis};
pub use cursor::{Cursor, CursorAction, CursorKey, CursorStore, CursorStoreError};
pub use error::{ConnectorError, ConnectorFailure, Disposition, ErrorKind};
pub use metrics::{ConnectorMetrics, record_cursor_lag};
pub use secret::{Secret, SecretError};
pub use sweep::PeriodicSweep;
pub use token::{IssuedToken, OAuth2TokenResponse, TokenCache, request_oauth2_token};
