//! tRPC metadata: string keys with byte values that travel as record headers
//! when `trpcMeta=true`.
//!
//! A consumer handler runs inside [`Metadata::scope`] with the metadata of the
//! record it handles, so producers it calls pick the same metadata up
//! (the seed's context propagation) without threading it through user code.

use std::collections::BTreeMap;

use bytes::Bytes;

tokio::task_local! {
    static CURRENT: Metadata;
}

/// Metadata carried from a consumed record's headers to the records a handler produces.
///
/// ```
/// use kafka_runtime::Metadata;
/// let mut md: Metadata = [("tenant", "acme")].into_iter().collect();
/// md.insert("region", "eu");
/// assert_eq!(md.len(), 2);
/// assert_eq!(md.get("tenant").map(|v| &v[..]), Some(&b"acme"[..]));
/// assert_eq!(md.iter().count(), 2);
/// assert!(Metadata::current().is_empty()); // outside a handler or `scope`
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: BTreeMap<String, Bytes>,
}

impl Metadata {
    /// An empty set of metadata.
    ///
    /// ```
    /// let md = kafka_runtime::Metadata::new();
    /// assert!(md.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`, replacing an earlier value.
    ///
    /// ```
    /// let mut md = kafka_runtime::Metadata::new();
    /// md.insert("tenant", "acme");
    /// md.insert("tenant", "globex"); // replaces
    /// assert_eq!(md.get("tenant").map(|v| &v[..]), Some(&b"globex"[..]));
    /// ```
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Bytes>) {
        self.entries.insert(key.into(), value.into());
    }

    /// The value of `key`, if set.
    ///
    /// ```
    /// let md: kafka_runtime::Metadata = [("tenant", "acme")].into_iter().collect();
    /// assert_eq!(md.get("tenant").map(|v| &v[..]), Some(&b"acme"[..]));
    /// assert!(md.get("other").is_none());
    /// ```
    pub fn get(&self, key: &str) -> Option<&Bytes> {
        self.entries.get(key)
    }

    /// Every entry, in key order.
    ///
    /// ```
    /// let md: kafka_runtime::Metadata = [("b", "2"), ("a", "1")].into_iter().collect();
    /// let keys: Vec<&str> = md.iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys.len(), 2);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether there is no entry.
    ///
    /// ```
    /// assert!(kafka_runtime::Metadata::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries.
    ///
    /// ```
    /// let md: kafka_runtime::Metadata = [("a", "1")].into_iter().collect();
    /// assert_eq!(md.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Runs `future` with `self` as the current metadata.
    ///
    /// ```
    /// use kafka_runtime::Metadata;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut md = Metadata::new();
    /// md.insert("tenant", "acme");
    /// let seen = md.scope(async { Metadata::current() }).await;
    /// assert_eq!(seen.get("tenant").map(|v| &v[..]), Some(&b"acme"[..]));
    /// # }
    /// ```
    pub async fn scope<F: std::future::Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }

    /// The metadata of the enclosing [`Metadata::scope`], or empty outside one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use kafka_runtime::Metadata;
    /// let md: Metadata = [("tenant", "acme")].into_iter().collect();
    /// let inside = md.scope(async { Metadata::current().len() }).await;
    /// assert_eq!(inside, 1);
    /// assert!(Metadata::current().is_empty()); // outside any scope
    /// # }
    /// ```
    pub fn current() -> Metadata {
        CURRENT.try_with(Clone::clone).unwrap_or_default()
    }
}

impl<K: Into<String>, V: Into<Bytes>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Metadata {
            entries: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}
