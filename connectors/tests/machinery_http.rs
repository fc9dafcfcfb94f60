//! The shared HTTP machinery over real HTTP on loopback: a small scripted server answers
//! 429s with Retry-After (seconds and HTTP-dates), 503s, 401s and announced rates, and
//! records when each request arrived, so the tests count requests and measure their spacing.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use hub_connectors::machinery::{
    ApiClient, BreakerState, Disposition, ErrorKind, HttpSettings, RateLimit,
};

/// One scripted answer; once the script is exhausted the server answers `200 {}`.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn status(status: u16) -> Self {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Default)]
struct Script {
    answers: VecDeque<Answer>,
    /// Headers added to every answer (e.g. an announced rate).
    always: Vec<(&'static str, String)>,
    arrivals: Vec<Instant>,
}

#[derive(Clone, Default)]
struct Server(Arc<Mutex<Script>>);

impl Server {
    async fn start(answers: Vec<Answer>) -> (Server, SocketAddr) {
        let server = Server::default();
        server.0.lock().unwrap().answers = answers.into();
        let app = Router::new()
            .route("/op", get(answer))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (server, address)
    }

    fn always(&self, name: &'static str, value: &str) {
        self.0.lock().unwrap().always.push((name, value.to_owned()));
    }

    fn arrivals(&self) -> Vec<Instant> {
        self.0.lock().unwrap().arrivals.clone()
    }

    fn requests(&self) -> usize {
        self.0.lock().unwrap().arrivals.len()
    }
}

async fn answer(State(server): State<Server>) -> impl IntoResponse {
    let mut script = server.0.lock().unwrap();
    script.arrivals.push(Instant::now());
    let answer = script.answers.pop_front().unwrap_or(Answer::status(200));
    let mut headers = HeaderMap::new();
    for (name, value) in answer.headers.iter().chain(script.always.iter()) {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    (answer.status, headers, "{}")
}

fn settings() -> HttpSettings {
    HttpSettings {
        timeout_ms: 5_000,
        max_retries: 3,
        min_backoff_ms: 20,
        max_backoff_ms: 100,
        max_retry_after_ms: 5_000,
        breaker_failure_threshold: 3,
        breaker_cooldown_ms: 400,
    }
}

fn client(settings: &HttpSettings, limit: RateLimit) -> ApiClient {
    ApiClient::builder("loopback", settings)
        .operation("op", limit)
        .request_id_header("x-amzn-RequestId")
        .rate_limit_header("x-amzn-RateLimit-Limit")
        .build()
        .unwrap()
}

fn url(address: SocketAddr) -> String {
    format!("http://{address}/op")
}

/// When each request left the client: the request builder runs right after the budget let
/// the attempt go. Measured here rather than on arrival, which a loaded machine delays
/// unevenly.
#[derive(Clone, Default)]
struct Departures(Arc<Mutex<Vec<Instant>>>);

impl Departures {
    fn get(
        &self,
        url: String,
    ) -> impl Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + use<> {
        let departures = self.clone();
        move |http| {
            departures.0.lock().unwrap().push(Instant::now());
            http.get(&url)
        }
    }

    fn times(&self) -> Vec<Instant> {
        self.0.lock().unwrap().clone()
    }
}

/// Requests, however concurrent the callers, never leave faster than the burst plus one
/// request per interval in any window (a millisecond of clock reading tolerated).
fn assert_within_budget(departures: &[Instant], limit: RateLimit) {
    const TOLERANCE: Duration = Duration::from_millis(1);
    let mut departures = departures.to_vec();
    departures.sort();
    for (i, start) in departures.iter().enumerate() {
        for (j, end) in departures.iter().enumerate().skip(i) {
            let in_window = (j - i + 1) as u64;
            let allowed = limit
                .max_requests_within(end.duration_since(*start) + TOLERANCE)
                .unwrap();
            assert!(
                in_window <= allowed,
                "{in_window} requests within {:?}, the budget allows {allowed}",
                end.duration_since(*start)
            );
        }
    }
}

#[tokio::test]
async fn concurrent_callers_never_exceed_the_budget() {
    let (server, address) = Server::start(Vec::new()).await;
    let limit = RateLimit::new(10.0, 3).unwrap();
    let client = Arc::new(client(&settings(), limit));
    let departures = Departures::default();
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..15 {
        let client = Arc::clone(&client);
        let request = departures.get(url(address));
        callers.spawn(async move { client.send("op", request).await });
    }
    while let Some(result) = callers.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(server.requests(), 15);
    assert_within_budget(&departures.times(), limit);
    // 3 at once, then 12 more at 10/s: at least 1.1 s (a tick of tolerance).
    assert!(
        started.elapsed() >= Duration::from_millis(1_100),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_in_seconds_is_honoured_then_the_call_succeeds() {
    let (server, address) = Server::start(vec![
        Answer::status(429).header("retry-after", "1"),
        Answer::status(503).header("retry-after", "1"),
    ])
    .await;
    let client = client(&settings(), RateLimit::new(100.0, 10).unwrap());
    let response = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 3);
    for pair in arrivals.windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(990), "retried after {gap:?}");
    }
    assert_eq!(client.circuit(), BreakerState::Closed);
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    // HTTP-dates have a one-second resolution: two seconds ahead waits at least one.
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let (server, address) =
        Server::start(vec![Answer::status(429).header("retry-after", date)]).await;
    let client = client(&settings(), RateLimit::new(100.0, 10).unwrap());
    client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap();
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 2);
    assert!(arrivals[1].duration_since(arrivals[0]) >= Duration::from_millis(1_000));
}

