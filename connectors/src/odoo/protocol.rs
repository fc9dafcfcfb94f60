//! The two ways to call Odoo's models, as request bodies and response readers (no I/O):
//!
//! - JSON-RPC, every version until its removal in Odoo 22: `POST /jsonrpc` with a JSON-RPC 2.0
//!   `call` of service `common` method `authenticate` (database, login, password or API key)
//!   for the user id, then service `object` method `execute_kw` (database, uid, password,
//!   model, method, positional args, keyword args). Errors come back with HTTP 200 and an
//!   `error` member (`code`, `message`, `data.name`, `data.message`...).
//! - JSON-2, from Odoo 19: `POST /json/2/<model>/<method>` with `Authorization: bearer <API
//!   key>` and `X-Odoo-Database`, the method's keyword arguments as the JSON body and its
//!   return value as the response; errors are 4xx/5xx with `name`, `message`, `arguments`.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// One `search_read` call.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRead<'a> {
    pub model: &'a str,
    pub domain: Value,
    pub fields: &'a [&'a str],
    /// `None` reads every matching row (the barcode look-ups of one page).
    pub limit: Option<u32>,
    pub order: Option<&'a str>,
    /// Whether archived records (`active` false) are read too: Odoo's default `active_test`
    /// context hides them, so an archived product would vanish without a word.
    pub include_archived: bool,
}

impl SearchRead<'_> {
    fn keyword_arguments(&self) -> serde_json::Map<String, Value> {
        let mut kwargs = serde_json::Map::new();
        kwargs.insert("fields".to_owned(), json!(self.fields));
        if let Some(limit) = self.limit {
            kwargs.insert("limit".to_owned(), json!(limit));
        }
        if let Some(order) = self.order {
            kwargs.insert("order".to_owned(), json!(order));
        }
        if self.include_archived {
            // The method's `context` keyword, in `execute_kw`'s keywords as in the JSON-2 body.
            kwargs.insert("context".to_owned(), json!({"active_test": false}));
        }
        kwargs
    }

    /// The JSON-2 body: the domain and the keyword arguments.
    pub fn json2_body(&self) -> Value {
        let mut body = self.keyword_arguments();
        body.insert("domain".to_owned(), self.domain.clone());
        Value::Object(body)
    }

    /// The JSON-2 path, `/json/2/<model>/search_read`.
    pub fn json2_path(&self) -> String {
        format!("/json/2/{}/search_read", self.model)
    }

    /// The JSON-RPC body of `execute_kw` as user `uid`.
    pub fn jsonrpc_body(&self, request_id: u64, database: &str, uid: i64, password: &str) -> Value {
        jsonrpc_call(
            request_id,
            "object",
            "execute_kw",
            json!([
                database,
                uid,
                password,
                self.model,
                "search_read",
                [self.domain],
                self.keyword_arguments()
            ]),
        )
    }
}

/// The JSON-RPC body of `common.authenticate`.
pub fn authenticate_body(request_id: u64, database: &str, login: &str, password: &str) -> Value {
    jsonrpc_call(
        request_id,
        "common",
        "authenticate",
        json!([database, login, password, {}]),
    )
}

fn jsonrpc_call(request_id: u64, service: &str, method: &str, args: Value) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": service, "method": method, "args": args},
        "id": request_id,
    })
}

/// A JSON-RPC response: `result` or `error`.
#[derive(Debug, Deserialize, Serialize)]
pub struct JsonRpcResponse {
    pub jsonrpc: String,
    pub id: Option<Value>,
    pub result: Option<Box<RawValue>>,
    pub error: Option<JsonRpcError>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct JsonRpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<OdooErrorData>,
}

/// What Odoo says about an exception: the `data` of a JSON-RPC error, and the whole body of
/// a JSON-2 error.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OdooErrorData {
    /// The exception's qualified name, e.g. `odoo.exceptions.AccessDenied`.
    pub name: String,
    pub message: String,
    #[serde(default)]
    pub arguments: Vec<Value>,
    #[serde(default)]
    pub context: Option<Value>,
    #[serde(default)]
    pub debug: Option<String>,
}

/// A response Odoo answered with an error, or one that is not Odoo's shape.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OdooResponseError {
    #[error("Odoo answered error {code} {message:?}{}", data.as_ref().map(|data| format!(" ({}: {})", data.name, data.message)).unwrap_or_default())]
    Odoo {
        code: i64,
        message: String,
        data: Option<Box<OdooErrorData>>,
    },
    #[error(
        "authentication refused for login {login:?} on database {database:?}; check the login and API key"
    )]
    AuthenticationRefused { login: String, database: String },
    #[error("the response is not Odoo's: {problem}")]
    Malformed { problem: String },
}

