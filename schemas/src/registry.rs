//! A client of the Confluent Schema Registry REST API, limited to what the hub needs:
//! register a schema under a subject, fetch a schema by id, check compatibility. Ids are
//! cached both ways so that, once warm, encoding and decoding never call the registry.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use apache_avro::Schema;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::contract::Fingerprint;
use crate::resolved::DatumReader;

/// The registry's own media type, for requests and answers.
pub const REGISTRY_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A schema's global id in the registry (the 4 bytes after the Confluent magic byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaId(pub u32);

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Basic-auth credentials; the password never appears in `Debug` output.
#[derive(Clone)]
pub struct BasicAuth {
    username: String,
    password: String,
}

impl BasicAuth {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where the registry is and how to reach it.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Base URL, e.g. `http://localhost:8081` (a path prefix is kept). Credentials go in
    /// `auth`, never in the URL, so that URLs can be logged.
    pub url: String,
    pub auth: Option<BasicAuth>,
    /// Limit for one HTTP request, connection included.
    pub timeout: Duration,
}

impl RegistryConfig {
    /// Default timeout for one registry request.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth: None,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    pub fn with_basic_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.auth = Some(BasicAuth::new(username, password));
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The `error_code` and `message` of a registry error body (or the raw body when the answer
/// was not the registry's JSON, e.g. from a proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryReply {
    pub error_code: Option<i64>,
    pub message: String,
}

impl fmt::Display for RegistryReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error_code {
            Some(code) => write!(f, "error_code {code}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A failed registry call. [`RegistryError::is_retryable`] separates transient failures
/// (network, 5xx) from ones that retrying cannot fix.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry URL {url:?} is unusable: {reason}")]
    InvalidConfig { url: String, reason: &'static str },
    #[error(
        "schema registry unreachable while trying to {operation}: {cause}; retry, and check \
         the registry URL and the network if it persists"
    )]
    Unreachable {
        operation: String,
        cause: reqwest::Error,
    },
    #[error("schema registry failed to {operation}: HTTP {status}, {reply}; retry later")]
    Unavailable {
        operation: String,
        status: u16,
        reply: RegistryReply,
    },
    #[error(
        "schema registry refused to {operation}: HTTP {status}, {reply}; check the registry \
         username and password and their permissions"
    )]
    Unauthorized {
        operation: String,
        status: u16,
        reply: RegistryReply,
    },
    #[error(
        "schema registry refused to {operation} as incompatible with the subject's earlier \
         versions: {reply}; evolve the schema BACKWARD-compatibly (a new field needs a \
         default), see schemas/README.md"
    )]
    Incompatible {
        operation: String,
        reply: RegistryReply,
    },
    #[error("schema registry refused to {operation} as an invalid schema: {reply}")]
    InvalidSchema {
        operation: String,
        reply: RegistryReply,
    },
    #[error("schema registry could not {operation}: not found, {reply}")]
    NotFound {
        operation: String,
        reply: RegistryReply,
    },
    #[error("schema registry refused to {operation}: HTTP {status}, {reply}")]
    Rejected {
        operation: String,
        status: u16,
        reply: RegistryReply,
    },
    #[error(
        "schema registry answered a request to {operation} with something other than the \
         Confluent API's JSON ({detail}): is the URL that of a schema registry?"
    )]
    BadResponse { operation: String, detail: String },
    #[error("cannot {operation}: the schema cannot be written as JSON: {detail}")]
    SchemaJson { operation: String, detail: String },
    #[error("schema id {id} from the registry cannot be used: {reason}")]
    UnusableSchema { id: SchemaId, reason: String },
}

impl RegistryError {
    /// Whether the same call may succeed later (connection failure, timeout, 5xx, 429);
    /// everything else needs a fix of the schema, the credentials or the configuration.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            RegistryError::Unreachable { .. } | RegistryError::Unavailable { .. }
        )
    }
}

/// A writer schema known to the registry, parsed and resolved once.
#[derive(Debug)]
pub struct RegisteredSchema {
    id: SchemaId,
    schema: Schema,
    fingerprint: Fingerprint,
    full_name: Option<String>,
    reader: DatumReader,
}

impl RegisteredSchema {
    fn new(id: SchemaId, schema: Schema, fingerprint: Fingerprint) -> Result<Self, RegistryError> {
        let full_name = match &schema {
            Schema::Record(record) => Some(record.name.fullname(None)),
            _ => None,
        };
        let reader = DatumReader::new(&schema).map_err(|error| RegistryError::UnusableSchema {
            id,
            reason: format!("its named types cannot be resolved: {error}"),
        })?;
        Ok(Self {
            id,
            fingerprint,
            full_name,
            schema,
            reader,
        })
    }

    /// Reads datums written with this schema.
    pub(crate) fn reader(&self) -> &DatumReader {
        &self.reader
    }

