//! A string that never shows itself: SASL passwords and key material.

use std::fmt;

/// A secret value. `Debug` and `Display` print `***`; only
/// [`Secret::expose`] gives the text, for the one place that hands it to librdkafka.
///
/// ```
/// use kafka_runtime::config::Secret;
///
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password} {password:?}"), "*** ***");
/// assert_eq!(password.expose(), "hunter2");
/// assert_eq!(Secret::REDACTED, "***");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// What every rendering of a secret prints instead of it.
    ///
    /// ```
    /// use kafka_runtime::config::Secret;
    /// assert_eq!(format!("{:?}", Secret::new("k3y")), Secret::REDACTED);
    /// ```
    pub const REDACTED: &'static str = "***";

    /// Wraps a secret value.
    ///
    /// ```
    /// let s = kafka_runtime::config::Secret::new(String::from("hunter2"));
    /// assert_eq!(format!("{s:?}"), "***");
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text. Call it only to hand the value to the Kafka client.
    ///
    /// ```
    /// let s = kafka_runtime::config::Secret::new("hunter2");
    /// assert_eq!(s.expose(), "hunter2");
    /// ```
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::REDACTED)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_renders_its_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(***)");
        assert_eq!(secret.expose(), "hunter2");
    }
}
