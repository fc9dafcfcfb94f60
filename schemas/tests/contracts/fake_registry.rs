//! An in-process stand-in for the Confluent Schema Registry REST API, answering in the
//! registry's real shapes (ids, escaped schema strings, `error_code`/`message` bodies) and
//! checking BACKWARD compatibility (the registry's default level) with the same checker as
//! the BACKWARD guard.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use apache_avro::Schema;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[path = "checker.rs"]
pub mod checker;

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct State {
    /// Schema text by id.
    schemas: HashMap<u32, String>,
    next_id: u32,
    /// Ids registered under each subject, oldest first.
    subjects: HashMap<String, Vec<u32>>,
    requests: Vec<Recorded>,
    scripted: VecDeque<(StatusCode, String)>,
    required_authorization: Option<String>,
}

pub struct FakeRegistry {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeRegistry {
    /// Serves on an ephemeral loopback port until dropped.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the fake registry");
        let address = listener
            .local_addr()
            .expect("local address of the listener");
        let state = Arc::new(Mutex::new(State {
            next_id: 1,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(answer(&state, request).await) }
                    });
                    // A client hanging up mid-request is not the fake's concern.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            state,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Installs `schema` under `id`, as if another producer had registered it.
    pub fn preload(&self, id: u32, subject: &str, schema: &str) {
        let mut state = self.state();
        state.schemas.insert(id, schema.to_owned());
        state
            .subjects
            .entry(subject.to_owned())
            .or_default()
            .push(id);
        state.next_id = state.next_id.max(id + 1);
    }

    /// The next request gets this status and raw body instead of the normal answer.
    pub fn script(&self, status: u16, body: &str) {
        let status = StatusCode::from_u16(status).expect("a valid HTTP status");
        self.state().scripted.push_back((status, body.to_owned()));
    }

    /// Requests without exactly this `Authorization` header get 401.
    pub fn require_authorization(&self, header: &str) {
        self.state().required_authorization = Some(header.to_owned());
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    raw(status, body.to_string())
}

fn raw(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .body(Full::new(Bytes::from(body)))
        .expect("a well-formed response")
}

fn error(status: StatusCode, code: i64, message: &str) -> Response<Full<Bytes>> {
    reply(status, json!({"error_code": code, "message": message}))
}

async fn answer(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let mut recorded = Recorded {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().map(str::to_owned),
        content_type: header("content-type"),
        authorization: header("authorization"),
        body: String::new(),
    };
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(failure) => return error(StatusCode::BAD_REQUEST, 400, &failure.to_string()),
    };
    recorded.body = String::from_utf8_lossy(&body).into_owned();
    let mut state = lock(state);
    state.requests.push(recorded.clone());
    if let Some((status, body)) = state.scripted.pop_front() {
        return raw(status, body);
    }
    if let Some(required) = &state.required_authorization
        && recorded.authorization.as_ref() != Some(required)
    {
        return error(StatusCode::UNAUTHORIZED, 401, "Unauthorized");
    }
    let segments: Vec<&str> = recorded.path.trim_matches('/').split('/').collect();
    match (recorded.method.as_str(), segments.as_slice()) {
        ("POST", ["subjects", subject, "versions"]) => register(&mut state, subject, &body),
        ("GET", ["schemas", "ids", id]) => {
            match id.parse::<u32>().ok().and_then(|id| state.schemas.get(&id)) {
                Some(schema) => reply(StatusCode::OK, json!({"schema": schema})),
                None => error(
                    StatusCode::NOT_FOUND,
                    40403,
                    &format!("Schema {id} not found"),
                ),
            }
        }
        ("POST", ["compatibility", "subjects", subject, "versions", "latest"]) => {
            compatibility(&state, subject, &body)
        }
        _ => error(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found"),
    }
}

/// The schema text and parsed schema of a request body, or the registry's 422 answer.
fn candidate(body: &[u8]) -> Result<(String, Schema), Box<Response<Full<Bytes>>>> {
    let invalid = |detail: String| {
        Box::new(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            &format!("Either the input schema or one its references is invalid: {detail}"),
        ))
    };
    let parsed: Value = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    let text = parsed["schema"]
        .as_str()
        .ok_or_else(|| invalid("no schema string".into()))?
        .to_owned();
    let schema = Schema::parse_str(&text).map_err(|e| invalid(e.to_string()))?;
    Ok((text, schema))
}

fn latest<'s>(state: &'s State, subject: &str) -> Option<&'s String> {
    state
        .subjects
        .get(subject)
        .and_then(|ids| ids.last())
        .and_then(|id| state.schemas.get(id))
}

fn backward_problem(state: &State, subject: &str, schema: &Schema) -> Option<String> {
    let previous = Schema::parse_str(latest(state, subject)?).expect("stored schemas parse");
    let problems = checker::checker_problems(&previous, schema);
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn register(state: &mut State, subject: &str, body: &[u8]) -> Response<Full<Bytes>> {
    let (text, schema) = match candidate(body) {
        Ok(candidate) => candidate,
        Err(response) => return *response,
    };
    let canonical = schema.canonical_form();
    let existing = state.schemas.iter().find_map(|(id, known)| {
        let known = Schema::parse_str(known).expect("stored schemas parse");
        (known.canonical_form() == canonical).then_some(*id)
    });
    if let Some(id) = existing
        && state
            .subjects
            .get(subject)
            .is_some_and(|ids| ids.contains(&id))
    {
        return reply(StatusCode::OK, json!({"id": id}));
    }
    if let Some(problem) = backward_problem(state, subject, &schema) {
        return error(
            StatusCode::CONFLICT,
            409,
            &format!(
                "Schema being registered is incompatible with an earlier schema for subject \
                 \"{subject}\", details: [{problem}]"
            ),
        );
    }
    let id = existing.unwrap_or_else(|| {
        let id = state.next_id;
        state.next_id += 1;
        state.schemas.insert(id, text);
        id
    });
    state
        .subjects
        .entry(subject.to_owned())
        .or_default()
        .push(id);
    reply(StatusCode::OK, json!({"id": id}))
}

fn compatibility(state: &State, subject: &str, body: &[u8]) -> Response<Full<Bytes>> {
    let (_, schema) = match candidate(body) {
        Ok(candidate) => candidate,
        Err(response) => return *response,
    };
    if latest(state, subject).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            40401,
            &format!("Subject '{subject}' not found."),
        );
    }
    match backward_problem(state, subject, &schema) {
        None => reply(StatusCode::OK, json!({"is_compatible": true})),
        Some(problem) => reply(
            StatusCode::OK,
            json!({"is_compatible": false, "messages": [problem]}),
        ),
    }
}
