//! Configuration errors: each names the service, the key, the value and what is allowed.

use std::fmt;

/// A configuration the runtime refuses. Its text names the service, the key,
/// the offending value (secrets redacted) and what is allowed instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The service (`name:` in the YAML) the error belongs to, if any.
    pub service: Option<String>,
    /// The address key at fault, if the error is about one key.
    pub key: Option<String>,
    /// The offending value, already redacted when it is a secret.
    pub value: Option<String>,
    /// What is wrong and what is allowed instead.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(service) = &self.service {
            write!(f, "service `{service}`: ")?;
        }
        match (&self.key, &self.value) {
            (Some(key), Some(value)) => write!(f, "`{key}={value}`: ")?,
            (Some(key), None) => write!(f, "`{key}`: ")?,
            (None, Some(value)) => write!(f, "`{value}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ConfigError {}
