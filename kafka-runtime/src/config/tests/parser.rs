//! Address syntax: the broker list, the query, and the errors around them.

use std::time::Duration;

use super::super::{
    parse_consumer_address, parse_producer_target, register_consumer_addr_config,
    register_producer_addr_config, ConsumerConfig, ProducerConfig,
};
use super::{consumer, producer, SERVICE};

fn consumer_err(address: &str) -> String {
    parse_consumer_address(SERVICE, address)
        .err()
        .unwrap_or_else(|| panic!("`{address}` should fail"))
        .to_string()
}

fn producer_err(target: &str) -> String {
    parse_producer_target(SERVICE, target)
        .err()
        .unwrap_or_else(|| panic!("`{target}` should fail"))
        .to_string()
}

const BROKER_RULE: &str = "each broker is `host:port` with a non-empty host and a port in 1..=65535, brokers separated by commas";

#[test]
fn seed_addresses_parse() {
    let cfg = parse_consumer_address(
        SERVICE,
        "ip1:9092,ip2:9093?topics=topic1,topic2&group=xxx&version=0.10.2.0",
    )
    .unwrap();
    assert_eq!(cfg.common.brokers, ["ip1:9092", "ip2:9093"]);
    assert_eq!(cfg.topics, ["topic1", "topic2"]);
    assert_eq!(cfg.group, "xxx");
    assert_eq!(cfg.common.version, "0.10.2.0");

    let cfg = parse_producer_target(
        SERVICE,
        "kafka://ip1:9092,ip2:9092?topic=YOUR_TOPIC&clientid=xxx&compression=none",
    )
    .unwrap();
    assert_eq!(cfg.topic.as_deref(), Some("YOUR_TOPIC"));
    assert_eq!(cfg.effective_client_id(), "xxx");
    // Same target without the scheme.
    let bare = parse_producer_target(
        SERVICE,
        "ip1:9092,ip2:9092?topic=YOUR_TOPIC&clientid=xxx&compression=none",
    )
    .unwrap();
    assert_eq!(bare, cfg);

    // Q9: SCRAM with user and password.
    let cfg = parse_consumer_address(
        SERVICE,
        "ip1:9092?topics=t&group=g&mechanism=SCRAM-SHA-512&user=alice&password=s3cr3t",
    )
    .unwrap();
    let props = cfg.librdkafka_properties();
    assert_eq!(props.get("sasl.mechanisms"), Some("SCRAM-SHA-512"));
    assert_eq!(props.get("sasl.username"), Some("alice"));
    assert_eq!(props.get("sasl.password"), Some("s3cr3t"));
    assert_eq!(props.get("security.protocol"), Some("sasl_plaintext"));

    // Polaris-style: the host part is a service name.
    let cfg = parse_consumer_address(
        SERVICE,
        "YOUR_SERVICE_NAME?topics=topic1,topic2&group=xxx&version=1.1.1&discover=polaris&namespace=Development",
    )
    .unwrap();
    assert_eq!(cfg.common.brokers, ["YOUR_SERVICE_NAME"]);
    assert_eq!(cfg.common.discover.as_deref(), Some("polaris"));
    assert_eq!(cfg.common.namespace.as_deref(), Some("Development"));
}

