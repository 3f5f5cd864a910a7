//! The address keys: one table that drives the parser, its error messages,
//! the key tables of `CONFIGURATION.md` (generated from it,
//! see `config/tests/docs.rs`) and the config-check output.
//!
//! Each [`KeySpec`] says which side accepts the key, what values it takes,
//! its default and which librdkafka property (if any) it becomes. The
//! mapping itself lives in the mapping module (`mapping.rs`); the `librdkafka` text here is
//! what documentation and tools print.

use std::fmt;

use super::types::RetryBackoff;
use super::values::{
    Compression, GroupProtocol, InitialOffset, IsolationLevel, Partitioner, RequiredAcks,
    SaslMechanism, SecurityProtocol, Strategy,
};

/// Which kind of address a key belongs to.
///
/// ```
/// use kafka_runtime::config::keys::Side;
/// assert!(Side::Both.accepts(Side::Consumer));
/// assert!(!Side::Producer.accepts(Side::Consumer));
/// assert_eq!(Side::Both.to_string(), "shared");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// A consumer address (`server.service[].address`).
    Consumer,
    /// A producer target (`client.service[].target`).
    Producer,
    /// Both.
    Both,
}

impl Side {
    /// Whether a key of this side may appear in an address of `address_side`.
    ///
    /// ```
    /// use kafka_runtime::config::keys::Side;
    /// assert!(Side::Consumer.accepts(Side::Consumer));
    /// assert!(!Side::Consumer.accepts(Side::Producer));
    /// ```
    pub fn accepts(self, address_side: Side) -> bool {
        self == Side::Both || self == address_side || address_side == Side::Both
    }

    /// `consumer`, `producer` or `shared`, as used in messages and docs.
    ///
    /// ```
    /// use kafka_runtime::config::keys::Side;
    /// assert_eq!(Side::Producer.as_str(), "producer");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Consumer => "consumer",
            Side::Producer => "producer",
            Side::Both => "shared",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unit of an integer key, shown in messages and docs.
///
/// ```
/// use kafka_runtime::config::keys::{lookup, Kind, Side, Unit};
/// let key = lookup("fetchMax", Side::Consumer).unwrap();
/// assert!(matches!(key.kind, Kind::Int { unit: Unit::Bytes, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A plain count.
    Count,
    /// Bytes.
    Bytes,
    /// Milliseconds.
    Millis,
    /// Seconds.
    Seconds,
    /// Percent.
    Percent,
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Count => "",
            Unit::Bytes => " (bytes)",
            Unit::Millis => " (milliseconds)",
            Unit::Seconds => " (seconds)",
            Unit::Percent => " (percent)",
        }
    }
}

/// What values a key takes.
///
/// ```
/// use kafka_runtime::config::keys::{lookup, Side};
/// let key = lookup("strategy", Side::Consumer).unwrap();
/// assert_eq!(key.kind.allowed(), "sticky, range, roundrobin");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Any non-empty text.
    Text,
    /// A comma-separated list of non-empty names.
    Names,
    /// A boolean, spelled as Go's `strconv.ParseBool` accepts it.
    Bool,
    /// `async`: `1` is asynchronous; any other value is synchronous, as the
    /// Go plugin reads it (its `parseAsync`), so one `trpc_go.yaml` means the
    /// same on both sides.
    AsyncFlag,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
        /// What the number counts.
        unit: Unit,
    },
    /// A positive, finite decimal number (events per second).
    Rate,
    /// A Kafka protocol version: `0.10.2.0`, `1.1.1`, `2.8.0`, ...
    Version,
}

/// Spellings Go's `strconv.ParseBool` accepts, so tRPC-Go addresses keep working.
const TRUE_WORDS: &[&str] = &["true", "1", "t", "T", "TRUE", "True"];
const FALSE_WORDS: &[&str] = &["false", "0", "f", "F", "FALSE", "False"];

