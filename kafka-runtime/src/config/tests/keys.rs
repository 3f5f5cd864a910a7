//! Every key of both seed tables and the extras: its default, a valid value
//! and what it becomes (librdkafka property or typed field), an invalid value
//! and the exact error.

use super::super::keys::{Side, KEYS};
use super::super::{CommonConfig, ConsumerConfig, ProducerConfig, Properties};
use super::{consumer, producer};

const S: &str = "service `svc`: ";
const BOOL: &str = "true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)";
const SASL: &str = "SCRAM-SHA-512, SCRAM-SHA-256, PLAIN";

/// `(key, probe, default, valid value, what it becomes, invalid value, exact error)`.
type Row<T> = (
    &'static str,
    fn(&T) -> String,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn prop(props: &Properties, key: &str) -> String {
    props.get(key).unwrap_or("-").to_owned()
}

fn cp(c: &ConsumerConfig, key: &str) -> String {
    prop(&c.librdkafka_properties(), key)
}

fn pp(p: &ProducerConfig, key: &str) -> String {
    prop(&p.librdkafka_properties(), key)
}

/// Keys shared by both sides, probed through the common part and the
/// properties, which agree on both sides for these keys.
type SharedRow = (
    &'static str,
    fn(&CommonConfig, &Properties) -> String,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const SHARED: &[SharedRow] = &[
    ("version", |_, p| format!("{} {}", prop(p, "broker.version.fallback"), prop(p, "api.version.request")), "- -", "0.9.0.1", "0.9.0.1 false", "1.1",
        "`version=1.1`: not a Kafka version; allowed: 0.x.y.z before 1.0 (e.g. 0.10.2.0), x.y.z from 1.0 (e.g. 1.1.1, 2.8.0)"),
    ("version", |_, p| format!("{} {}", prop(p, "broker.version.fallback"), prop(p, "api.version.request")), "- -", "0.10.2.0", "- -", "v2",
        "`version=v2`: not a Kafka version; allowed: 0.x.y.z before 1.0 (e.g. 0.10.2.0), x.y.z from 1.0 (e.g. 1.1.1, 2.8.0)"),
    ("compression", |c, _| c.compression.to_string(), "gzip", "zstd", "zstd", "brotli",
        "`compression=brotli`: not an allowed value; allowed: none, gzip, snappy, lz4, zstd"),
    ("mechanism", |_, p| format!("{} {}", prop(p, "sasl.mechanisms"), prop(p, "security.protocol")),
        "- plaintext", "SCRAM-SHA-256&user=u&password=p", "SCRAM-SHA-256 sasl_plaintext", "MD5",
        "`mechanism=MD5`: not an allowed value; allowed: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN"),
    ("mechanism", |_, p| prop(p, "sasl.mechanisms"), "-", "SCRAM-SHA-512&user=u&password=p", "SCRAM-SHA-512", "PLAIN",
        "`mechanism=PLAIN`: `mechanism` requires both `user` and `password`"),
    ("user", |_, p| prop(p, "sasl.username"), "-", "u&mechanism=PLAIN&password=p", "u", "u",
        "`user=u`: `user` requires `mechanism` (one of: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN)"),
    ("password", |_, p| prop(p, "sasl.password"), "-", "p4ss&mechanism=PLAIN&user=u", "p4ss", "hunter2",
        "`password=***`: `password` requires `mechanism` (one of: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN)"),
    ("protocol", |_, p| prop(p, "security.protocol"), "plaintext", "SSL", "ssl", "TLS",
        "`protocol=TLS`: not an allowed value; allowed: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    ("protocol", |_, p| prop(p, "security.protocol"), "plaintext", "SASL_SSL&mechanism=SCRAM-SHA-512&user=u&password=p", "sasl_ssl", "SASL_SSL",
        "`protocol=SASL_SSL`: a SASL protocol requires `mechanism`, `user` and `password`; without SASL use PLAINTEXT or SSL"),
    ("protocol", |_, p| prop(p, "security.protocol"), "plaintext", "PLAINTEXT", "plaintext", "SSL&mechanism=PLAIN&user=u&password=p",
        "`protocol=SSL`: `mechanism` needs a SASL protocol: SASL_PLAINTEXT or SASL_SSL"),
    ("tlsCaFile", |_, p| format!("{} {}", prop(p, "ssl.ca.location"), prop(p, "security.protocol")), "- plaintext",
        "src/config/tests/tls/ca.pem", "src/config/tests/tls/ca.pem ssl", "missing.pem",
        "`tlsCaFile=missing.pem`: cannot read it (No such file or directory (os error 2)); allowed: a readable PEM file (or a directory of them), relative to the working directory"),
    ("tlsCaFile", |_, p| format!("{} {}", prop(p, "ssl.ca.location"), prop(p, "security.protocol")), "- plaintext",
        "src/config/tests/tls&protocol=SSL", "src/config/tests/tls ssl", "src/config/tests/tls/ca.pem&protocol=PLAINTEXT",
        "`tlsCaFile=src/config/tests/tls/ca.pem`: TLS keys need `protocol=SSL` or `protocol=SASL_SSL` (or no `protocol`: it then defaults to one of them), not `protocol=PLAINTEXT`"),
    ("tlsCertFile", |_, p| prop(p, "ssl.certificate.location"), "-",
        "src/config/tests/tls/client.pem&tlsKeyFile=src/config/tests/tls/client.key", "src/config/tests/tls/client.pem",
        "src/config/tests/tls/client.pem",
        "`tlsCertFile=src/config/tests/tls/client.pem`: `tlsCertFile` requires `tlsKeyFile` (the certificate's private key)"),
    ("tlsCertFile", |_, p| prop(p, "ssl.certificate.location"), "-",
        "src/config/tests/tls/client.pem&tlsKeyFile=src/config/tests/tls/client.key&tlsCaFile=src/config/tests/tls/ca.pem",
        "src/config/tests/tls/client.pem", "src/config/tests/tls&tlsKeyFile=src/config/tests/tls/client.key",
        "`tlsCertFile=src/config/tests/tls`: is a directory; allowed: a readable PEM file"),
    ("tlsKeyFile", |_, p| format!("{} {}", prop(p, "ssl.key.location"), prop(p, "security.protocol")), "- plaintext",
        "src/config/tests/tls/client.key&tlsCertFile=src/config/tests/tls/client.pem", "src/config/tests/tls/client.key ssl",
        "src/config/tests/tls/client.key",
        "`tlsKeyFile=src/config/tests/tls/client.key`: `tlsKeyFile` requires `tlsCertFile` (the client certificate it belongs to)"),
    ("tlsKeyPassword", |_, p| prop(p, "ssl.key.password"), "-",
        "s3cret&tlsKeyFile=src/config/tests/tls/client.key&tlsCertFile=src/config/tests/tls/client.pem", "s3cret", "s3cret",
        "`tlsKeyPassword=***`: `tlsKeyPassword` requires `tlsKeyFile` (the encrypted key it unlocks)"),
    ("tlsInsecureSkipVerify", |_, p| format!("{} {} {}", prop(p, "enable.ssl.certificate.verification"), prop(p, "ssl.endpoint.identification.algorithm"), prop(p, "security.protocol")),
        "- - plaintext", "true", "false none ssl", "yes",
        "`tlsInsecureSkipVerify=yes`: not a boolean; allowed: true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)"),
    ("tlsInsecureSkipVerify", |_, p| format!("{} {}", prop(p, "enable.ssl.certificate.verification"), prop(p, "security.protocol")),
        "- plaintext", "true&mechanism=SCRAM-SHA-256&user=u&password=p", "false sasl_ssl",
        "true&protocol=SASL_PLAINTEXT&mechanism=SCRAM-SHA-256&user=u&password=p",
        "`tlsInsecureSkipVerify=true`: TLS keys need `protocol=SSL` or `protocol=SASL_SSL` (or no `protocol`: it then defaults to one of them), not `protocol=SASL_PLAINTEXT`"),
    ("trpcMeta", |c, _| c.trpc_meta.to_string(), "false", "true", "true", "yes",
        "`trpcMeta=yes`: not a boolean; allowed: true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)"),
    ("trpcMeta", |c, _| c.trpc_meta.to_string(), "false", "1", "true", "",
        "`trpcMeta=`: empty value; allowed: true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)"),
    ("discover", |c, _| format!("{:?} {:?}", c.discover, c.brokers), "None [\"127.0.0.1:9092\"]",
        "polaris&namespace=Production", "Some(\"polaris\") [\"127.0.0.1:9092\"]", "polaris",
        "`discover=polaris`: `discover` requires `namespace` (e.g. `&namespace=Production`)"),
    ("namespace", |c, _| format!("{:?}", c.namespace), "None", "Production&discover=polaris", "Some(\"Production\")", "Production",
        "`namespace=Production`: `namespace` requires `discover` (the name of the discovery resolver, e.g. `&discover=polaris`)"),
    ("netMaxOpenRequests", |_, p| prop(p, "max.in.flight.requests.per.connection"), "5", "1", "1", "0",
        "`netMaxOpenRequests=0`: out of range; allowed: 1..=1000000"),
    ("netDailTimeout", |_, p| prop(p, "socket.connection.setup.timeout.ms"), "30000", "5000", "5000", "999",
        "`netDailTimeout=999`: out of range; allowed: 1000..=2147483647 (milliseconds)"),
    ("netDialTimeout", |_, p| prop(p, "socket.connection.setup.timeout.ms"), "30000", "7000", "7000", "x",
        "`netDialTimeout=x`: not a whole number; allowed: 1000..=2147483647 (milliseconds)"),
    ("netReadTimeout", |_, p| prop(p, "socket.timeout.ms"), "30000", "45000", "45000", "30s",
        "`netReadTimeout=30s`: not a whole number; allowed: 10..=300000 (milliseconds)"),
    ("netWriteTimeout", |_, p| prop(p, "socket.timeout.ms"), "30000", "50000", "50000", "5",
        "`netWriteTimeout=5`: out of range; allowed: 10..=300000 (milliseconds)"),
    ("metadataRetryMax", |c, _| format!("{:?}", c.metadata_retry_max), "None", "3", "Some(3)", "-1",
        "`metadataRetryMax=-1`: out of range; allowed: 0..=2147483647"),
    ("metadataRefreshFrequency", |_, p| prop(p, "topic.metadata.refresh.interval.ms"), "120000", "60", "60000", "3601",
        "`metadataRefreshFrequency=3601`: out of range; allowed: 0..=3600 (seconds)"),
    ("metadataRefreshFrequency", |_, p| prop(p, "topic.metadata.refresh.interval.ms"), "120000", "0", "-1", "1.5",
        "`metadataRefreshFrequency=1.5`: not a whole number; allowed: 0..=3600 (seconds)"),
    ("metadataFull", |_, p| prop(p, "topic.metadata.refresh.sparse"), "-", "true", "false", "full",
        "`metadataFull=full`: not a boolean; allowed: true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)"),
    ("metadataAllowAutoTopicCreation", |_, p| prop(p, "allow.auto.create.topics"), "true", "false", "false", "2",
        "`metadataAllowAutoTopicCreation=2`: not a boolean; allowed: true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)"),
];

const CONSUMER: &[Row<ConsumerConfig>] = &[
    ("metadataRetryBackoff", |c| cp(c, "topic.metadata.refresh.fast.interval.ms"), "1000", "250", "250", "0",
        "`metadataRetryBackoff=0`: out of range; allowed: 1..=60000 (milliseconds)"),
    ("clientid", |c| cp(c, "client.id"), "g", "cid", "cid", "",
        "`clientid=`: empty value; allowed: any non-empty text"),
    ("clientid", |c| cp(c, "client.id"), "g", "trpcgo", "g", "",
        "`clientid=`: empty value; allowed: any non-empty text"),
    ("compression", |c| cp(c, "compression.type"), "-", "lz4", "-", "LZ4",
        "`compression=LZ4`: not an allowed value; allowed: none, gzip, snappy, lz4, zstd"),
    ("topics", |c| format!("{:?}", c.topics), "[\"t\"]", "a,b", "[\"a\", \"b\"]", "a,,b",
        "`topics=a,,b`: empty name in the list; allowed: a comma-separated list of non-empty names"),
    ("group", |c| cp(c, "group.id"), "g", "billing", "billing", "",
        "`group=`: empty value; allowed: any non-empty text"),
    ("strategy", |c| cp(c, "partition.assignment.strategy"), "cooperative-sticky", "range", "range", "stickyish",
        "`strategy=stickyish`: not an allowed value; allowed: sticky, range, roundrobin"),
    ("strategy", |c| cp(c, "partition.assignment.strategy"), "cooperative-sticky", "roundrobin", "roundrobin", "RoundRobin",
        "`strategy=RoundRobin`: not an allowed value; allowed: sticky, range, roundrobin"),
    ("fetchDefault", |c| cp(c, "max.partition.fetch.bytes"), "524288", "1024", "1024", "0",
        "`fetchDefault=0`: out of range; allowed: 1..=1000000000 (bytes)"),
    ("fetchMax", |c| format!("{} {}", cp(c, "fetch.max.bytes"), cp(c, "message.max.bytes")), "1048576 -", "5000", "5000 5000", "999",
        "`fetchMax=999`: out of range; allowed: 1000..=2147483135 (bytes)"),
    ("batch", |c| format!("{:?}", c.batch), "None", "10", "Some(10)", "0",
        "`batch=0`: out of range; allowed: 1..=2147483647"),
    ("batch", |c| format!("{:?}", c.batch), "None", "1", "Some(1)", "-3",
        "`batch=-3`: out of range; allowed: 1..=2147483647"),
    ("batchFlush", |c| format!("{:?}", c.batch_flush), "2s", "500", "500ms", "-1",
        "`batchFlush=-1`: out of range; allowed: 1..=2147483647 (milliseconds)"),
    ("keyOrderedConcurrency", |c| c.key_ordered_concurrency.to_string(), "1", "16", "16", "0",
        "`keyOrderedConcurrency=0`: out of range; allowed: 1..=1024"),
    ("keyOrderedConcurrency", |c| c.key_ordered_concurrency.to_string(), "1", "1024", "1024", "2000",
        "`keyOrderedConcurrency=2000`: out of range; allowed: 1..=1024"),
    ("keyOrderedConcurrency", |c| c.key_ordered_concurrency.to_string(), "1", "1", "1", "-4",
        "`keyOrderedConcurrency=-4`: out of range; allowed: 1..=1024"),
    ("keyOrderedConcurrency", |c| c.key_ordered_concurrency.to_string(), "1", "8", "8", "abc",
        "`keyOrderedConcurrency=abc`: not a whole number; allowed: 1..=1024"),
    ("keyOrderedConcurrency", |c| format!("{} {:?}", c.key_ordered_concurrency, c.batch), "1 None", "1&batch=10", "1 Some(10)", "4&batch=10",
        "`keyOrderedConcurrency=4`: not allowed with `batch=10`: a batch handler gets a partition's messages in order, one batch at a time; remove `keyOrderedConcurrency` (or set it to 1), or remove `batch` and handle one message per call"),
    ("initial", |c| cp(c, "auto.offset.reset"), "latest", "oldest", "earliest", "earliest",
        "`initial=earliest`: not an allowed value; allowed: newest, oldest"),
    ("maxWaitTime", |c| cp(c, "fetch.wait.max.ms"), "1000", "200", "200", "300001",
        "`maxWaitTime=300001`: out of range; allowed: 1..=300000 (milliseconds)"),
    ("maxProcessingTime", |c| format!("{:?}", c.max_processing_time), "100ms", "5000", "5s", "0",
        "`maxProcessingTime=0`: out of range; allowed: 1..=2147483647 (milliseconds)"),
    ("groupSessionTimeout", |c| format!("{} {}", cp(c, "session.timeout.ms"), cp(c, "heartbeat.interval.ms")), "10000 3000", "6000", "6000 2000", "abc",
        "`groupSessionTimeout=abc`: not a whole number; allowed: 1..=3600000 (milliseconds)"),
    ("groupRebalanceTimeout", |c| cp(c, "max.poll.interval.ms"), "60000", "120000", "120000", "5000",
        "`groupRebalanceTimeout=5000`: must be >= groupSessionTimeout (10000): librdkafka requires max.poll.interval.ms >= session.timeout.ms"),
    ("groupRebalanceRetryMax", |c| format!("{:?}", c.group_rebalance_retry_max), "None", "2", "Some(2)", "-1",
        "`groupRebalanceRetryMax=-1`: out of range; allowed: 0..=2147483647"),
    ("isolationLevel", |c| cp(c, "isolation.level"), "read_uncommitted", "ReadCommitted", "read_committed", "read_committed",
        "`isolationLevel=read_committed`: not an allowed value; allowed: ReadUncommitted, ReadCommitted"),
    ("limiterRate", |c| format!("{:?}", (c.limiter_rate, c.limiter_burst)), "(None, None)", "0.5", "(Some(0.5), None)", "0",
        "`limiterRate=0`: out of range; allowed: a positive decimal number (events per second), e.g. 100 or 0.5"),
    ("limiterRate", |c| format!("{:?}", c.limiter_rate), "None", "100", "Some(100.0)", "fast",
        "`limiterRate=fast`: not a number; allowed: a positive decimal number (events per second), e.g. 100 or 0.5"),
    ("limiterBurst", |c| format!("{:?}", (c.limiter_rate, c.limiter_burst)), "(None, None)", "5&limiterRate=10", "(Some(10.0), Some(5))", "5",
        "`limiterBurst=5`: `limiterBurst` requires `limiterRate` (messages per second)"),
    ("limiterBurst", |c| format!("{:?}", c.limiter_burst), "None", "1&limiterRate=1", "Some(1)", "0&limiterRate=1",
        "`limiterBurst=0`: out of range; allowed: 1..=2147483647"),
    ("maxRetry", |c| format!("{:?}", c.retry), "Forever", "-1", "Never", "x",
        "`maxRetry=x`: not a whole number; allowed: -2147483648..=2147483647"),
    ("maxRetry", |c| format!("{:?}", c.retry), "Forever", "2", "Limited(2)", "2147483648",
        "`maxRetry=2147483648`: out of range; allowed: -2147483648..=2147483647"),
    ("retryInterval", |c| format!("{:?}", c.retry_interval), "3s", "100", "100ms", "-5",
        "`retryInterval=-5`: out of range; allowed: 0..=86400000 (milliseconds)"),
    ("retryBackoff", |c| format!("{:?}", c.retry_backoff), "Fixed", "exponential", "Exponential", "linear",
        "`retryBackoff=linear`: not an allowed value; allowed: fixed, exponential"),
    ("retryMaxInterval", |c| format!("{:?} {:?}", c.retry_max_interval, c.effective_retry_max_interval()), "None 60s", "5000&retryBackoff=exponential", "Some(5s) 5s", "5000",
        "`retryMaxInterval=5000`: only applies to `retryBackoff=exponential` (with `fixed` every wait is `retryInterval`): add `retryBackoff=exponential`, or remove `retryMaxInterval`"),
    ("retryMaxInterval", |c| format!("{:?}", c.retry_max_interval), "None", "3000&retryBackoff=exponential", "Some(3s)", "100&retryBackoff=exponential",
        "`retryMaxInterval=100`: must be >= retryInterval (3000): the first wait of the exponential schedule is retryInterval"),
    ("retryMaxInterval", |c| format!("{:?}", c.retry_max_interval), "None", "86400000&retryBackoff=exponential", "Some(86400s)", "0&retryBackoff=exponential",
        "`retryMaxInterval=0`: out of range; allowed: 1..=86400000 (milliseconds)"),
    ("retryJitter", |c| c.retry_jitter.to_string(), "0", "25", "25", "101",
        "`retryJitter=101`: out of range; allowed: 0..=100 (percent)"),
    ("retryTopics", |c| format!("{:?}", c.retry_topics), "None", "3", "Some(3)", "0",
        "`retryTopics=0`: out of range; allowed: 1..=100"),
    ("retryTopics", |c| format!("{:?} {:?}", c.retry_topics, c.dead_letter_topic), "None None", "2&deadLetterTopic=t.dlt", "Some(2) Some(\"t.dlt\")", "2&deadLetterTopic=t-retry-2",
        "`deadLetterTopic=t-retry-2`: is the retry topic 2 of `t` (`retryTopics=2`); allowed: a topic that is neither subscribed nor a retry topic, e.g. `t.dlt`"),
    ("retryTopics", |c| format!("{:?}", c.topics), "[\"t\"]", "1&topics=t,u", "[\"t\", \"u\"]", "1&topics=t,t-retry-1",
        "`retryTopics=1`: `t-retry-1` is both a subscribed topic and the retry topic of `t`, so a record would be handled twice per hop; subscribe to `t` only (the retry topics are consumed by the service itself)"),
    ("retryTopics", |c| format!("{:?}", c.retry_topics), "None", "100", "Some(100)", "101",
        "`retryTopics=101`: out of range; allowed: 1..=100"),
    ("deadLetterTopic", |c| format!("{:?}", c.dead_letter_topic), "None", "orders.dlt", "Some(\"orders.dlt\")", "orders%2Fdlt",
        "`deadLetterTopic=orders/dlt`: not a valid Kafka topic name (character '/'); allowed: 1 to 249 characters from a-z, A-Z, 0-9, `.`, `_`, `-` (not `.` or `..`)"),
    ("deadLetterTopic", |c| format!("{:?}", c.dead_letter_topic), "None", "t-dlt&topics=a,b", "Some(\"t-dlt\")", "t",
        "`deadLetterTopic=t`: is one of the subscribed `topics`, so a failed record would come back to the handler that gave up on it; allowed: a topic this service does not consume, e.g. `<topic>.dlt`"),
    ("deadLetterTopic", |c| format!("{:?}", c.dead_letter_topic), "None", "x", "Some(\"x\")", "..",
        "`deadLetterTopic=..`: not a valid Kafka topic name; allowed: 1 to 249 characters from a-z, A-Z, 0-9, `.`, `_`, `-` (not `.` or `..`)"),
    ("groupInstanceId", |c| cp(c, "group.instance.id"), "-", "orders-1", "orders-1", "",
        "`groupInstanceId=`: empty value; allowed: any non-empty text"),
    ("groupProtocol", |c| format!("{} {} {} {}", cp(c, "group.protocol"), cp(c, "group.remote.assignor"), cp(c, "partition.assignment.strategy"), cp(c, "session.timeout.ms")),
        "- - cooperative-sticky 10000", "consumer", "consumer uniform - -", "Consumer",
        "`groupProtocol=Consumer`: not an allowed value; allowed: classic, consumer"),
    ("groupProtocol", |c| format!("{} {} {}", cp(c, "group.protocol"), cp(c, "group.remote.assignor"), cp(c, "heartbeat.interval.ms")),
        "- - 3000", "consumer&strategy=range", "consumer range -", "consumer&strategy=roundrobin",
        "`strategy=roundrobin`: not available with `groupProtocol=consumer`: the broker assigns partitions and has no round-robin assignor; allowed: sticky (the broker's `uniform`) or range, or `groupProtocol=classic`"),
    ("groupProtocol", |c| cp(c, "group.protocol"), "-", "classic&groupSessionTimeout=6000", "-", "consumer&groupSessionTimeout=6000",
        "`groupSessionTimeout`: not allowed with `groupProtocol=consumer`: KIP-848 moves the session and heartbeat timing to the broker (group.consumer.session.timeout.ms and group.consumer.heartbeat.interval.ms); remove the key, or use `groupProtocol=classic`"),
    ("transactionalId", |c| format!("{:?} {} {} {}", c.transactional_id, cp(c, "enable.auto.commit"), cp(c, "auto.commit.interval.ms"), cp(c, "isolation.level")),
        "None true 3000 read_uncommitted", "etl-1", "Some(\"etl-1\") false - read_committed", "",
        "`transactionalId=`: empty value; allowed: any non-empty text"),
    ("transactionalId", |c| format!("{:?}", c.transactional_id), "None", "etl-1&keyOrderedConcurrency=1", "Some(\"etl-1\")", "etl-1&keyOrderedConcurrency=4",
        "`keyOrderedConcurrency=4`: not allowed with `transactionalId`: a transaction commits a partition's input offsets in order, so a transactional service handles a partition one record (or batch) at a time; remove `keyOrderedConcurrency` (or set it to 1)"),
    ("transactionalId", |c| format!("{:?} {:?} {:?}", c.retry_backoff, c.dead_letter_topic, c.retry_topics), "Fixed None None", "etl-1&retryBackoff=exponential&deadLetterTopic=t.dlt", "Exponential Some(\"t.dlt\") None", "etl-1&retryTopics=2",
        "`retryTopics=2`: not allowed with `transactionalId`: a hop to a retry topic is written outside the transaction and read back by a second consumer group, so exactly once would not hold; a transactional service retries in place (`maxRetry`, `retryInterval`, `retryBackoff`, `retryMaxInterval`, `retryJitter`) and then gives up to `deadLetterTopic`; remove `retryTopics` or `transactionalId`"),
    ("transactionalId", |c| cp(c, "isolation.level"), "read_uncommitted", "etl-1&isolationLevel=ReadCommitted", "read_committed", "etl-1&isolationLevel=ReadUncommitted",
        "`isolationLevel=ReadUncommitted`: not allowed with `transactionalId`: exactly once needs the input's aborted records left out; allowed: ReadCommitted (the default with transactionalId)"),
    ("transactionCommitInterval", |c| format!("{:?}", c.transaction_commit_interval), "100ms", "250&transactionalId=etl-1", "250ms", "250",
        "`transactionCommitInterval=250`: `transactionCommitInterval` requires `transactionalId` (it is how often a transactional service commits)"),
    ("transactionCommitInterval", |c| format!("{:?}", c.transaction_commit_interval), "100ms", "900000&transactionalId=etl-1", "900s", "0&transactionalId=etl-1",
        "`transactionCommitInterval=0`: out of range; allowed: 1..=900000 (milliseconds)"),
];

const PRODUCER: &[Row<ProducerConfig>] = &[
    // librdkafka caps the metadata backoff at retry.backoff.max.ms, which
    // is the producer's retryInterval (100 ms by default).
    ("metadataRetryBackoff", |p| pp(p, "topic.metadata.refresh.fast.interval.ms"), "100", "250&retryInterval=500", "250", "0",
        "`metadataRetryBackoff=0`: out of range; allowed: 1..=60000 (milliseconds)"),
    ("metadataRetryBackoff", |p| pp(p, "topic.metadata.refresh.fast.interval.ms"), "100", "2000&retryInterval=500", "500", "60001",
        "`metadataRetryBackoff=60001`: out of range; allowed: 1..=60000 (milliseconds)"),
    ("clientid", |p| pp(p, "client.id"), "trpcgo", "orders-writer", "orders-writer", "",
        "`clientid=`: empty value; allowed: any non-empty text"),
    ("compression", |p| pp(p, "compression.type"), "gzip", "snappy", "snappy", "GZIP",
        "`compression=GZIP`: not an allowed value; allowed: none, gzip, snappy, lz4, zstd"),
    ("compression", |p| pp(p, "compression.type"), "gzip", "none", "none", "deflate",
        "`compression=deflate`: not an allowed value; allowed: none, gzip, snappy, lz4, zstd"),
    ("topic", |p| format!("{:?}", p.topic), "Some(\"t\")", "orders", "Some(\"orders\")", "",
        "`topic=`: empty value; allowed: any non-empty text"),
    ("partitioner", |p| format!("{} {}", pp(p, "partitioner"), p.partitioner), "random random", "hash", "fnv1a_random hash", "murmur2",
        "`partitioner=murmur2`: not an allowed value; allowed: random, roundrobin, hash"),
    ("partitioner", |p| format!("{} {}", pp(p, "partitioner"), p.partitioner), "random random", "roundrobin", "random roundrobin", "",
        "`partitioner=`: empty value; allowed: random, roundrobin, hash"),
    ("maxMessageBytes", |p| pp(p, "message.max.bytes"), "131072", "1000000", "1000000", "999",
        "`maxMessageBytes=999`: out of range; allowed: 1000..=1000000000 (bytes)"),
    ("requiredAcks", |p| pp(p, "acks"), "all", "1", "1", "2",
        "`requiredAcks=2`: not an allowed value; allowed: 0, 1, -1"),
    ("requiredAcks", |p| pp(p, "acks"), "all", "0", "0", "all",
        "`requiredAcks=all`: not an allowed value; allowed: 0, 1, -1"),
    ("idempotent", |p| pp(p, "enable.idempotence"), "false", "true", "true", "on",
        "`idempotent=on`: not a boolean; allowed: true, false (Go spellings 1, 0, t, f, TRUE, FALSE, True, False also accepted)"),
    ("idempotent", |p| pp(p, "enable.idempotence"), "false", "false", "false", "true&requiredAcks=1",
        "`requiredAcks=1`: idempotent=true requires requiredAcks=-1: librdkafka requires acks=all with enable.idempotence"),
    ("idempotent", |p| pp(p, "enable.idempotence"), "false", "true&maxRetry=1", "true", "true&maxRetry=0",
        "`maxRetry=0`: idempotent=true requires maxRetry >= 1: librdkafka requires retries >= 1 with enable.idempotence"),
    ("idempotent", |p| pp(p, "enable.idempotence"), "false", "true&netMaxOpenRequests=5", "true", "true&netMaxOpenRequests=6",
        "`netMaxOpenRequests=6`: idempotent=true requires netMaxOpenRequests <= 5: librdkafka requires max.in.flight <= 5 with enable.idempotence"),
    ("async", |p| p.async_produce.to_string(), "false", "1", "true", "1&async=1",
        "`async=1`: `async` is given more than once; each key may appear once"),
    // The plugin reads only `1` as asynchronous: `true` is synchronous there.
    ("async", |p| p.async_produce.to_string(), "false", "true", "false", "1&async=1",
        "`async=1`: `async` is given more than once; each key may appear once"),
    ("flushMessages", |p| pp(p, "batch.num.messages"), "-", "100", "100", "1000001",
        "`flushMessages=1000001`: out of range; allowed: 0..=1000000"),
    ("flushMessages", |p| pp(p, "batch.num.messages"), "-", "0", "-", "many",
        "`flushMessages=many`: not a whole number; allowed: 0..=1000000"),
    ("flushMaxMessages", |p| pp(p, "batch.num.messages"), "-", "500", "500", "-1",
        "`flushMaxMessages=-1`: out of range; allowed: 0..=1000000"),
    ("flushMaxMessages", |p| pp(p, "batch.num.messages"), "-", "500&flushMessages=100", "100", "50&flushMessages=100",
        "`flushMaxMessages=50`: must be >= flushMessages (100), as in sarama"),
    ("flushBytes", |p| pp(p, "batch.size"), "-", "65536", "65536", "-1",
        "`flushBytes=-1`: out of range; allowed: 0..=2147483647 (bytes)"),
    ("flushFrequency", |p| pp(p, "linger.ms"), "0", "50", "50", "300000",
        "`flushFrequency=300000`: out of range; allowed: 0..=299999 (milliseconds)"),
    ("maxRetry", |p| pp(p, "retries"), "3", "0", "0", "-1",
        "`maxRetry=-1`: out of range; allowed: 0..=2147483647"),
    ("retryInterval", |p| format!("{} {}", pp(p, "retry.backoff.ms"), pp(p, "retry.backoff.max.ms")), "100 100", "250", "250 250", "0",
        "`retryInterval=0`: out of range; allowed: 1..=300000 (milliseconds)"),
];

fn check_rows<T>(side: &str, rows: &[Row<T>], parse: impl Fn(&str) -> Result<T, String>) {
    let base = parse("").unwrap_or_else(|e| panic!("{side} base address: {e}"));
    for (key, probe, default, valid, becomes, invalid, error) in rows {
        assert_eq!(probe(&base), *default, "{side} `{key}` default");
        let cfg = parse(&format!("{key}={valid}"))
            .unwrap_or_else(|e| panic!("{side} `{key}={valid}` should parse: {e}"));
        assert_eq!(probe(&cfg), *becomes, "{side} `{key}={valid}`");
        let err = parse(&format!("{key}={invalid}"))
            .err()
            .unwrap_or_else(|| panic!("{side} `{key}={invalid}` should fail"));
        assert_eq!(err, format!("{S}{error}"), "{side} `{key}={invalid}`");
    }
}

#[test]
fn shared_keys_on_consumers() {
    for (key, probe, default, valid, becomes, invalid, error) in SHARED {
        let base = consumer("").unwrap();
        assert_eq!(
            probe(&base.common, &base.librdkafka_properties()),
            *default,
            "consumer `{key}` default"
        );
        let cfg = consumer(&format!("{key}={valid}"))
            .unwrap_or_else(|e| panic!("consumer `{key}={valid}`: {e}"));
        assert_eq!(
            probe(&cfg.common, &cfg.librdkafka_properties()),
            *becomes,
            "consumer `{key}={valid}`"
        );
        let err = consumer(&format!("{key}={invalid}")).unwrap_err();
        assert_eq!(err, format!("{S}{error}"), "consumer `{key}={invalid}`");
    }
}

#[test]
fn shared_keys_on_producers() {
    for (key, probe, default, valid, becomes, invalid, error) in SHARED {
        let base = producer("").unwrap();
        assert_eq!(
            probe(&base.common, &base.librdkafka_properties()),
            *default,
            "producer `{key}` default"
        );
        let cfg = producer(&format!("{key}={valid}"))
            .unwrap_or_else(|e| panic!("producer `{key}={valid}`: {e}"));
        assert_eq!(
            probe(&cfg.common, &cfg.librdkafka_properties()),
            *becomes,
            "producer `{key}={valid}`"
        );
        let err = producer(&format!("{key}={invalid}")).unwrap_err();
        assert_eq!(err, format!("{S}{error}"), "producer `{key}={invalid}`");
    }
}

#[test]
fn consumer_keys() {
    check_rows("consumer", CONSUMER, consumer);
}

#[test]
fn producer_keys() {
    check_rows("producer", PRODUCER, producer);
}

/// The tables above must cover every key of the key table, on every side
/// that accepts it (aliases included).
#[test]
fn every_key_is_tested() {
    let shared: Vec<&str> = SHARED.iter().map(|r| r.0).collect();
    let consumer: Vec<&str> = CONSUMER
        .iter()
        .map(|r| r.0)
        .chain(shared.iter().copied())
        .collect();
    let producer: Vec<&str> = PRODUCER
        .iter()
        .map(|r| r.0)
        .chain(shared.iter().copied())
        .collect();
    for key in KEYS {
        for name in std::iter::once(key.name).chain(key.aliases.iter().copied()) {
            if key.side.accepts(Side::Consumer) {
                assert!(
                    consumer.contains(&name),
                    "consumer key `{name}` has no test row"
                );
            }
            if key.side.accepts(Side::Producer) {
                assert!(
                    producer.contains(&name),
                    "producer key `{name}` has no test row"
                );
            }
        }
    }
}

#[test]
fn flush_frequency_zero_sends_at_once_except_on_async_targets() {
    let sync = producer("").unwrap().librdkafka_properties();
    assert_eq!(sync.get("linger.ms"), Some("0"));
    let queued = producer("async=1").unwrap().librdkafka_properties();
    assert_eq!(queued.get("linger.ms"), None, "librdkafka's own linger");
    let explicit = producer("async=1&flushFrequency=20")
        .unwrap()
        .librdkafka_properties();
    assert_eq!(explicit.get("linger.ms"), Some("20"));
}

#[test]
fn consumer_commits_stored_offsets_only() {
    let props = consumer("").unwrap().librdkafka_properties();
    assert_eq!(props.get("enable.auto.commit"), Some("true"));
    assert_eq!(props.get("enable.auto.offset.store"), Some("false"));
    assert_eq!(props.get("auto.commit.interval.ms"), Some("3000"));
    assert_eq!(props.get("bootstrap.servers"), Some("127.0.0.1:9092"));
    // A consumer never gets producer-only properties (librdkafka would warn).
    for producer_only in [
        "compression.type",
        "acks",
        "retries",
        "linger.ms",
        "partitioner",
    ] {
        assert_eq!(props.get(producer_only), None, "{producer_only}");
    }
}

#[test]
fn bool_and_sasl_texts_match_the_table() {
    use super::super::keys::{lookup, Kind};
    assert_eq!(Kind::Bool.allowed(), BOOL);
    assert_eq!(
        lookup("mechanism", Side::Consumer).map(|k| k.kind.allowed()),
        Some(SASL.to_owned())
    );
}
