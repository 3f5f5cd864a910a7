//! The resolvers every process has: `dns` and `env`.

use std::net::ToSocketAddrs;

use super::{DiscoveryError, Resolver};

/// `discover=dns`: the service name is `host:port`; every address the
/// system resolver returns for `host` becomes a broker with `port`. The
/// namespace is not used (the address language still requires one).
///
/// ```
/// use kafka_runtime::discovery::{DnsResolver, Resolver};
/// let brokers = DnsResolver.resolve("127.0.0.1:9092", "Production").unwrap();
/// assert_eq!(brokers, ["127.0.0.1:9092"]);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsResolver;

impl Resolver for DnsResolver {
    fn resolve(&self, service: &str, _namespace: &str) -> Result<Vec<String>, DiscoveryError> {
        let Some((host, port)) = service.rsplit_once(':') else {
            return Err(DiscoveryError::new(
                "the `dns` resolver needs the service as `host:port` (e.g. `kafka.internal:9092`)",
            ));
        };
        let port: u16 = port.parse().map_err(|_| {
            DiscoveryError::new(format!(
                "`{port}` is not a port; the `dns` resolver needs `host:port` with a port in 1..=65535"
            ))
        })?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addresses = (host, port)
            .to_socket_addrs()
            .map_err(|e| DiscoveryError::new(format!("DNS lookup of `{host}` failed: {e}")))?;
        let mut brokers: Vec<String> = Vec::new();
        for address in addresses {
            let broker = address.to_string();
            if !brokers.contains(&broker) {
                brokers.push(broker);
            }
        }
        Ok(brokers)
    }
}

/// The prefix of the variables [`EnvResolver`] reads.
///
/// ```
/// use kafka_runtime::discovery::{EnvResolver, ENV_PREFIX};
/// assert!(EnvResolver::variable("orders", "Test").starts_with(ENV_PREFIX));
/// ```
pub const ENV_PREFIX: &str = "KAFKA_RS_DISCOVERY_";

/// `discover=env`: the brokers are the comma-separated list in the
/// environment variable `KAFKA_RS_DISCOVERY_<NAMESPACE>_<SERVICE>`, upper
/// case, every character other than an ASCII letter or digit replaced by
/// `_` (namespace `Production`, service `trpc.kafka.orders`:
/// `KAFKA_RS_DISCOVERY_PRODUCTION_TRPC_KAFKA_ORDERS`).
///
/// ```
/// use kafka_runtime::discovery::{EnvResolver, Resolver};
/// let variable = EnvResolver::variable("trpc.kafka.orders", "Production");
/// assert_eq!(variable, "KAFKA_RS_DISCOVERY_PRODUCTION_TRPC_KAFKA_ORDERS");
/// // Unset here, so resolving fails with a reason naming the variable:
/// let err = EnvResolver.resolve("trpc.kafka.orders", "Production").unwrap_err();
/// assert!(err.reason().contains(&variable), "{err}");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvResolver;

impl EnvResolver {
    /// The variable that holds the brokers of `service` in `namespace`.
    ///
    /// ```
    /// use kafka_runtime::discovery::EnvResolver;
    /// assert_eq!(EnvResolver::variable("orders-v2", "dev"), "KAFKA_RS_DISCOVERY_DEV_ORDERS_V2");
    /// ```
    pub fn variable(service: &str, namespace: &str) -> String {
        let part = |text: &str| -> String {
            text.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        format!("{ENV_PREFIX}{}_{}", part(namespace), part(service))
    }
}

impl Resolver for EnvResolver {
    fn resolve(&self, service: &str, namespace: &str) -> Result<Vec<String>, DiscoveryError> {
        let variable = Self::variable(service, namespace);
        let value = std::env::var(&variable).map_err(|e| {
            DiscoveryError::new(format!(
                "environment variable `{variable}` is {}",
                match e {
                    std::env::VarError::NotPresent => "not set",
                    std::env::VarError::NotUnicode(_) => "not valid UTF-8",
                }
            ))
        })?;
        Ok(value
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect())
    }
}
