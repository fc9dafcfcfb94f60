//! Failures of ClickHouse calls, classified into the ones worth retrying and the ones that
//! will fail again identically.

use clickhouse::error::Error as ClientError;

/// ClickHouse exception codes that describe a transient state of the server or the network
/// (names from ClickHouse's ErrorCodes.cpp). Every other code is a property of the query or
/// the data (unknown column, type mismatch, syntax...) and fails again on retry.
const RETRYABLE_CODES: &[u32] = &[
    3,   // UNEXPECTED_END_OF_FILE: the request body was cut
    159, // TIMEOUT_EXCEEDED
    202, // TOO_MANY_SIMULTANEOUS_QUERIES
    203, // NO_FREE_CONNECTION
    209, // SOCKET_TIMEOUT
    210, // NETWORK_ERROR
    236, // ABORTED
    241, // MEMORY_LIMIT_EXCEEDED
    242, // TABLE_IS_READ_ONLY
    252, // TOO_MANY_PARTS
    285, // TOO_FEW_LIVE_REPLICAS
    319, // UNKNOWN_STATUS_OF_INSERT
    394, // QUERY_WAS_CANCELLED
    425, // SYSTEM_ERROR
    999, // KEEPER_EXCEPTION
];

/// Whether a failed call may succeed if repeated unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    Retryable,
    Fatal,
}

impl std::fmt::Display for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Retry::Retryable => "retryable",
            Retry::Fatal => "not retryable",
        })
    }
}

/// The ClickHouse exception code in an error answer (`Code: N. DB::Exception: ...`).
pub fn exception_code(error: &ClientError) -> Option<u32> {
    let ClientError::BadResponse(text) = error else {
        return None;
    };
    let rest = &text[text.find("Code: ")? + "Code: ".len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

/// Classifies a client error: transport failures, timeouts and transient server states are
/// retryable; what the server refused because of the query or the data is not.
pub fn classify(error: &ClientError) -> Retry {
    match error {
        ClientError::Network(_) | ClientError::TimedOut => Retry::Retryable,
        ClientError::BadResponse(text) => match exception_code(error) {
            Some(code) if RETRYABLE_CODES.contains(&code) => Retry::Retryable,
            Some(_) => Retry::Fatal,
            // No ClickHouse exception: an empty answer with only a status line, or a proxy
            // page. 5xx means the server side was unavailable; 4xx means the request is wrong.
            None if text.starts_with('4') => Retry::Fatal,
            None => Retry::Retryable,
        },
        _ => Retry::Fatal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(text: &str) -> ClientError {
        ClientError::BadResponse(text.to_owned())
    }

    #[test]
    fn reads_the_exception_code() {
        let error = bad("Code: 60. DB::Exception: Table x.y does not exist. (UNKNOWN_TABLE)");
        assert_eq!(exception_code(&error), Some(60));
        assert_eq!(exception_code(&bad("503 Service Unavailable")), None);
        assert_eq!(exception_code(&ClientError::TimedOut), None);
    }

    #[test]
    fn data_and_schema_errors_are_fatal() {
        for text in [
            "Code: 16. DB::Exception: No such column nope in table t. (NO_SUCH_COLUMN_IN_TABLE)",
            "Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)",
            "Code: 62. DB::Exception: Syntax error. (SYNTAX_ERROR)",
            "404 Not Found",
        ] {
            assert_eq!(classify(&bad(text)), Retry::Fatal, "{text}");
        }
        assert_eq!(
            classify(&ClientError::SchemaMismatch("x".into())),
            Retry::Fatal
        );
    }

    #[test]
    fn transient_failures_are_retryable() {
        for text in [
            "Code: 252. DB::Exception: Too many parts. (TOO_MANY_PARTS)",
            "Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)",
            "503 Service Unavailable",
            "502 Bad Gateway",
        ] {
            assert_eq!(classify(&bad(text)), Retry::Retryable, "{text}");
        }
        assert_eq!(classify(&ClientError::TimedOut), Retry::Retryable);
    }
}
