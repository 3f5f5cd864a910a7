//! Configuration errors: each names the service, the key, the value and what is allowed.

use std::fmt;

/// A configuration the runtime refuses. Its text names the service, the key,
/// the offending value (secrets redacted) and what is allowed instead:
///
/// ```text
/// service `trpc.app.server.consumer`: `fetchMax=12x`: not a whole number; allowed: 1000..=2147483135 (bytes)
/// ```
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

impl ConfigError {
    /// An error that is about no single key (file, YAML layout, address syntax).
    ///
    /// ```
    /// use kafka_runtime::config::ConfigError;
    /// let err = ConfigError::new(Some("svc"), "the address has no `?`");
    /// assert_eq!((err.service.as_deref(), err.key), (Some("svc"), None));
    /// ```
    pub fn new(service: Option<&str>, reason: impl Into<String>) -> Self {
        ConfigError {
            service: service.map(str::to_owned),
            key: None,
            value: None,
            reason: reason.into(),
        }
    }

    /// An error about one key; `value` must already be redacted if secret.
    ///
    /// ```
    /// use kafka_runtime::config::ConfigError;
    /// let err = ConfigError::for_key("svc", "fetchMax", Some("12x"), "not a whole number");
    /// assert_eq!(err.value.as_deref(), Some("12x"));
    /// assert!(err.to_string().contains("fetchMax=12x"), "{err}");
    /// ```
    pub fn for_key(
        service: &str,
        key: &str,
        value: Option<&str>,
        reason: impl Into<String>,
    ) -> Self {
        ConfigError {
            service: Some(service.to_owned()),
            key: Some(key.to_owned()),
            value: value.map(str::to_owned),
            reason: reason.into(),
        }
    }
}

/// Longest value echoed whole; a longer one (a pasted blob, a runaway
/// template) is cut so that one error stays one readable line.
const MAX_SHOWN_VALUE_CHARS: usize = 80;
/// How much of a cut value is kept.
const CUT_VALUE_CHARS: usize = 60;

fn shown_value(value: &str) -> std::borrow::Cow<'_, str> {
    let count = value.chars().count();
    if count <= MAX_SHOWN_VALUE_CHARS {
        return value.into();
    }
    let head: String = value.chars().take(CUT_VALUE_CHARS).collect();
    format!("{head}... ({count} characters)").into()
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(service) = &self.service {
            write!(f, "service `{service}`: ")?;
        }
        let value = self.value.as_deref().map(shown_value);
        match (&self.key, &value) {
            (Some(key), Some(value)) => write!(f, "`{key}={value}`: ")?,
            (Some(key), None) => write!(f, "`{key}`: ")?,
            (None, Some(value)) => write!(f, "`{value}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ConfigError {}