impl Kind {
    /// What the kind allows, for messages and docs.
    ///
    /// ```
    /// use kafka_runtime::config::keys::{lookup, Side};
    /// assert_eq!(lookup("requiredAcks", Side::Producer).unwrap().kind.allowed(), "0, 1, -1");
    /// ```
    pub fn allowed(&self) -> String {
        match self {
            Kind::Text => "any non-empty text".to_owned(),
            Kind::Names => "a comma-separated list of non-empty names".to_owned(),
            Kind::Bool => {
                "true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)"
                    .to_owned()
            }
            Kind::AsyncFlag => {
                "1 (asynchronous); any other value (0, false, true...) is synchronous, as the Go plugin reads it"
                    .to_owned()
            }
            Kind::Choice(values) => values.join(", "),
            Kind::Int { min, max, unit } => format!("{min}..={max}{}", unit.suffix()),
            Kind::Rate => {
                "a positive decimal number (events per second), e.g. 100 or 0.5".to_owned()
            }
            Kind::Version => {
                "0.x.y.z before 1.0 (e.g. 0.10.2.0), x.y.z from 1.0 (e.g. 1.1.1, 2.8.0)".to_owned()
            }
        }
    }

    /// Parses one (already percent-decoded, non-empty) value; the error is the
    /// reason text, to which the caller adds service, key and value.
    pub(crate) fn parse(&self, raw: &str) -> Result<Value, String> {
        let allowed = || format!("allowed: {}", self.allowed());
        match self {
            Kind::Text => Ok(Value::Text(raw.to_owned())),
            Kind::Names => {
                let names: Vec<String> = raw.split(',').map(|n| n.trim().to_owned()).collect();
                if names.iter().any(String::is_empty) {
                    return Err(format!("empty name in the list; {}", allowed()));
                }
                Ok(Value::Names(names))
            }
            Kind::Bool => {
                if TRUE_WORDS.contains(&raw) {
                    Ok(Value::Bool(true))
                } else if FALSE_WORDS.contains(&raw) {
                    Ok(Value::Bool(false))
                } else {
                    Err(format!("not a boolean; {}", allowed()))
                }
            }
            Kind::AsyncFlag => Ok(Value::Bool(raw == "1")),
            Kind::Choice(values) => {
                if values.contains(&raw) {
                    Ok(Value::Text(raw.to_owned()))
                } else {
                    Err(format!("not an allowed value; {}", allowed()))
                }
            }
            Kind::Int { min, max, .. } => {
                let n: i64 = raw.parse().map_err(|_| {
                    // A number too long for i64 is a range problem, not a syntax one.
                    let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
                    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                        format!("out of range; {}", allowed())
                    } else {
                        format!("not a whole number; {}", allowed())
                    }
                })?;
                if n < *min || n > *max {
                    return Err(format!("out of range; {}", allowed()));
                }
                Ok(Value::Int(n))
            }
            Kind::Rate => {
                let rate: f64 = raw
                    .parse()
                    .map_err(|_| format!("not a number; {}", allowed()))?;
                if !rate.is_finite() || rate <= 0.0 {
                    return Err(format!("out of range; {}", allowed()));
                }
                Ok(Value::Rate(rate))
            }
            Kind::Version => {
                if is_kafka_version(raw) {
                    Ok(Value::Text(raw.to_owned()))
                } else {
                    Err(format!("not a Kafka version; {}", allowed()))
                }
            }
        }
    }

    /// Checks a number that did not come from an address (a registered
    /// config) against the same range.
    pub(crate) fn check_int(&self, n: i64) -> Result<(), String> {
        match self {
            Kind::Int { min, max, .. } if n < *min || n > *max => {
                Err(format!("out of range; allowed: {}", self.allowed()))
            }
            _ => Ok(()),
        }
    }
}

/// sarama's `ParseKafkaVersion` formats (`0.a.b.c`, `a.b.c`), plus `a.b.c.d`
/// from 1.0 on, which the seed's own comment (`1.1.1.0`) uses.
pub(crate) fn is_kafka_version(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    let numeric = parts
        .iter()
        .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric {
        return false;
    }
    match parts.first() {
        Some(&"0") => parts.len() == 4,
        Some(_) => parts.len() == 3 || parts.len() == 4,
        None => false,
    }
}

/// A parsed value, before it is stored in a typed config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(String),
    Names(Vec<String>),
    Bool(bool),
    Int(i64),
    Rate(f64),
}