#[test]
fn query_is_decoded_like_go() {
    let cfg = consumer("group=a%20b&clientid=x+y&topics=t%2C1").unwrap();
    assert_eq!(cfg.group, "a b");
    assert_eq!(cfg.common.client_id.as_deref(), Some("x y"));
    // A percent-encoded comma is still a list separator after decoding, as in Go.
    assert_eq!(cfg.topics, ["t", "1"]);
    let cfg = consumer("user=u&password=p%26ss%3D&mechanism=PLAIN").unwrap();
    assert_eq!(
        cfg.common.password.as_ref().map(|p| p.expose()),
        Some("p&ss=")
    );
    // Empty pairs are skipped, as url.ParseQuery does.
    let cfg = parse_consumer_address(SERVICE, "h:1?&topics=t&&group=g&").unwrap();
    assert_eq!(cfg.group, "g");

    assert_eq!(
        consumer_err("h:1?topics=t&group=g;clientid=x"),
        "service `svc`: the query contains `;`: separate key=value pairs with `&` (Go's url.ParseQuery refuses `;` too)"
    );
    assert_eq!(
        consumer_err("h:1?topics=t&group=g%zz"),
        "service `svc`: bad percent-escape in the query pair of key `group`: `%` must be followed by two hex digits (write `%25` for a literal `%`)"
    );
    assert_eq!(
        consumer_err("h:1?topics=t&group=g&password=ab%2"),
        "service `svc`: bad percent-escape in the query pair of key `***`: `%` must be followed by two hex digits (write `%25` for a literal `%`)"
    );
    assert_eq!(
        consumer_err("h:1?topics=t&group=g&=x"),
        "service `svc`: a query pair has an empty key (`=value`); write `key=value`"
    );
    assert_eq!(
        consumer_err("h:1?topics=t&group"),
        "service `svc`: `group=`: empty value; allowed: any non-empty text"
    );
}

#[test]
fn unknown_duplicate_and_other_side_keys() {
    let err = consumer_err("h:1?topics=t&group=g&clinetid=x");
    assert!(
        err.starts_with("service `svc`: `clinetid=x`: unknown key `clinetid`, did you mean `clientid`? allowed consumer keys: clientid, version, compression,"),
        "{err}"
    );
    assert!(
        err.ends_with(
            "retryInterval, retryBackoff, retryMaxInterval, retryJitter, retryTopics, deadLetterTopic, groupInstanceId, groupProtocol, transactionalId, transactionCommitInterval"
        ),
        "{err}"
    );
    assert!(!err.contains("partitioner"), "{err}");

    let err = producer_err("kafka://h:1?topic=t&zzz=1");
    assert!(
        err.starts_with(
            "service `svc`: `zzz=1`: unknown key `zzz`; allowed producer keys: clientid,"
        ),
        "{err}"
    );
    assert!(
        err.contains("partitioner") && !err.contains("topics"),
        "{err}"
    );

    // A secret-looking unknown key keeps its value hidden.
    let err = consumer_err("h:1?topics=t&group=g&passwd=hunter2");
    assert!(
        err.starts_with(
            "service `svc`: `passwd=***`: unknown key `passwd`, did you mean `password`?"
        ),
        "{err}"
    );

    assert_eq!(
        consumer_err("h:1?topics=t&group=g&topic=x"),
        "service `svc`: `topic=x`: `topic` is a producer key, not allowed in a consumer address; did you mean `topics`?"
    );
    assert_eq!(
        consumer_err("h:1?topics=t&group=g&partitioner=hash"),
        "service `svc`: `partitioner=hash`: `partitioner` is a producer key, not allowed in a consumer address"
    );
    assert_eq!(
        producer_err("kafka://h:1?topic=t&group=g"),
        "service `svc`: `group=g`: `group` is a consumer key, not allowed in a producer address"
    );
    assert_eq!(
        producer_err("kafka://h:1?topics=t"),
        "service `svc`: `topics=t`: `topics` is a consumer key, not allowed in a producer address; did you mean `topic`?"
    );
    assert_eq!(
        consumer_err("h:1?topics=t&group=g&group=h"),
        "service `svc`: `group=h`: `group` is given more than once; each key may appear once"
    );
    assert_eq!(
        consumer_err("h:1?topics=t&group=g&netDailTimeout=5000&netDialTimeout=6000"),
        "service `svc`: `netDialTimeout=6000`: `netDailTimeout` is given more than once; each key may appear once"
    );
    assert_eq!(
        consumer_err("h:1?topics=t&group=g&user=u&mechanism=PLAIN&password=a&password=b"),
        "service `svc`: `password=***`: `password` is given more than once; each key may appear once"
    );
}

