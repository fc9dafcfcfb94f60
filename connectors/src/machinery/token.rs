//! An access token kept until shortly before it lapses, so no call carries one that dies in
//! flight: every connector whose API issues expiring tokens (Octopia's OAuth2, Amazon's
//! LWA, Fnac Darty's `auth`) asks this cache, which renews through the connector's own
//! token call only when needed. A token the API refuses before its announced end (revoked)
//! is forgotten, so the next call fetches a new one.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde::Deserialize;

use super::client::ApiClient;
use super::error::ConnectorError;
use super::secret::Secret;

/// A token as the API issued it, and when it stops being accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub token: Secret,
    pub expires_at: SystemTime,
}

impl IssuedToken {
    /// A token that lives `lifetime` from `issued_at` (OAuth2's `expires_in`).
    pub fn lasting(token: Secret, issued_at: SystemTime, lifetime: Duration) -> Self {
        IssuedToken {
            token,
            expires_at: issued_at + lifetime,
        }
    }
}

/// An OAuth 2.0 access token response (RFC 6749 §5.1), as Octopia's Keycloak realm and
/// Login with Amazon answer: `expires_in` is the token's lifetime in seconds.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct OAuth2TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    #[serde(default)]
    pub token_type: Option<String>,
}

impl std::fmt::Debug for OAuth2TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2TokenResponse")
            .field("access_token", &"***")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish()
    }
}

/// Asks an OAuth 2.0 token endpoint for a token: `form` (the grant and the client's
/// credentials) POSTed to `url` as `operation` of `client`, the answer read as an
/// [`OAuth2TokenResponse`] living from when it was received.
pub async fn request_oauth2_token(
    client: &ApiClient,
    operation: &str,
    url: &Url,
    form: &[(&str, &str)],
) -> Result<IssuedToken, ConnectorError> {
    let answer = client
        .send(operation, |http| http.post(url.clone()).form(form))
        .await?;
    let token: OAuth2TokenResponse = answer.json()?;
    Ok(IssuedToken::lasting(
        Secret::new(token.access_token),
        answer.received_at,
        Duration::from_secs(token.expires_in),
    ))
}

#[derive(Debug)]
pub struct TokenCache {
    renewal_margin: Duration,
    current: Option<IssuedToken>,
}

impl TokenCache {
    /// A cache that renews a token `renewal_margin` before it expires.
    pub fn new(renewal_margin: Duration) -> Self {
        TokenCache {
            renewal_margin,
            current: None,
        }
    }

    /// The cached token, or the one `renew` fetches when none is usable any more.
    pub async fn get_or_renew<F, Fut>(&mut self, renew: F) -> Result<Secret, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<IssuedToken, ConnectorError>>,
    {
        if let Some(token) = self.usable_at(SystemTime::now()) {
            return Ok(token);
        }
        let issued = renew().await?;
        let token = issued.token.clone();
        self.current = Some(issued);
        Ok(token)
    }

    /// Drops the cached token: the API refused it, so the next call fetches another.
    pub fn forget(&mut self) {
        self.current = None;
    }

    fn usable_at(&self, now: SystemTime) -> Option<Secret> {
        self.current
            .as_ref()
            .filter(|issued| now + self.renewal_margin < issued.expires_at)
            .map(|issued| issued.token.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const MARGIN: Duration = Duration::from_secs(60);

    fn issued(name: &str, lifetime: Duration) -> IssuedToken {
        IssuedToken::lasting(Secret::new(name), SystemTime::now(), lifetime)
    }

    #[tokio::test]
    async fn a_token_is_fetched_once_and_reused_until_its_margin() {
        let fetched = Cell::new(0);
        let mut cache = TokenCache::new(MARGIN);
        for _ in 0..3 {
            let token = cache
                .get_or_renew(|| async {
                    fetched.set(fetched.get() + 1);
                    Ok(issued("first", Duration::from_secs(3600)))
                })
                .await
                .expect("token");
            assert_eq!(token.expose(), "first");
        }
        assert_eq!(fetched.get(), 1);
    }

    #[tokio::test]
    async fn a_token_inside_its_renewal_margin_is_renewed() {
        let mut cache = TokenCache::new(MARGIN);
        let short = cache
            .get_or_renew(|| async { Ok(issued("short", Duration::from_secs(30))) })
            .await
            .expect("token");
        assert_eq!(short.expose(), "short");
        let renewed = cache
            .get_or_renew(|| async { Ok(issued("renewed", Duration::from_secs(3600))) })
            .await
            .expect("token");
        assert_eq!(
            renewed.expose(),
            "renewed",
            "30 s left is within the 60 s margin"
        );
        assert!(
            cache
                .usable_at(SystemTime::now() + Duration::from_secs(3000))
                .is_some()
        );
        assert!(
            cache
                .usable_at(SystemTime::now() + Duration::from_secs(3541))
                .is_none()
        );
    }

    #[test]
    fn token_responses_never_print_their_token() {
        let response: OAuth2TokenResponse = serde_json::from_str(
            r#"{"access_token": "eyJhbGciOi", "expires_in": 7200, "token_type": "Bearer"}"#,
        )
        .expect("an OAuth 2.0 token response");
        assert_eq!(response.expires_in, 7200);
        assert!(!format!("{response:?}").contains("eyJhbGciOi"));
    }

    #[tokio::test]
    async fn a_forgotten_token_is_fetched_again_and_a_failed_fetch_keeps_nothing() {
        let mut cache = TokenCache::new(MARGIN);
        cache
            .get_or_renew(|| async { Ok(issued("revoked", Duration::from_secs(3600))) })
            .await
            .expect("token");
        cache.forget();
        let refused = cache
            .get_or_renew(|| async {
                Err(ConnectorError::config("test", "the token endpoint refused"))
            })
            .await;
        assert!(refused.is_err());
        assert!(cache.usable_at(SystemTime::now()).is_none());
        let next = cache
            .get_or_renew(|| async { Ok(issued("next", Duration::from_secs(3600))) })
            .await
            .expect("token");
        assert_eq!(next.expose(), "next");
    }
}
