//! Credentials read from the environment or from a file (`<NAME>_FILE`, as Docker and
//! Kubernetes mount secrets), masked whenever printed, never logged.

use std::fmt;
use std::path::PathBuf;

const MASK: &str = "***";

/// A credential. `Debug` and `Display` print `***`; only [`Secret::expose`] reveals it, at
/// the point where it goes into a request.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("neither {name} nor {name}_FILE is set: set one of them to the credential")]
    Missing { name: String },
    #[error("both {name} and {name}_FILE are set: keep only one, so it is clear which is used")]
    Ambiguous { name: String },
    #[error("{name} is set but empty: set it to the credential")]
    Empty { name: String },
    #[error("{name}_FILE names {path}, which cannot be read: {source}")]
    File {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{name} is not valid UTF-8")]
    NotUnicode { name: String },
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads the credential from the environment variable `name`, or from the file whose
    /// path is in `<name>_FILE` (trailing line breaks removed).
    pub fn from_env(name: &str) -> Result<Secret, SecretError> {
        let file_variable = format!("{name}_FILE");
        let read = |variable: &str| match std::env::var(variable) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::NotUnicode {
                name: variable.to_owned(),
            }),
        };
        let value = match (read(name)?, read(&file_variable)?) {
            (Some(_), Some(_)) => {
                return Err(SecretError::Ambiguous {
                    name: name.to_owned(),
                });
            }
            (Some(value), None) => value,
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                let content =
                    std::fs::read_to_string(&path).map_err(|source| SecretError::File {
                        name: name.to_owned(),
                        path: path.clone(),
                        source,
                    })?;
                content.trim_end_matches(['\r', '\n']).to_owned()
            }
            (None, None) => {
                return Err(SecretError::Missing {
                    name: name.to_owned(),
                });
            }
        };
        if value.is_empty() {
            return Err(SecretError::Empty {
                name: name.to_owned(),
            });
        }
        Ok(Secret(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The credential as a request header value, after `prefix` (`""`, `"Bearer "`...),
    /// marked sensitive so HTTP tooling never prints it.
    pub fn header_value(
        &self,
        prefix: &str,
    ) -> Result<reqwest::header::HeaderValue, reqwest::header::InvalidHeaderValue> {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("{prefix}{}", self.0))?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_when_printed() {
        let secret = Secret::new("k3y");
        assert_eq!(
            format!("{secret} {secret:?} {:?}", Some(&secret)),
            "*** *** Some(***)"
        );
        assert_eq!(secret.expose(), "k3y");
        let header = secret.header_value("Bearer ").unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer k3y");
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("k3y"));
        assert!(Secret::new("line\nbreak").header_value("").is_err());
    }

    // Each test uses its own variable names: tests run in parallel in one process.
    #[test]
    fn read_from_the_variable_or_the_file() {
        // SAFETY: the variables are unique to this test and nothing else reads them.
        unsafe { std::env::set_var("HUBCONN_TEST_SECRET_A", "from-env") };
        assert_eq!(
            Secret::from_env("HUBCONN_TEST_SECRET_A").unwrap().expose(),
            "from-env"
        );

        let path = std::env::temp_dir().join(format!("hubconn-secret-{}", std::process::id()));
        std::fs::write(&path, "from-file\n").unwrap();
        // SAFETY: as above.
        unsafe { std::env::set_var("HUBCONN_TEST_SECRET_B_FILE", &path) };
        assert_eq!(
            Secret::from_env("HUBCONN_TEST_SECRET_B").unwrap().expose(),
            "from-file"
        );

        // SAFETY: as above.
        unsafe { std::env::set_var("HUBCONN_TEST_SECRET_A_FILE", &path) };
        assert!(matches!(
            Secret::from_env("HUBCONN_TEST_SECRET_A"),
            Err(SecretError::Ambiguous { .. })
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            Secret::from_env("HUBCONN_TEST_SECRET_B"),
            Err(SecretError::File { .. })
        ));
        let missing = Secret::from_env("HUBCONN_TEST_SECRET_C").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "neither HUBCONN_TEST_SECRET_C nor HUBCONN_TEST_SECRET_C_FILE is set: set one of them to the credential"
        );
    }
}