#[test]
fn broker_lists() {
    let cfg = parse_consumer_address(
        SERVICE,
        "[::1]:9092, kafka-1.example.com:19092?topics=t&group=g",
    )
    .unwrap();
    assert_eq!(
        cfg.common.brokers,
        ["[::1]:9092", "kafka-1.example.com:19092"]
    );

    assert_eq!(
        consumer_err("?topics=t&group=g"),
        "service `svc`: no brokers: the part before `?` is `host:port[,host:port...]` (e.g. `127.0.0.1:9092`)"
    );
    assert_eq!(
        consumer_err("h?topics=t&group=g"),
        format!("service `svc`: broker `h`: missing `:port`; {BROKER_RULE}")
    );
    assert_eq!(
        consumer_err("h:0?topics=t&group=g"),
        format!("service `svc`: broker `h:0`: bad port; {BROKER_RULE}")
    );
    assert_eq!(
        consumer_err("h:http?topics=t&group=g"),
        format!("service `svc`: broker with host `h`: the port is not a number; {BROKER_RULE}")
    );
    assert_eq!(
        consumer_err("h:65536?topics=t&group=g"),
        format!("service `svc`: broker `h:65536`: bad port; {BROKER_RULE}")
    );
    assert_eq!(
        consumer_err(":9092?topics=t&group=g"),
        format!("service `svc`: broker `:9092`: bad host; {BROKER_RULE}")
    );
    assert_eq!(
        consumer_err("a:1,,b:2?topics=t&group=g"),
        format!("service `svc`: empty broker in the broker list; {BROKER_RULE}")
    );
    assert_eq!(
        consumer_err("user:secret@h:1?topics=t&group=g"),
        "service `svc`: a broker contains `@`: credentials do not belong in the broker list; use the `mechanism`, `user` and `password` keys"
    );
    assert_eq!(
        consumer_err("kafka://h:1?topics=t&group=g"),
        "service `svc`: a consumer address has no `kafka://` prefix (only client targets do): write `host:port[,host:port...]?topics=...&group=...`"
    );
    assert_eq!(
        producer_err("kafka://http://h:1?topic=t"),
        format!("service `svc`: broker `http://h:1`: a broker has no scheme; {BROKER_RULE}")
    );
    // With discover the host part is one service name.
    assert_eq!(
        consumer_err("svc-a,svc-b?topics=t&group=g&discover=polaris&namespace=Production"),
        "service `svc`: with `discover`, the part before `?` is exactly one service name for the resolver (e.g. `my.kafka.service?discover=polaris&namespace=Production&...`)"
    );
}

