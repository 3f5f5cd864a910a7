//! librdkafka itself accepts every property set the mapping produces: the
//! clients are created for real (nothing is mocked; they only try to
//! connect in the background to a port where no broker listens).

use rdkafka::consumer::BaseConsumer;
use rdkafka::producer::BaseProducer;

use super::super::{parse_consumer_address, parse_producer_target};

const CONSUMERS: &[&str] = &[
    "127.0.0.1:1?topics=t&group=g",
    "127.0.0.1:1,localhost:2?topics=a,b&group=g&clientid=c&version=0.10.2.0&compression=zstd\
     &strategy=range&fetchDefault=1&fetchMax=1000&batch=10&batchFlush=1&initial=oldest\
     &maxWaitTime=300000&maxProcessingTime=1&groupSessionTimeout=3600000&groupRebalanceTimeout=86400000\
     &groupRebalanceRetryMax=0&isolationLevel=ReadCommitted&limiterRate=0.5&limiterBurst=3\
     &maxRetry=-1&retryInterval=0&trpcMeta=true&netMaxOpenRequests=1000000&netDailTimeout=1000\
     &netReadTimeout=10&netWriteTimeout=300000&metadataRetryMax=0&metadataRetryBackoff=60000\
     &metadataRefreshFrequency=0&metadataFull=true&metadataAllowAutoTopicCreation=false",
    "127.0.0.1:1?topics=t&group=g&strategy=roundrobin&fetchMax=2147483135&groupSessionTimeout=1\
     &groupRebalanceTimeout=1&metadataRefreshFrequency=3600&metadataRetryBackoff=1\
     &keyOrderedConcurrency=1024",
    "127.0.0.1:1?topics=t&group=g&mechanism=SCRAM-SHA-512&user=u&password=p",
    "127.0.0.1:1?topics=t&group=g&mechanism=SCRAM-SHA-256&user=u&password=p&protocol=SASL_SSL",
    "127.0.0.1:1?topics=t&group=g&mechanism=PLAIN&user=u&password=p&protocol=SASL_PLAINTEXT",
    "127.0.0.1:1?topics=t&group=g&protocol=SSL",
    "127.0.0.1:1?topics=t&group=g&tlsCaFile=src/config/tests/tls/ca.pem\
     &tlsCertFile=src/config/tests/tls/client.pem&tlsKeyFile=src/config/tests/tls/client.key",
    "127.0.0.1:1?topics=t&group=g&tlsInsecureSkipVerify=true&mechanism=SCRAM-SHA-512&user=u&password=p",
];

const PRODUCERS: &[&str] = &[
    "kafka://127.0.0.1:1?topic=t",
    "kafka://127.0.0.1:1,localhost:2?topic=t&clientid=c&version=2.8.0&compression=lz4\
     &partitioner=hash&maxMessageBytes=1000000000&requiredAcks=-1&idempotent=true&async=1\
     &flushMessages=1&flushMaxMessages=1000000&flushBytes=2147483647&flushFrequency=299999\
     &maxRetry=2147483647&retryInterval=300000&netMaxOpenRequests=5",
    "kafka://127.0.0.1:1?topic=t&partitioner=roundrobin&requiredAcks=0&maxRetry=0&retryInterval=1\
     &maxMessageBytes=1000&flushBytes=1&compression=none&netDailTimeout=2147483647",
    "kafka://127.0.0.1:1?topic=t&requiredAcks=1&compression=snappy&mechanism=SCRAM-SHA-512&user=u&password=p",
    "kafka://127.0.0.1:1?topic=t&tlsCaFile=src/config/tests/tls&mechanism=SCRAM-SHA-256&user=u&password=p",
];

#[test]
fn librdkafka_accepts_every_consumer_mapping() {
    for address in CONSUMERS {
        let cfg = parse_consumer_address("svc", address).unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) = cfg.client_config().create::<BaseConsumer>() {
            panic!(
                "librdkafka refused `{address}`: {e}\n{}",
                cfg.librdkafka_properties()
            );
        }
    }
}

#[test]
fn librdkafka_accepts_every_producer_mapping() {
    for target in PRODUCERS {
        let cfg = parse_producer_target("svc", target).unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) = cfg.client_config().create::<BaseProducer>() {
            panic!(
                "librdkafka refused `{target}`: {e}\n{}",
                cfg.librdkafka_properties()
            );
        }
    }
}

/// The checks above have teeth: without the mapping's adjustment librdkafka
/// refuses the same config at creation.
#[test]
fn librdkafka_refuses_what_the_mapping_adjusts() {
    let cfg = parse_consumer_address("svc", "127.0.0.1:1?topics=t&group=g&fetchMax=1000").unwrap();
    let mut client = cfg.client_config();
    client.remove("message.max.bytes");
    let err = client.create::<BaseConsumer>().err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("fetch.max.bytes")),
        "{err:?}"
    );
}