/// One address key.
///
/// ```
/// use kafka_runtime::config::keys::{lookup, Side};
/// let key = lookup("password", Side::Producer).unwrap();
/// assert!(key.is_named("password"));
/// assert_eq!(key.librdkafka, "sasl.password");
/// assert_eq!(key.shown("hunter2"), "***");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct KeySpec {
    /// The key as written in an address.
    pub name: &'static str,
    /// Other accepted spellings.
    pub aliases: &'static [&'static str],
    /// Which addresses accept it.
    pub side: Side,
    /// What values it takes.
    pub kind: Kind,
    /// The default when absent.
    pub default: &'static str,
    /// What it does.
    pub doc: &'static str,
    /// The librdkafka property it sets, or how the runtime implements it.
    pub librdkafka: &'static str,
    /// Whether its value is a secret (redacted everywhere).
    pub secret: bool,
}

impl KeySpec {
    /// Whether `name` is this key or one of its aliases.
    ///
    /// ```
    /// use kafka_runtime::config::keys::{lookup, Side};
    /// let key = lookup("clientid", Side::Consumer).unwrap();
    /// assert!(key.is_named("clientid") && !key.is_named("group"));
    /// ```
    pub fn is_named(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    /// The value as it may be shown: `***` for secrets.
    ///
    /// ```
    /// use kafka_runtime::config::keys::{lookup, Side};
    /// assert_eq!(lookup("user", Side::Consumer).unwrap().shown("alice"), "alice");
    /// assert_eq!(lookup("password", Side::Consumer).unwrap().shown("hunter2"), "***");
    /// ```
    pub fn shown<'a>(&self, value: &'a str) -> &'a str {
        if self.secret {
            super::Secret::REDACTED
        } else {
            value
        }
    }
}

const fn int(min: i64, max: i64, unit: Unit) -> Kind {
    Kind::Int { min, max, unit }
}

/// librdkafka's `message.timeout.ms` default: `linger.ms` must stay below it.
pub(crate) const MESSAGE_TIMEOUT_MS: i64 = 300_000;

macro_rules! key {
    ($name:literal, $side:ident, $kind:expr, default $default:literal, $doc:literal, $rd:literal $(, aliases $aliases:expr)? $(, secret $secret:literal)?) => {
        KeySpec {
            name: $name,
            aliases: key!(@aliases $($aliases)?),
            side: Side::$side,
            kind: $kind,
            default: $default,
            doc: $doc,
            librdkafka: $rd,
            secret: key!(@secret $($secret)?),
        }
    };
    (@aliases) => { &[] };
    (@aliases $aliases:expr) => { $aliases };
    (@secret) => { false };
    (@secret $secret:literal) => { $secret };
}

