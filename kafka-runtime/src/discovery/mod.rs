//! Broker discovery: `discover=NAME&namespace=NS` in an address.
//!
//! With `discover`, the part of the address before `?` is not a broker list
//! but one service name. At startup the runtime asks the resolver registered
//! under `NAME` to turn that service name (and the namespace) into brokers,
//! then builds its clients with them. This is the plug-in point for
//! Polaris-like registries:
//!
//! ```
//! use kafka_runtime::discovery::{register_resolver, DiscoveryError};
//!
//! // `discover=static` now maps every service to one local broker.
//! register_resolver("static", |service: &str, namespace: &str| {
//!     let _ = (service, namespace);
//!     Ok::<_, DiscoveryError>(vec!["127.0.0.1:9092".to_owned()])
//! });
//! ```
//!
//! Built in (registered from the start):
//!
//! | name | service name | what it returns |
//! |---|---|---|
//! | `dns` | `host:port` | every address the system resolver gives for `host`, with `port`; the namespace is not used |
//! | `env` | any name | the comma-separated brokers in the environment variable `KAFKA_RS_DISCOVERY_<NAMESPACE>_<SERVICE>` (upper case, every character other than a letter or digit becomes `_`) |
//!
//! [`Config::resolve_discovery`](crate::config::Config::resolve_discovery)
//! resolves every service of a loaded configuration; `serve()` and
//! `RuntimeHandle::start` call it before any client is built. Errors are
//! startup errors that name the service, the `discover` value and the cause:
//! an unknown resolver (listing the registered ones), a resolver failure, an
//! empty result, or a result that is not a `host:port` list.

mod builtin;
mod registry;

use std::fmt;

pub use builtin::{DnsResolver, EnvResolver, ENV_PREFIX};
pub use registry::{register_resolver, registered_resolvers, resolver};

use crate::config::{CommonConfig, Config, ConfigError};

/// Turns a service name into brokers. Implement it for a service registry
/// and register it with [`register_resolver`]; closures
/// `Fn(&str, &str) -> Result<Vec<String>, DiscoveryError>` implement it too.
///
/// It runs once per service at startup, before any client exists, and may
/// block (the runtime calls it off the async workers).
///
/// ```
/// use kafka_runtime::discovery::{register_resolver, DiscoveryError, Resolver};
///
/// struct Static(Vec<String>);
/// impl Resolver for Static {
///     fn resolve(&self, _service: &str, _namespace: &str) -> Result<Vec<String>, DiscoveryError> {
///         Ok(self.0.clone())
///     }
/// }
/// let resolver = Static(vec!["10.0.0.1:9092".into()]);
/// assert_eq!(resolver.resolve("orders", "Production").unwrap(), ["10.0.0.1:9092"]);
/// register_resolver("static-doc", resolver);
/// ```
pub trait Resolver: Send + Sync + 'static {
    /// The brokers (`host:port` each) of `service` in `namespace`.
    fn resolve(&self, service: &str, namespace: &str) -> Result<Vec<String>, DiscoveryError>;
}

impl<F> Resolver for F
where
    F: Fn(&str, &str) -> Result<Vec<String>, DiscoveryError> + Send + Sync + 'static,
{
    fn resolve(&self, service: &str, namespace: &str) -> Result<Vec<String>, DiscoveryError> {
        self(service, namespace)
    }
}

/// Why a resolver could not resolve a service; the runtime adds the
/// service, resolver and namespace when it reports it.
///
/// ```
/// use kafka_runtime::discovery::DiscoveryError;
/// let err = DiscoveryError::new("registry unreachable");
/// assert_eq!(err.reason(), "registry unreachable");
/// assert_eq!(err.to_string(), "registry unreachable");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryError {
    reason: String,
}

impl DiscoveryError {
    /// A failure described by `reason` (it must not contain secrets).
    ///
    /// ```
    /// let err = kafka_runtime::discovery::DiscoveryError::new("no instances");
    /// assert_eq!(err.reason(), "no instances");
    /// ```
    pub fn new(reason: impl Into<String>) -> Self {
        DiscoveryError {
            reason: reason.into(),
        }
    }

