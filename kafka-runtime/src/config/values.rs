//! The closed sets of values some address keys take.
//!
//! Each enum parses the seed's spelling (`FromStr`), names every allowed value
//! (`ALLOWED`, used in error messages) and knows its librdkafka value.

use std::fmt;
use std::str::FromStr;

/// A value outside a key's allowed set. The caller adds service and key.
///
/// ```
/// use kafka_runtime::config::{Compression, NotAllowed};
///
/// let err: NotAllowed = "brotli".parse::<Compression>().unwrap_err();
/// assert_eq!(err.to_string(), "none, gzip, snappy, lz4, zstd");
/// assert_eq!("zstd".parse::<Compression>().unwrap().rdkafka_value(), "zstd");
/// assert_eq!(Compression::ALLOWED.len(), 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAllowed {
    /// The allowed values, as written in an address.
    pub allowed: &'static [&'static str],
}

impl fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.allowed.join(", "))
    }
}

macro_rules! value_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $seed:literal / [$($alias:literal),*] => $rdkafka:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        ///
        #[doc = concat!("\n```\nuse kafka_runtime::config::", stringify!($name), ";\nfor text in ", stringify!($name), "::ALLOWED {\n    let value: ", stringify!($name), " = text.parse().unwrap();\n    assert_eq!(value.as_str(), *text);\n    assert_eq!(value.to_string(), *text);\n    assert!(!value.rdkafka_value().is_empty());\n}\nassert!(\"no such value\".parse::<", stringify!($name), ">().is_err());\n```")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every allowed value, as written in an address.
            ///
            #[doc = concat!("\n```\nuse kafka_runtime::config::", stringify!($name), ";\nassert!(!", stringify!($name), "::ALLOWED.is_empty());\nassert!(", stringify!($name), "::ALLOWED.iter().all(|v| v.parse::<", stringify!($name), ">().is_ok()));\n```")]
            pub const ALLOWED: &'static [&'static str] = &[$($seed),+];

            /// The seed's spelling of this value.
            ///
            #[doc = concat!("\n```\nuse kafka_runtime::config::", stringify!($name), ";\nlet first: ", stringify!($name), " = ", stringify!($name), "::ALLOWED[0].parse().unwrap();\nassert_eq!(first.as_str(), ", stringify!($name), "::ALLOWED[0]);\n```")]
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $seed ),+ }
            }

            /// The value librdkafka takes for it.
            ///
            #[doc = concat!("\n```\nuse kafka_runtime::config::", stringify!($name), ";\nlet first: ", stringify!($name), " = ", stringify!($name), "::ALLOWED[0].parse().unwrap();\nprintln!(\"{} becomes librdkafka's {}\", first, first.rdkafka_value());\n```")]
            pub fn rdkafka_value(self) -> &'static str {
                match self { $( $name::$variant => $rdkafka ),+ }
            }
        }

        impl FromStr for $name {
            type Err = NotAllowed;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $( $seed $(| $alias)* => Ok($name::$variant), )+
                    _ => Err(NotAllowed { allowed: Self::ALLOWED }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

value_enum! {
    /// `compression`: the codec for produced record batches.
    Compression {
        /// No compression.
        None => "none" / [] => "none",
        /// gzip (the seed's default).
        Gzip => "gzip" / [] => "gzip",
        /// Snappy.
        Snappy => "snappy" / [] => "snappy",
        /// LZ4.
        Lz4 => "lz4" / [] => "lz4",
        /// Zstandard.
        Zstd => "zstd" / [] => "zstd",
    }
}

value_enum! {
    /// `strategy`: how a group's partitions are assigned to members.
    ///
    /// librdkafka has no eager `sticky` assignor; sarama's `sticky` maps to
    /// librdkafka's `cooperative-sticky`, which keeps the same stickiness and
    /// moves partitions incrementally. Members of one group must all use the
    /// same strategy (seed Q5).
    Strategy {
        /// Sticky assignment (the seed's default), as `cooperative-sticky`.
        Sticky => "sticky" / [] => "cooperative-sticky",
        /// Range assignment.
        Range => "range" / [] => "range",
        /// Round-robin assignment.
        RoundRobin => "roundrobin" / [] => "roundrobin",
    }
}

impl Strategy {
    /// The broker-side assignor that takes this strategy's place with
    /// `groupProtocol=consumer` (KIP-848: the group coordinator assigns
    /// partitions, and every one of its assignors is sticky): `sticky` is
    /// the broker's `uniform`, `range` its `range`; the broker has no
    /// round-robin assignor.
    ///
    /// ```
    /// use kafka_runtime::config::Strategy;
    /// assert_eq!(Strategy::Sticky.remote_assignor(), Some("uniform"));
    /// assert_eq!(Strategy::Range.remote_assignor(), Some("range"));
    /// assert_eq!(Strategy::RoundRobin.remote_assignor(), None);
    /// ```
    pub fn remote_assignor(self) -> Option<&'static str> {
        match self {
            Strategy::Sticky => Some("uniform"),
            Strategy::Range => Some("range"),
            Strategy::RoundRobin => None,
        }
    }
}

value_enum! {
    /// `groupProtocol`: which consumer group protocol the member speaks.
    ///
    /// `consumer` is KIP-848's protocol (Apache Kafka 4.0 and later): the
    /// group coordinator computes assignments and owns the session and
    /// heartbeat timing, and rebalances are incremental.
    GroupProtocol {
        /// The classic protocol (JoinGroup/SyncGroup), the seed's.
        Classic => "classic" / [] => "classic",
        /// KIP-848's consumer protocol.
        Consumer => "consumer" / [] => "consumer",
    }
}

value_enum! {
    /// `partitioner`: how a produced record's partition is chosen.
    Partitioner {
        /// A random partition per record (the seed's default).
        Random => "random" / [] => "random",
        /// Partitions in turn, implemented by the runtime (librdkafka has none).
        RoundRobin => "roundrobin" / [] => "random",
        /// FNV-1a of the key, the same partition as sarama's hash partitioner;
        /// records without a key go to a random partition, as in sarama.
        Hash => "hash" / [] => "fnv1a_random",
    }
}

value_enum! {
    /// `initial`: where a group without committed offsets starts.
    InitialOffset {
        /// The end of the partition (the seed's default).
        Newest => "newest" / [] => "latest",
        /// The beginning of the partition.
        Oldest => "oldest" / [] => "earliest",
    }
}

value_enum! {
    /// `isolationLevel`: whether aborted transactional records are visible.
    IsolationLevel {
        /// Read every record (sarama's default).
        ReadUncommitted => "ReadUncommitted" / [] => "read_uncommitted",
        /// Read only committed transactional records.
        ReadCommitted => "ReadCommitted" / [] => "read_committed",
    }
}

value_enum! {
    /// `requiredAcks`: how many replicas acknowledge a write.
    RequiredAcks {
        /// `0`: no acknowledgement.
        None => "0" / [] => "0",
        /// `1`: the leader's acknowledgement.
        Leader => "1" / [] => "1",
        /// `-1`: all in-sync replicas (the seed's default).
        All => "-1" / [] => "all",
    }
}

value_enum! {
    /// `mechanism`: the SASL mechanism.
    SaslMechanism {
        /// SCRAM-SHA-512.
        ScramSha512 => "SCRAM-SHA-512" / [] => "SCRAM-SHA-512",
        /// SCRAM-SHA-256.
        ScramSha256 => "SCRAM-SHA-256" / [] => "SCRAM-SHA-256",
        /// PLAIN (send the password as is; use it only over TLS).
        Plain => "PLAIN" / [] => "PLAIN",
    }
}

value_enum! {
    /// `protocol`: the security protocol towards the brokers.
    SecurityProtocol {
        /// No TLS, no SASL.
        Plaintext => "PLAINTEXT" / ["plaintext"] => "plaintext",
        /// TLS without SASL.
        Ssl => "SSL" / ["ssl"] => "ssl",
        /// SASL without TLS.
        SaslPlaintext => "SASL_PLAINTEXT" / ["sasl_plaintext"] => "sasl_plaintext",
        /// SASL over TLS.
        SaslSsl => "SASL_SSL" / ["sasl_ssl"] => "sasl_ssl",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seed_spellings_and_rejects_others() {
        assert_eq!("gzip".parse(), Ok(Compression::Gzip));
        assert_eq!(Compression::Zstd.rdkafka_value(), "zstd");
        assert_eq!("sticky".parse(), Ok(Strategy::Sticky));
        assert_eq!(Strategy::Sticky.rdkafka_value(), "cooperative-sticky");
        assert_eq!("-1".parse(), Ok(RequiredAcks::All));
        assert_eq!("sasl_ssl".parse(), Ok(SecurityProtocol::SaslSsl));
        let err = "brotli".parse::<Compression>().unwrap_err();
        assert_eq!(err.to_string(), "none, gzip, snappy, lz4, zstd");
    }
}