/// Every address key, shared keys first, then consumer keys, then producer
/// keys. `maxRetry` and `retryInterval` appear once per side: their meaning
/// and defaults differ.
///
/// ```
/// use kafka_runtime::config::keys::{Side, KEYS};
/// let consumer_only = KEYS.iter().filter(|k| k.side == Side::Consumer).count();
/// assert!(consumer_only > 10);
/// assert!(KEYS.iter().any(|k| k.name == "compression" && k.default == "gzip"));
/// ```
pub const KEYS: &[KeySpec] = &[
    // ---- shared ----
    key!("clientid", Both, Kind::Text, default "consumer: the group name (also when set to trpcgo); producer: trpcgo",
        "Kafka client id, shown in broker logs and quotas.",
        "client.id"),
    key!("version", Both, Kind::Version, default "1.1.1",
        "Broker protocol version the Go plugin pins sarama to; checked, and used only for brokers older than 0.10.0, which cannot tell clients their versions.",
        "none from 0.10.0 on: librdkafka asks each broker for its protocol versions (api.version.request=true); below 0.10.0: broker.version.fallback=version and api.version.request=false"),
    key!("compression", Both, Kind::Choice(Compression::ALLOWED), default "gzip",
        "Codec for produced record batches (accepted on consumers, where it has no effect).",
        "compression.type (producer only)"),
    key!("mechanism", Both, Kind::Choice(SaslMechanism::ALLOWED), default "none (no SASL)",
        "SASL mechanism; requires user and password.",
        "sasl.mechanisms, and security.protocol=sasl_plaintext unless protocol says otherwise"),
    key!("user", Both, Kind::Text, default "none",
        "SASL user name; requires mechanism and password.",
        "sasl.username"),
    key!("password", Both, Kind::Text, default "none",
        "SASL password; requires mechanism and user. Redacted in every log, error and Debug output.",
        "sasl.password", secret true),
    key!("protocol", Both, Kind::Choice(SecurityProtocol::ALLOWED),
        default "SASL_PLAINTEXT with mechanism, PLAINTEXT without; SASL_SSL / SSL when a tls key is set",
        "Security protocol towards the brokers; SASL_* require mechanism, PLAINTEXT/SSL forbid it; tls keys require SSL or SASL_SSL.",
        "security.protocol"),
    key!("tlsCaFile", Both, Kind::Text, default "none (the system's trusted CAs)",
        "PEM file (or directory) of the CA certificates that sign the brokers' certificates; turns TLS on. Must exist and be readable.",
        "ssl.ca.location"),
    key!("tlsCertFile", Both, Kind::Text, default "none (no client certificate)",
        "PEM client certificate for mutual TLS; requires tlsKeyFile. Must exist and be readable.",
        "ssl.certificate.location"),
    key!("tlsKeyFile", Both, Kind::Text, default "none",
        "PEM private key of tlsCertFile; requires tlsCertFile. Must exist and be readable; its content is never read by kafka-rs.",
        "ssl.key.location"),
    key!("tlsKeyPassword", Both, Kind::Text, default "none (the key is not encrypted)",
        "Password of an encrypted tlsKeyFile; requires tlsKeyFile. Redacted in every log, error and Debug output.",
        "ssl.key.password", secret true),
    key!("tlsInsecureSkipVerify", Both, Kind::Bool, default "false",
        "Accept any broker certificate, without CA or host name checks: for tests only, never in production.",
        "enable.ssl.certificate.verification=false and ssl.endpoint.identification.algorithm=none"),
    key!("trpcMeta", Both, Kind::Bool, default "false",
        "Carry tRPC metadata in record headers (consumer: headers become the context's metadata; producer: metadata becomes headers).",
        "none: implemented by the runtime"),
    key!("discover", Both, Kind::Text, default "none",
        "Discovery resolver that turns the address's host part (a service name) into brokers; requires namespace.",
        "none: the runtime resolves bootstrap.servers through the named resolver"),
    key!("namespace", Both, Kind::Text, default "none",
        "Discovery namespace; requires discover.",
        "none: passed to the resolver"),
    key!("netMaxOpenRequests", Both, int(1, 1_000_000, Unit::Count), default "5",
        "Most in-flight requests per broker connection (at most 5 with idempotent=true).",
        "max.in.flight.requests.per.connection"),
    key!("netDailTimeout", Both, int(1_000, 2_147_483_647, Unit::Millis), default "30000",
        "Connection setup timeout (the seed's spelling; netDialTimeout is accepted too).",
        "socket.connection.setup.timeout.ms", aliases &["netDialTimeout"]),
    key!("netReadTimeout", Both, int(10, 300_000, Unit::Millis), default "30000",
        "Network read timeout.",
        "socket.timeout.ms (the larger of netReadTimeout and netWriteTimeout)"),
    key!("netWriteTimeout", Both, int(10, 300_000, Unit::Millis), default "30000",
        "Network write timeout.",
        "socket.timeout.ms (the larger of netReadTimeout and netWriteTimeout)"),
    key!("metadataRetryMax", Both, int(0, 2_147_483_647, Unit::Count), default "1",
        "sarama's metadata request retry budget.",
        "none: librdkafka retries metadata requests until they succeed; accepted for compatibility"),
    key!("metadataRetryBackoff", Both, int(1, 60_000, Unit::Millis), default "1000",
        "Wait before re-requesting metadata after a failure or a lost leader; on producers at most retryInterval (librdkafka caps it at retry.backoff.max.ms).",
        "topic.metadata.refresh.fast.interval.ms"),
    key!("metadataRefreshFrequency", Both, int(0, 3_600, Unit::Seconds), default "120",
        "Periodic metadata refresh in seconds; 0 disables it.",
        "topic.metadata.refresh.interval.ms (seconds x 1000; 0 becomes -1)"),
    key!("metadataFull", Both, Kind::Bool, default "false",
        "Request metadata for all topics, not only the ones in use.",
        "topic.metadata.refresh.sparse (the negation)"),
    key!("metadataAllowAutoTopicCreation", Both, Kind::Bool, default "true",
        "Let metadata requests create missing topics (the broker must allow it too).",
        "allow.auto.create.topics"),
    // ---- consumer ----
    key!("topics", Consumer, Kind::Names, default "required",
        "Topics to subscribe to, comma-separated.",
        "subscription (not a property)"),
    key!("group", Consumer, Kind::Text, default "required",
        "Consumer group id.",
        "group.id"),
    key!("strategy", Consumer, Kind::Choice(Strategy::ALLOWED), default "sticky",
        "Partition assignment strategy; all members of a group must agree (seed Q5). sticky is librdkafka's cooperative-sticky, which cannot share a group with the Go plugin's (sarama's) sticky: see MIGRATING.md.",
        "partition.assignment.strategy (sticky becomes cooperative-sticky)"),
    key!("fetchDefault", Consumer, int(1, 1_000_000_000, Unit::Bytes), default "524288",
        "Bytes requested per partition per fetch.",
        "max.partition.fetch.bytes"),
    key!("fetchMax", Consumer, int(1_000, 2_147_483_135, Unit::Bytes), default "1048576",
        "Most bytes one fetch response carries.",
        "fetch.max.bytes"),
    key!("batch", Consumer, int(1, 2_147_483_647, Unit::Count), default "none (one message per call)",
        "Messages per batch for a batch handler; required by batch handlers.",
        "none: implemented by the runtime"),
    key!("batchFlush", Consumer, int(1, 2_147_483_647, Unit::Millis), default "2000",
        "A partial batch is handed to the handler after this long.",
        "none: implemented by the runtime"),
    key!("keyOrderedConcurrency", Consumer, int(1, 1_024, Unit::Count), default "1 (one message at a time per partition)",
        "Handlers run at once within one partition; records with the same key still run one at a time, in offset order (records without a key share one lane), and only a contiguous prefix of handled offsets is committed. Not allowed with batch.",
        "none: implemented by the runtime"),
    key!("initial", Consumer, Kind::Choice(InitialOffset::ALLOWED), default "newest",
        "Where a group without committed offsets starts.",
        "auto.offset.reset (newest=latest, oldest=earliest)"),
    key!("maxWaitTime", Consumer, int(1, 300_000, Unit::Millis), default "1000",
        "How long the broker may hold a fetch waiting for data.",
        "fetch.wait.max.ms"),
    key!("maxProcessingTime", Consumer, int(1, 2_147_483_647, Unit::Millis), default "100",
        "sarama's budget before a slow handler stops the partition's fetching.",
        "none: covered by the consumer's bounded prefetch, which pauses a partition whose handler is behind"),
    key!("groupSessionTimeout", Consumer, int(1, 3_600_000, Unit::Millis), default "10000",
        "Consumer group session timeout.",
        "session.timeout.ms (and heartbeat.interval.ms = min(3000, session/3))"),
    key!("groupRebalanceTimeout", Consumer, int(1, 86_400_000, Unit::Millis), default "60000",
        "How long members may take to rejoin during a rebalance; must be >= groupSessionTimeout.",
        "max.poll.interval.ms (librdkafka sends it as the JoinGroup rebalance timeout)"),
    key!("groupRebalanceRetryMax", Consumer, int(0, 2_147_483_647, Unit::Count), default "4",
        "sarama's rebalance retry budget.",
        "none: librdkafka rejoins until it succeeds or the consumer closes; accepted for compatibility"),
    key!("isolationLevel", Consumer, Kind::Choice(IsolationLevel::ALLOWED), default "ReadUncommitted (ReadCommitted with transactionalId)",
        "Whether records of aborted transactions are visible.",
        "isolation.level"),
    key!("limiterRate", Consumer, Kind::Rate, default "none (no limit)",
        "Token bucket rate: messages per second handed to the handler.",
        "none: implemented by the runtime"),
    key!("limiterBurst", Consumer, int(1, 2_147_483_647, Unit::Count), default "1 when limiterRate is set",
        "Token bucket size; requires limiterRate.",
        "none: implemented by the runtime"),
    key!("maxRetry", Consumer, int(-2_147_483_648, 2_147_483_647, Unit::Count), default "0",
        "Handler retries: 0 retries for ever, negative never retries, N > 0 runs at most N+1 times, then the message is committed and skipped (or dead-lettered). With retryTopics: the runs in place on each topic before the next hop (0 or negative: one run per topic).",
        "none: implemented by the runtime"),
    key!("retryInterval", Consumer, int(0, 86_400_000, Unit::Millis), default "3000",
        "Wait before running a failed handler again; with retryBackoff=exponential, the first wait.",
        "none: implemented by the runtime"),
    key!("retryBackoff", Consumer, Kind::Choice(RetryBackoff::ALLOWED), default "fixed",
        "How the wait between runs of a failing handler grows: fixed waits retryInterval every time (the Go plugin's behaviour); exponential waits retryInterval, then twice that, four times..., at most retryMaxInterval. The handler's Context shows the attempt number and the wait that follows a failure.",
        "none: implemented by the runtime"),
    key!("retryMaxInterval", Consumer, int(1, 86_400_000, Unit::Millis), default "60000 (with retryBackoff=exponential)",
        "Longest wait of retryBackoff=exponential; must be >= retryInterval; only with retryBackoff=exponential.",
        "none: implemented by the runtime"),
    key!("retryJitter", Consumer, int(0, 100, Unit::Percent), default "0 (waits exactly as scheduled)",
        "Each in-place wait is drawn at random between (100 - retryJitter)% and 100% of its scheduled length, so that consumers failing together do not retry in lockstep; never longer than the schedule.",
        "none: implemented by the runtime"),
    key!("retryTopics", Consumer, int(1, 100, Unit::Count), default "none (retries wait in place, holding the partition)",
        "Non-blocking retries: a record the handler gives up on is written to TOPIC-retry-1, handled again there after the next wait of the retry schedule by the same handler (in group GROUP-retry), then TOPIC-retry-2 ... TOPIC-retry-N, then deadLetterTopic (or skipped); the partition it came from goes on at once. With it, maxRetry counts the runs in place on each topic (0, the default, means one run per topic). The retry topics must exist (startup fails naming the missing ones). See \"Retry topics\".",
        "none: implemented by the runtime (a consumer of the retry topics and a producer on the consumer's brokers, acks=all)"),
    key!("deadLetterTopic", Consumer, Kind::Text, default "none (skip with an error log)",
        "Topic that receives a record whose handler gave up (maxRetry exhausted) or whose payload does not decode, with its key, value and headers plus dlt-* headers naming the error; must differ from the subscribed topics.",
        "none: implemented by the runtime (a producer on the consumer's brokers, acks=all)"),
    key!("groupInstanceId", Consumer, Kind::Text, default "none (dynamic membership)",
        "Static group membership (KIP-345): this member's stable identity in the group, unique per running instance, e.g. `orders-${HOSTNAME}`. A member restarted within the session timeout gets its partitions back without a rebalance; leaving does not rebalance either (the group waits for the session timeout).",
        "group.instance.id"),
    key!("groupProtocol", Consumer, Kind::Choice(GroupProtocol::ALLOWED), default "classic",
        "Consumer group protocol: consumer is KIP-848's (Apache Kafka 4.0 and later), where the broker assigns partitions (strategy sticky becomes its uniform assignor, range its range; roundrobin has no broker twin) and owns session and heartbeat timing, so groupSessionTimeout is refused with it. All members of a group need not agree: the broker upgrades a classic group when a consumer-protocol member joins.",
        "group.protocol (consumer: group.remote.assignor instead of partition.assignment.strategy; no session.timeout.ms, heartbeat.interval.ms)"),
    key!("transactionalId", Consumer, Kind::Text, default "none (at least once)",
        "Exactly once: the handler's records (sent by the producers it uses) and the input offsets commit in one Kafka transaction. The id must be unique per running instance and stable across its restarts, e.g. `orders-etl-${HOSTNAME}`; see CONFIGURATION.md, \"Transactions\". Requires keyOrderedConcurrency=1; isolationLevel becomes ReadCommitted; retryTopics is refused (retries happen through the transaction's abort and rewind).",
        "transactional.id of the service's transactional producer; the consumer gets enable.auto.commit=false and isolation.level=read_committed"),
    key!("transactionCommitInterval", Consumer, int(1, 900_000, Unit::Millis), default "100",
        "How often a transactional service commits its transaction; read-committed consumers see its records after that. Requires transactionalId.",
        "none: implemented by the runtime (Kafka Streams' commit.interval.ms under exactly-once)"),
    // ---- producer ----
    key!("topic", Producer, Kind::Text, default "none (required by produce)",
        "Topic that produce writes to.",
        "none: used by the runtime"),
    key!("partitioner", Producer, Kind::Choice(Partitioner::ALLOWED), default "random",
        "How a record's partition is chosen; hash matches sarama's FNV-1a hash partitioner.",
        "partitioner (random=random, hash=fnv1a_random; roundrobin is implemented by the runtime)"),
    key!("maxMessageBytes", Producer, int(1_000, 1_000_000_000, Unit::Bytes), default "131072",
        "Largest record (and request) the producer sends.",
        "message.max.bytes"),
    key!("requiredAcks", Producer, Kind::Choice(RequiredAcks::ALLOWED), default "-1",
        "Acknowledgements the leader waits for: 0 none, 1 the leader, -1 all in-sync replicas.",
        "acks (-1 becomes all)"),
    key!("idempotent", Producer, Kind::Bool, default "false",
        "Idempotent producer; requires requiredAcks=-1, maxRetry >= 1 and netMaxOpenRequests <= 5.",
        "enable.idempotence"),
    key!("async", Producer, Kind::AsyncFlag, default "0",
        "1: produce returns once the record is queued; delivery results go to the async callbacks. Only 1 is asynchronous (async=true is synchronous), as the Go plugin reads it.",
        "none: implemented by the runtime"),
    key!("flushMessages", Producer, int(0, 1_000_000, Unit::Count), default "0 (librdkafka's 10000)",
        "Records that trigger a send (sarama Flush.Messages); 0 leaves librdkafka's default.",
        "batch.num.messages (the smaller of flushMessages and flushMaxMessages)"),
    key!("flushMaxMessages", Producer, int(0, 1_000_000, Unit::Count), default "0 (librdkafka's 10000)",
        "Most records in one request (sarama Flush.MaxMessages); must be >= flushMessages; 0 leaves librdkafka's default.",
        "batch.num.messages (the smaller of flushMessages and flushMaxMessages)"),
    key!("flushBytes", Producer, int(0, 2_147_483_647, Unit::Bytes), default "0 (librdkafka's 1000000)",
        "Bytes that trigger a send (sarama Flush.Bytes); 0 leaves librdkafka's default.",
        "batch.size"),
    key!("flushFrequency", Producer, int(0, MESSAGE_TIMEOUT_MS - 1, Unit::Millis), default "0 (send at once; async=1: librdkafka's 5)",
        "Longest a record waits to be batched (sarama Flush.Frequency); 0 sends at once, as sarama does (records still share a request while one is in flight), except on async=1 targets, which keep librdkafka's 5 ms batching for throughput; must stay below librdkafka's message.timeout.ms (300000).",
        "linger.ms (0 becomes linger.ms=0, or librdkafka's default with async=1)"),
    key!("maxRetry", Producer, int(0, 2_147_483_647, Unit::Count), default "3",
        "Delivery retries of a failed produce request; must be >= 0.",
        "retries"),
    key!("retryInterval", Producer, int(1, 300_000, Unit::Millis), default "100",
        "Wait between delivery retries (fixed, as in sarama).",
        "retry.backoff.ms and retry.backoff.max.ms"),
];