    pub fn id(&self) -> SchemaId {
        self.id
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The record's full name, `None` if the schema is not a record.
    pub fn full_name(&self) -> Option<&str> {
        self.full_name.as_deref()
    }
}

/// The registry's verdict on a candidate schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compatibility {
    pub is_compatible: bool,
    /// The registry's reasons, when it gives them.
    pub messages: Vec<String>,
}

#[derive(serde::Serialize)]
struct SchemaBody<'a> {
    schema: &'a str,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaAnswer {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct CompatibilityAnswer {
    is_compatible: bool,
    #[serde(default)]
    messages: Vec<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<i64>,
    message: Option<String>,
}

/// Subject not found / version not found: a subject without versions accepts any schema.
const SUBJECT_NOT_FOUND: i64 = 40401;
const VERSION_NOT_FOUND: i64 = 40402;

/// Client of one schema registry. Cheap to share behind an `Arc`; the caches are shared.
pub struct SchemaRegistry {
    http: reqwest::Client,
    base: Url,
    auth: Option<BasicAuth>,
    ids: RwLock<HashMap<(String, Fingerprint), SchemaId>>,
    schemas: RwLock<HashMap<SchemaId, Arc<RegisteredSchema>>>,
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("url", &self.base.as_str())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl SchemaRegistry {
    pub fn new(config: RegistryConfig) -> Result<Self, RegistryError> {
        let invalid = |reason| RegistryError::InvalidConfig {
            url: config.url.clone(),
            reason,
        };
        let base = Url::parse(&config.url).map_err(|_| invalid("it is not an absolute URL"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("only http and https are supported"));
        }
        if !base.username().is_empty() || base.password().is_some() {
            return Err(invalid(
                "it embeds credentials; pass them as basic auth so they are never logged",
            ));
        }
        if base.cannot_be_a_base() {
            return Err(invalid("it cannot have a path appended"));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|_| invalid("the HTTP client cannot be built for it"))?;
        Ok(Self {
            http,
            base,
            auth: config.auth,
            ids: RwLock::default(),
            schemas: RwLock::default(),
        })
    }

    /// The base URL requests go to.
    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Registers `schema` under `subject` (`POST /subjects/{subject}/versions`) and returns
    /// its id; registering an identical schema again returns the existing id. Answered from
    /// the cache when this process already registered it.
    pub async fn register(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<SchemaId, RegistryError> {
        let operation = || {
            format!(
                "register a {} schema under subject {subject}",
                schema_name(schema)
            )
        };
        let body = registry_json(schema, &operation)?;
        let fingerprint =
            Fingerprint::of_json(&body).map_err(|error| RegistryError::SchemaJson {
                operation: operation(),
                detail: error.to_string(),
            })?;
        let cache_key = (subject.to_owned(), fingerprint);
        if let Some(&id) = self
            .ids
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&cache_key)
        {
            return Ok(id);
        }
        let url = self.endpoint(&["subjects", subject, "versions"])?;
        let answer: IdAnswer = self
            .call(self.post(url, &body, &operation)?, &operation)
            .await?;
        let id = SchemaId(answer.id);
        let registered = RegisteredSchema::new(id, schema.clone(), fingerprint)?;
        self.ids
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(cache_key, id);
        self.schemas
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_insert_with(|| Arc::new(registered));
        Ok(id)
    }

    /// The schema with this id, from the cache when this process has seen it.
    pub fn cached_schema(&self, id: SchemaId) -> Option<Arc<RegisteredSchema>> {
        self.schemas
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    /// The schema with this id (`GET /schemas/ids/{id}`), cached after the first call.
    pub async fn schema_by_id(&self, id: SchemaId) -> Result<Arc<RegisteredSchema>, RegistryError> {
        if let Some(known) = self.cached_schema(id) {
            return Ok(known);
        }
        let operation = || format!("fetch schema id {id}");
        let url = self.endpoint(&["schemas", "ids", &id.to_string()])?;
        let answer: SchemaAnswer = self.call(self.http.get(url), &operation).await?;
        if let Some(kind) = answer.schema_type.filter(|kind| kind != "AVRO") {
            return Err(RegistryError::UnusableSchema {
                id,
                reason: format!("it is a {kind} schema, not Avro"),
            });
        }
        if !answer.references.is_empty() {
            return Err(RegistryError::UnusableSchema {
                id,
                reason: "it has schema references, which the hub's contracts never use".into(),
            });
        }
        let schema =
            Schema::parse_str(&answer.schema).map_err(|error| RegistryError::UnusableSchema {
                id,
                reason: format!("it is not valid Avro: {error}"),
            })?;
        let fingerprint = Fingerprint::of_json(&answer.schema).map_err(|error| {
            RegistryError::UnusableSchema {
                id,
                reason: error.to_string(),
            }
        })?;
        let registered = Arc::new(RegisteredSchema::new(id, schema, fingerprint)?);
        Ok(Arc::clone(
            self.schemas
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(id)
                .or_insert(registered),
        ))
    }

    /// Whether `schema` could be registered under `subject` given the subject's
    /// compatibility level (`POST /compatibility/subjects/{subject}/versions/latest`).
    /// A subject without versions accepts any schema.
    pub async fn check_compatibility(
        &self,
        subject: &str,
        schema: &Schema,
    ) -> Result<Compatibility, RegistryError> {
        let operation = || format!("check compatibility under subject {subject}");
        let body = registry_json(schema, &operation)?;
        let mut url =
            self.endpoint(&["compatibility", "subjects", subject, "versions", "latest"])?;
        url.query_pairs_mut().append_pair("verbose", "true");
        let request = self.post(url, &body, &operation)?;
        match self.call::<CompatibilityAnswer>(request, &operation).await {
            Ok(answer) => Ok(Compatibility {
                is_compatible: answer.is_compatible,
                messages: answer.messages,
            }),
            Err(RegistryError::NotFound { reply, .. })
                if matches!(
                    reply.error_code,
                    Some(SUBJECT_NOT_FOUND | VERSION_NOT_FOUND)
                ) =>
            {
                Ok(Compatibility {
                    is_compatible: true,
                    messages: vec![reply.message],
                })
            }
            Err(other) => Err(other),
        }
    }

    fn endpoint(&self, segments: &[&str]) -> Result<Url, RegistryError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| RegistryError::InvalidConfig {
                url: self.base.to_string(),
                reason: "it cannot have a path appended",
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// A POST carrying `{"schema": "<schema JSON>"}` as the registry's media type.
    fn post(
        &self,
        url: Url,
        schema_json: &str,
        operation: &(dyn Fn() -> String + Sync),
    ) -> Result<RequestBuilder, RegistryError> {
        let body = serde_json::to_vec(&SchemaBody {
            schema: schema_json,
        })
        .map_err(|error| RegistryError::SchemaJson {
            operation: operation(),
            detail: error.to_string(),
        })?;
        Ok(self
            .http
            .post(url)
            .header(CONTENT_TYPE, REGISTRY_CONTENT_TYPE)
            .body(body))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        operation: &(dyn Fn() -> String + Sync),
    ) -> Result<T, RegistryError> {
        let mut request =
            request.header(ACCEPT, format!("{REGISTRY_CONTENT_TYPE}, application/json"));
        if let Some(auth) = &self.auth {
            request = request.basic_auth(&auth.username, Some(&auth.password));
        }
        let unreachable = |cause| RegistryError::Unreachable {
            operation: operation(),
            cause,
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let body = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return serde_json::from_slice(&body).map_err(|error| RegistryError::BadResponse {
                operation: operation(),
                detail: format!("HTTP {status} with an unexpected body: {error}"),
            });
        }
        Err(classify(status, reply_of(&body), operation()))
    }
}

/// The schema as JSON for the registry: the full form, with docs and defaults (the
/// canonical form would drop the defaults that compatibility checks depend on).
fn registry_json(
    schema: &Schema,
    operation: &(dyn Fn() -> String + Sync),
) -> Result<String, RegistryError> {
    serde_json::to_string(schema).map_err(|error| RegistryError::SchemaJson {
        operation: operation(),
        detail: error.to_string(),
    })
}

/// The record's full name for messages, or the schema's kind.
fn schema_name(schema: &Schema) -> String {
    match schema {
        Schema::Record(record) => record.name.fullname(None),
        other => format!("{:?}", apache_avro::schema::SchemaKind::from(other)),
    }
}

fn reply_of(body: &[u8]) -> RegistryReply {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            error_code,
            message: Some(message),
        }) => RegistryReply {
            error_code,
            message,
        },
        _ => RegistryReply {
            error_code: None,
            message: String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(500)
                .collect(),
        },
    }
}

fn classify(status: StatusCode, reply: RegistryReply, operation: String) -> RegistryError {
    let code = status.as_u16();
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => RegistryError::Unauthorized {
            operation,
            status: code,
            reply,
        },
        StatusCode::CONFLICT => RegistryError::Incompatible { operation, reply },
        StatusCode::UNPROCESSABLE_ENTITY => RegistryError::InvalidSchema { operation, reply },
        StatusCode::NOT_FOUND => RegistryError::NotFound { operation, reply },
        StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => RegistryError::Unavailable {
            operation,
            status: code,
            reply,
        },
        _ if status.is_server_error() => RegistryError::Unavailable {
            operation,
            status: code,
            reply,
        },
        _ => RegistryError::Rejected {
            operation,
            status: code,
            reply,
        },
    }
}