#[test]
fn missing_question_mark_explains_the_syntax() {
    let err = consumer_err("fake_address");
    assert_eq!(
        err,
        "service `svc`: the address has no `?`: write `host:port[,host:port...]?key=value&...` (e.g. `127.0.0.1:9092?topics=orders&group=billing`); \
         for an address configured in code (like `fake_address`), call kafka_runtime::config::register_consumer_addr_config with that exact string before loading"
    );
    let err = producer_err("kafka://h:1");
    assert!(err.contains("register_producer_addr_config"), "{err}");
    assert!(
        err.contains("`kafka://127.0.0.1:9092?topic=orders`"),
        "{err}"
    );
    // The raw address is never echoed: it may hold a password.
    let err = consumer_err("h:1&password=hunter2");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn consumers_need_topics_and_group() {
    assert_eq!(
        consumer_err("h:1?group=g"),
        "service `svc`: `topics`: a consumer needs `topics` (comma-separated topic names, e.g. `?topics=orders,refunds&group=billing`)"
    );
    assert_eq!(
        consumer_err("h:1?topics=t"),
        "service `svc`: `group`: a consumer needs `group` (the consumer group id, e.g. `&group=billing`)"
    );
    // A producer needs no topic (send_message names one); produce() will ask for it.
    assert_eq!(producer("").unwrap().topic.as_deref(), Some("t"));
    assert_eq!(
        parse_producer_target(SERVICE, "kafka://h:1?clientid=c")
            .unwrap()
            .topic,
        None
    );
}

#[test]
fn registered_configs_replace_parsing_and_are_validated() {
    let mut cfg = ConsumerConfig::default();
    cfg.common.brokers = vec!["127.0.0.1:9092".to_owned()];
    cfg.topics = vec!["test_topic".to_owned()];
    cfg.group = "registered".to_owned();
    cfg.batch_flush = Duration::from_millis(123);
    register_consumer_addr_config("parser_test_fake_address", cfg.clone());
    assert_eq!(
        parse_consumer_address(SERVICE, "parser_test_fake_address").unwrap(),
        cfg
    );

    let mut bad = cfg.clone();
    bad.topics.clear();
    register_consumer_addr_config("parser_test_bad_address", bad);
    assert!(consumer_err("parser_test_bad_address").contains("a consumer needs `topics`"));

    let mut producer_cfg = ProducerConfig::default();
    producer_cfg.common.brokers = vec!["127.0.0.1:9092".to_owned()];
    producer_cfg.topic = Some("audit".to_owned());
    register_producer_addr_config("kafka://parser_test_fake_target", producer_cfg.clone());
    assert_eq!(
        parse_producer_target(SERVICE, "parser_test_fake_target").unwrap(),
        producer_cfg
    );
    assert_eq!(
        parse_producer_target(SERVICE, "kafka://parser_test_fake_target").unwrap(),
        producer_cfg
    );

    let mut bad = producer_cfg.clone();
    bad.idempotent = true;
    bad.required_acks = super::super::RequiredAcks::Leader;
    register_producer_addr_config("parser_test_bad_target", bad);
    assert_eq!(
        producer_err("kafka://parser_test_bad_target"),
        "service `svc`: `requiredAcks=1`: idempotent=true requires requiredAcks=-1: librdkafka requires acks=all with enable.idempotence"
    );
}

#[test]
fn cross_key_rules_of_librdkafka() {
    // max.poll.interval.ms >= session.timeout.ms, reported on the rebalance key.
    assert_eq!(
        consumer("groupSessionTimeout=70000").unwrap_err(),
        "service `svc`: `groupRebalanceTimeout=60000`: must be >= groupSessionTimeout (70000): librdkafka requires max.poll.interval.ms >= session.timeout.ms"
    );
    // A small fetchMax lowers the consumer's message.max.bytes instead of failing.
    let props = consumer("fetchMax=2000").unwrap().librdkafka_properties();
    assert_eq!(props.get("message.max.bytes"), Some("2000"));
    // Registered configs get the same checks as addresses.
    let mut cfg = consumer("").unwrap();
    cfg.fetch_max = 10;
    assert_eq!(
        cfg.validate(SERVICE).unwrap_err().to_string(),
        "service `svc`: `fetchMax=10`: out of range; allowed: 1000..=2147483135 (bytes)"
    );
    let mut cfg = consumer("").unwrap();
    cfg.commit_interval = Duration::ZERO;
    assert!(cfg
        .validate(SERVICE)
        .unwrap_err()
        .to_string()
        .contains("`commit_interval=0ms`: out of range"));
    let mut cfg = consumer("").unwrap();
    cfg.common.max_response_size = Some(1_048_576);
    assert_eq!(
        cfg.validate(SERVICE).unwrap_err().to_string(),
        "service `svc`: `plugins.database.kafka.max_response_size=1048576`: must be >= fetchMax + 512 (1049088): librdkafka requires receive.message.max.bytes >= fetch.max.bytes + 512"
    );
    let mut cfg = producer("").unwrap();
    cfg.common.max_request_size = Some(100_000);
    assert_eq!(
        cfg.validate(SERVICE).unwrap_err().to_string(),
        "service `svc`: `maxMessageBytes=131072`: must be <= plugins.database.kafka.max_request_size (100000): a request carries at least one record"
    );
}