/// The key called `name` (or one of its aliases) for an address of `side`.
///
/// ```
/// use kafka_runtime::config::keys::{lookup, Side};
/// assert_eq!(lookup("maxRetry", Side::Consumer).unwrap().default, "0");
/// assert_eq!(lookup("maxRetry", Side::Producer).unwrap().default, "3");
/// assert!(lookup("topic", Side::Consumer).is_none()); // a producer key
/// ```
pub fn lookup(name: &str, side: Side) -> Option<&'static KeySpec> {
    KEYS.iter()
        .find(|k| k.is_named(name) && k.side.accepts(side))
}

/// The key called `name` on the other side, for "belongs to producers" errors.
pub(crate) fn lookup_other_side(name: &str, side: Side) -> Option<&'static KeySpec> {
    KEYS.iter()
        .find(|k| k.is_named(name) && !k.side.accepts(side))
}

/// Every key name an address of `side` accepts, in table order.
///
/// ```
/// use kafka_runtime::config::keys::{allowed_names, Side};
/// let names = allowed_names(Side::Producer);
/// assert!(names.contains(&"topic") && names.contains(&"clientid"));
/// assert!(!names.contains(&"group"));
/// ```
pub fn allowed_names(side: Side) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for key in KEYS.iter().filter(|k| k.side.accepts(side)) {
        if !names.contains(&key.name) {
            names.push(key.name);
        }
    }
    names
}