#[tokio::test]
async fn a_retry_after_beyond_the_policy_gives_the_poll_back_and_holds_the_operation() {
    let (server, address) =
        Server::start(vec![Answer::status(429).header("retry-after", "30")]).await;
    let client = client(&settings(), RateLimit::new(100.0, 10).unwrap());
    let error = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::Throttled { status: 429, .. }
    ));
    let Disposition::RetryLater { after: Some(after) } = error.disposition() else {
        panic!(
            "expected retry later with a delay, got {:?}",
            error.disposition()
        );
    };
    assert!(after > Duration::from_secs(29) && after <= Duration::from_secs(30));
    // The next call does not touch the API while the pause lasts.
    let again = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap_err();
    assert!(matches!(again.kind(), ErrorKind::Throttled { .. }));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn the_breaker_opens_after_failures_refuses_without_calling_then_recovers() {
    let failures = (0..3).map(|_| Answer::status(503)).collect();
    let (server, address) = Server::start(failures).await;
    let settings = HttpSettings {
        max_retries: 0,
        ..settings()
    };
    let client = client(&settings, RateLimit::new(100.0, 10).unwrap());
    for _ in 0..3 {
        let error = client
            .send("op", |http| http.get(url(address)))
            .await
            .unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::Unavailable { status: 503, .. }
        ));
    }
    assert_eq!(client.circuit(), BreakerState::Open);
    let refused = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap_err();
    assert!(matches!(refused.kind(), ErrorKind::CircuitOpen { .. }));
    assert!(matches!(
        refused.disposition(),
        Disposition::RetryLater { after: Some(_) }
    ));
    assert_eq!(
        server.requests(),
        3,
        "an open circuit must not call the API"
    );

    tokio::time::sleep(Duration::from_millis(settings.breaker_cooldown_ms)).await;
    client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap();
    assert_eq!(client.circuit(), BreakerState::Closed);
    assert_eq!(server.requests(), 4);
}

#[tokio::test]
async fn retries_stop_at_the_policy_and_count_towards_the_breaker() {
    let failures = (0..10).map(|_| Answer::status(500)).collect();
    let (server, address) = Server::start(failures).await;
    let settings = HttpSettings {
        max_retries: 2,
        breaker_failure_threshold: 10,
        ..settings()
    };
    let client = client(&settings, RateLimit::new(100.0, 10).unwrap());
    let error = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::Unavailable { status: 500, .. }
    ));
    assert_eq!(server.requests(), 3, "one attempt and two retries");
}

#[tokio::test]
async fn refused_credentials_stop_without_retrying() {
    let (server, address) = Server::start(vec![Answer::status(401)]).await;
    let client = client(&settings(), RateLimit::new(100.0, 10).unwrap());
    let error = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap_err();
    assert_eq!(error.disposition(), Disposition::Stop);
    assert_eq!(server.requests(), 1);
    assert_eq!(client.circuit(), BreakerState::Closed, "the API answered");
}

#[tokio::test]
async fn the_budget_follows_the_announced_rate() {
    let (server, address) = Server::start(Vec::new()).await;
    server.always("x-amzn-ratelimit-limit", "4.0");
    let client = client(&settings(), RateLimit::new(50.0, 1).unwrap());
    let departures = Departures::default();
    for _ in 0..4 {
        client
            .send("op", departures.get(url(address)))
            .await
            .unwrap();
    }
    assert_eq!(server.requests(), 4);
    assert_eq!(
        client.rate_limit("op"),
        Some(RateLimit::new(4.0, 1).unwrap())
    );
    // After the first answer announced 4/s, requests leave 250 ms apart.
    for pair in departures.times().windows(2) {
        let gap = pair[1].duration_since(pair[0]);
        assert!(gap >= Duration::from_millis(249), "{gap:?}");
    }
}

#[tokio::test]
async fn the_request_id_is_the_api_one_or_ours() {
    let (_server, address) = Server::start(vec![
        Answer::status(200).header("x-amzn-requestid", "abc-123"),
        Answer::status(200),
    ])
    .await;
    let client = client(&settings(), RateLimit::new(100.0, 10).unwrap());
    let theirs = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap();
    assert_eq!(theirs.request_id, "abc-123");
    assert_eq!(theirs.origin().source, "loopback.op");
    let ours = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap();
    assert_eq!(
        ours.request_id.len(),
        36,
        "a generated UUID: {}",
        ours.request_id
    );
}

#[tokio::test]
async fn an_undeclared_operation_is_a_configuration_error() {
    let client = client(&settings(), RateLimit::new(1.0, 1).unwrap());
    let error = client
        .send("other", |http| http.get("http://127.0.0.1:9/"))
        .await
        .unwrap_err();
    assert_eq!(error.disposition(), Disposition::Stop);
}

#[tokio::test]
async fn a_retry_after_beyond_any_clock_holds_the_operation_for_a_day() {
    let (server, address) = Server::start(vec![
        Answer::status(429).header("retry-after", "99999999999999999999999"),
    ])
    .await;
    let client = client(&settings(), RateLimit::new(100.0, 10).unwrap());
    let error = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap_err();
    assert_eq!(
        error.disposition(),
        Disposition::RetryLater {
            after: Some(Duration::from_secs(24 * 60 * 60))
        }
    );
    let again = client
        .send("op", |http| http.get(url(address)))
        .await
        .unwrap_err();
    assert!(matches!(again.kind(), ErrorKind::Throttled { .. }));
    assert_eq!(server.requests(), 1);
}
