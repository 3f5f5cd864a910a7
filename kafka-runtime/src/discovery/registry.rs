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
pub fn register_resolver(name: impl Into<String>, resolver: impl Resolver) {
    let mut table = RESOLVERS.write().unwrap_or_else(|e| e.into_inner());
    table.insert(name.into(), Arc::new(resolver));
}

/// The names of every registered resolver, sorted.
pub fn registered_resolvers() -> Vec<String> {
    let table = RESOLVERS.read().unwrap_or_else(|e| e.into_inner());
    table.keys().cloned().collect()
}

/// The resolver registered under `name`.
pub fn resolver(name: &str) -> Option<Arc<dyn Resolver>> {
    let table = RESOLVERS.read().unwrap_or_else(|e| e.into_inner());
    table.get(name).cloned()
}