/// The closest allowed key to a misspelled one, if any is close enough.
///
/// ```
/// use kafka_runtime::config::keys::{suggest, Side};
/// assert_eq!(suggest("clinetid", Side::Consumer), Some("clientid"));
/// assert_eq!(suggest("zzzzzz", Side::Consumer), None);
/// ```
pub fn suggest(name: &str, side: Side) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    KEYS.iter()
        .filter(|k| k.side.accepts(side))
        .flat_map(|k| std::iter::once(k.name).chain(k.aliases.iter().copied()))
        .map(|candidate| {
            let score = strsim::jaro_winkler(&lower, &candidate.to_ascii_lowercase());
            (candidate, score)
        })
        .filter(|(_, score)| *score >= 0.85)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(candidate, _)| lookup(candidate, side).map_or(candidate, |k| k.name))
}

/// The Markdown reference table of the keys whose side is exactly `side`
/// (`Side::Both` gives the shared keys), as `CONFIGURATION.md` shows it
/// between its generation markers.
///
/// ```
/// use kafka_runtime::config::keys::{markdown_table, Side};
/// let table = markdown_table(Side::Producer);
/// assert!(table.starts_with("| key | default | allowed values | librdkafka | meaning |"));
/// assert!(table.contains("| `topic` |"));
/// ```
pub fn markdown_table(side: Side) -> String {
    let mut out = String::from(
        "| key | default | allowed values | librdkafka | meaning |\n|---|---|---|---|---|\n",
    );
    for key in KEYS.iter().filter(|k| k.side == side) {
        let mut name = format!("`{}`", key.name);
        for alias in key.aliases {
            name.push_str(&format!(" (or `{alias}`)"));
        }
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} |\n",
            key.default,
            key.kind.allowed(),
            key.librdkafka,
            key.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_side() {
        for side in [Side::Consumer, Side::Producer] {
            let mut seen = std::collections::HashSet::new();
            for key in KEYS.iter().filter(|k| k.side.accepts(side)) {
                for name in std::iter::once(key.name).chain(key.aliases.iter().copied()) {
                    assert!(seen.insert(name), "{name} twice on the {side} side");
                }
            }
        }
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(suggest("clinetid", Side::Consumer), Some("clientid"));
        assert_eq!(suggest("topic", Side::Consumer), Some("topics"));
        assert_eq!(
            suggest("netdialtimeout", Side::Producer),
            Some("netDailTimeout")
        );
        assert_eq!(suggest("zzzzzz", Side::Producer), None);
    }

    #[test]
    fn versions_follow_sarama() {
        for ok in ["0.10.2.0", "1.1.1", "2.8.0", "1.1.1.0", "3.7.0"] {
            assert!(is_kafka_version(ok), "{ok}");
        }
        for bad in [
            "1",
            "1.1",
            "0.10.2",
            "v1.1.1",
            "1.x.1",
            "",
            "1..1",
            "0.1.1.0.0",
        ] {
            assert!(!is_kafka_version(bad), "{bad}");
        }
    }
}