impl OdooResponseError {
    /// Access and authentication errors will not pass on a retry.
    pub fn is_access_denied(&self) -> bool {
        match self {
            OdooResponseError::AuthenticationRefused { .. } => true,
            OdooResponseError::Odoo { data, .. } => data.as_ref().is_some_and(|data| {
                matches!(
                    data.name.as_str(),
                    "odoo.exceptions.AccessDenied" | "odoo.exceptions.AccessError"
                )
            }),
            OdooResponseError::Malformed { .. } => false,
        }
    }
}

fn malformed(problem: impl ToString) -> OdooResponseError {
    OdooResponseError::Malformed {
        problem: problem.to_string(),
    }
}

/// The `result` of a JSON-RPC response body.
pub fn jsonrpc_result(body: &[u8]) -> Result<Box<RawValue>, OdooResponseError> {
    let response: JsonRpcResponse = serde_json::from_slice(body).map_err(malformed)?;
    match (response.result, response.error) {
        (_, Some(error)) => Err(OdooResponseError::Odoo {
            code: error.code,
            message: error.message,
            data: error.data.map(Box::new),
        }),
        (Some(result), None) => Ok(result),
        (None, None) => Err(malformed("neither result nor error")),
    }
}

/// The user id `common.authenticate` returned; Odoo answers `false` for bad credentials.
pub fn authenticated_uid(
    body: &[u8],
    database: &str,
    login: &str,
) -> Result<i64, OdooResponseError> {
    let result = jsonrpc_result(body)?;
    match result.get().trim() {
        "false" => Err(OdooResponseError::AuthenticationRefused {
            login: login.to_owned(),
            database: database.to_owned(),
        }),
        text => serde_json::from_str(text)
            .map_err(|_| malformed(format!("authenticate returned {text}, not a user id"))),
    }
}

/// The rows of a `search_read` result, each kept as its raw JSON so a row that does not map
/// is quarantined as Odoo sent it.
pub fn search_read_rows(result: &RawValue) -> Result<Vec<Box<RawValue>>, OdooResponseError> {
    serde_json::from_str(result.get()).map_err(|error| {
        malformed(format!(
            "search_read did not return a list of rows: {error}"
        ))
    })
}

/// The error body of a JSON-2 call answered with a 4xx/5xx status.
pub fn json2_error(status: u16, body: &[u8]) -> OdooResponseError {
    match serde_json::from_slice::<OdooErrorData>(body) {
        Ok(data) => OdooResponseError::Odoo {
            code: i64::from(status),
            message: data.message.clone(),
            data: Some(Box::new(data)),
        },
        Err(error) => malformed(format!(
            "HTTP {status} with a body that is not Odoo's error: {error}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products_since() -> SearchRead<'static> {
        SearchRead {
            model: "product.product",
            domain: json!([["write_date", ">=", "2025-03-10 06:00:00"]]),
            fields: &["barcode", "write_date"],
            limit: Some(2),
            order: Some("write_date asc, id asc"),
            include_archived: true,
        }
    }

    #[test]
    fn jsonrpc_execute_kw_carries_credentials_model_domain_and_keywords() {
        assert_eq!(
            products_since().jsonrpc_body(7, "prod", 2, "key"),
            json!({
                "jsonrpc": "2.0",
                "method": "call",
                "params": {
                    "service": "object",
                    "method": "execute_kw",
                    "args": [
                        "prod", 2, "key", "product.product", "search_read",
                        [[["write_date", ">=", "2025-03-10 06:00:00"]]],
                        {"fields": ["barcode", "write_date"], "limit": 2,
                         "order": "write_date asc, id asc",
                         "context": {"active_test": false}}
                    ]
                },
                "id": 7
            })
        );
    }

    #[test]
    fn json2_posts_keywords_to_the_model_method_path() {
        let call = products_since();
        assert_eq!(call.json2_path(), "/json/2/product.product/search_read");
        assert_eq!(
            call.json2_body(),
            json!({
                "domain": [["write_date", ">=", "2025-03-10 06:00:00"]],
                "fields": ["barcode", "write_date"],
                "limit": 2,
                "order": "write_date asc, id asc",
                "context": {"active_test": false}
            })
        );
    }

    #[test]
    fn authenticate_false_is_a_refusal() {
        let body = br#"{"jsonrpc": "2.0", "id": 1, "result": false}"#;
        assert!(matches!(
            authenticated_uid(body, "prod", "bot"),
            Err(OdooResponseError::AuthenticationRefused { .. })
        ));
        let body = br#"{"jsonrpc": "2.0", "id": 1, "result": 6}"#;
        assert_eq!(authenticated_uid(body, "prod", "bot"), Ok(6));
    }
}