    /// What went wrong.
    ///
    /// ```
    /// let err = kafka_runtime::discovery::DiscoveryError::new("timeout");
    /// assert_eq!(err.reason(), "timeout");
    /// ```
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for DiscoveryError {}

impl CommonConfig {
    /// Replaces the discovery service name with the brokers its resolver
    /// returns, and clears `discover`/`namespace` (the config then holds
    /// concrete brokers, so resolving again does nothing). `service` is the
    /// configuration's service name, for errors.
    ///
    /// ```
    /// use kafka_runtime::config::parse_consumer_address;
    /// let mut cfg = parse_consumer_address("svc", "127.0.0.1:9092?topics=t&group=g&discover=dns&namespace=Production").unwrap();
    /// cfg.common.resolve_discovery("svc").unwrap();
    /// assert_eq!(cfg.common.brokers, ["127.0.0.1:9092"]);
    /// assert_eq!(cfg.common.discover, None); // resolved once
    /// ```
    pub fn resolve_discovery(&mut self, service: &str) -> Result<(), ConfigError> {
        let Some(name) = self.discover.clone() else {
            return Ok(());
        };
        let namespace = self.namespace.clone().unwrap_or_default();
        let target = self.brokers.join(",");
        let fail = |reason: String| ConfigError::for_key(service, "discover", Some(&name), reason);
        let Some(resolver) = resolver(&name) else {
            return Err(fail(format!(
                "no discovery resolver named `{name}` is registered; registered resolvers: {} \
                 (register one with kafka_runtime::discovery::register_resolver before starting)",
                registered_resolvers().join(", ")
            )));
        };
        let brokers = resolver.resolve(&target, &namespace).map_err(|e| {
            fail(format!(
                "resolver `{name}` could not resolve `{target}` in namespace `{namespace}`: {e}"
            ))
        })?;
        let brokers: Vec<String> = brokers.into_iter().map(|b| b.trim().to_owned()).collect();
        if brokers.is_empty() {
            return Err(fail(format!(
                "resolver `{name}` found no brokers for `{target}` in namespace `{namespace}`"
            )));
        }
        for broker in &brokers {
            crate::config::check_broker(service, broker).map_err(|e| {
                fail(format!(
                    "resolver `{name}` returned a bad broker for `{target}` in namespace `{namespace}`: {}",
                    e.reason
                ))
            })?;
        }
        tracing::info!(
            service,
            resolver = %name,
            namespace = %namespace,
            target = %target,
            brokers = %brokers.join(","),
            "discovery resolved brokers"
        );
        self.brokers = brokers;
        self.discover = None;
        self.namespace = None;
        Ok(())
    }
}

impl Config {
    /// Resolves every consumer and producer service that uses `discover`,
    /// returning the configuration with concrete brokers. The first failure
    /// is returned; nothing is half-resolved from the caller's view.
    ///
    /// ```
    /// use kafka_runtime::config::Config;
    /// let config = Config::from_yaml_str(
    ///     "client:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topic=t&discover=dns&namespace=Test\n",
    /// ).unwrap();
    /// let resolved = config.resolve_discovery().unwrap();
    /// assert!(!resolved.needs_discovery());
    /// ```
    pub fn resolve_discovery(mut self) -> Result<Config, ConfigError> {
        for service in &mut self.consumers {
            service.config.common.resolve_discovery(&service.name)?;
        }
        for service in &mut self.producers {
            service.config.common.resolve_discovery(&service.name)?;
        }
        Ok(self)
    }

    /// [`Config::resolve_discovery`] on a blocking thread (resolvers may
    /// block on the network), for the runtime's async startup.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use kafka_runtime::config::Config;
    /// let config = Config::from_yaml_str(
    ///     "client:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topic=t&discover=dns&namespace=Test\n",
    /// ).unwrap();
    /// let resolved = config.resolve_discovery_async().await.unwrap();
    /// assert_eq!(resolved.producers[0].config.common.brokers, ["127.0.0.1:9092"]);
    /// # }
    /// ```
    pub async fn resolve_discovery_async(self) -> Result<Config, crate::Error> {
        if !self.needs_discovery() {
            return Ok(self);
        }
        tokio::task::spawn_blocking(move || self.resolve_discovery())
            .await
            .map_err(|e| crate::Error::Wiring(format!("a discovery resolver panicked: {e}")))?
            .map_err(crate::Error::from)
    }

    /// Whether any service still needs [`Config::resolve_discovery`].
    ///
    /// ```
    /// use kafka_runtime::config::Config;
    /// let plain = Config::from_yaml_str("client:\n  service:\n    - name: p\n      target: kafka://127.0.0.1:9092?topic=t\n").unwrap();
    /// assert!(!plain.needs_discovery());
    /// ```
    pub fn needs_discovery(&self) -> bool {
        self.consumers
            .iter()
            .map(|s| &s.config.common)
            .chain(self.producers.iter().map(|s| &s.config.common))
            .any(|c| c.discover.is_some())
    }
}

#[cfg(test)]
mod tests;
