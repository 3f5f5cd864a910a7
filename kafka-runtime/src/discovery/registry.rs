//! The process-wide table of named resolvers.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, RwLock};

use super::builtin::{DnsResolver, EnvResolver};
use super::Resolver;

type Table = BTreeMap<String, Arc<dyn Resolver>>;

static RESOLVERS: LazyLock<RwLock<Table>> = LazyLock::new(|| {
    let mut table: Table = BTreeMap::new();
    table.insert("dns".to_owned(), Arc::new(DnsResolver));
    table.insert("env".to_owned(), Arc::new(EnvResolver));
    RwLock::new(table)
});

/// Registers `resolver` under `name` (the value of `discover=`), replacing
/// any resolver of that name, built-ins included. Call it before the
/// runtime starts.
///
/// ```
/// use kafka_runtime::config::Config;
/// use kafka_runtime::discovery::{register_resolver, DiscoveryError};
///
/// register_resolver("polaris-doc", |_service: &str, _namespace: &str| {
///     Ok::<_, DiscoveryError>(vec!["10.0.0.1:9092".to_owned()])
/// });
/// let config = Config::from_yaml_str(
///     "client:\n  service:\n    - name: p\n      target: kafka://orders?topic=t&discover=polaris-doc&namespace=Production\n",
/// ).unwrap();
/// assert!(config.needs_discovery());
/// let config = config.resolve_discovery().unwrap();
/// assert_eq!(config.producers[0].config.common.brokers, ["10.0.0.1:9092"]);
/// ```
pub fn register_resolver(name: impl Into<String>, resolver: impl Resolver) {
    let mut table = RESOLVERS.write().unwrap_or_else(|e| e.into_inner());
    table.insert(name.into(), Arc::new(resolver));
}

/// The names of every registered resolver, sorted.
///
/// ```
/// let names = kafka_runtime::discovery::registered_resolvers();
/// assert!(names.iter().any(|n| n == "dns") && names.iter().any(|n| n == "env"));
/// ```
pub fn registered_resolvers() -> Vec<String> {
    let table = RESOLVERS.read().unwrap_or_else(|e| e.into_inner());
    table.keys().cloned().collect()
}

/// The resolver registered under `name`.
///
/// ```
/// use kafka_runtime::discovery::resolver;
/// let dns = resolver("dns").unwrap();
/// assert_eq!(dns.resolve("127.0.0.1:9092", "Test").unwrap(), ["127.0.0.1:9092"]);
/// assert!(resolver("no-such-resolver").is_none());
/// ```
pub fn resolver(name: &str) -> Option<Arc<dyn Resolver>> {
    let table = RESOLVERS.read().unwrap_or_else(|e| e.into_inner());
    table.get(name).cloned()
}
