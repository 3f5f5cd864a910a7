//! Payload codecs on a real broker: a Protobuf producer and handler round
//! trip (`Producer<T, Protobuf>`, `#[kafka_consumer(codec = protobuf)]`),
//! the raw codec, and records that do not decode going to the dead-letter
//! topic while the records around them are handled (in a batch too).

mod consumer_support;
mod producer_support;
mod reliability_support;

use std::sync::Mutex;

use consumer_support::*;
use kafka_runtime::codec::{Protobuf, Raw};
use kafka_runtime::deadletter;
use kafka_runtime::producer::{build_producer, FromRawProducer, Headers, RawProducer};
use kafka_runtime::rdkafka::message::Message as _;
use kafka_runtime::{kafka_consumer, Context, HandlerError, Producer};
use producer_support::{headers_of, Fixture};

#[derive(Clone, PartialEq, prost::Message)]
struct Order {
    #[prost(uint32, tag = "1")]
    id: u32,
    #[prost(string, tag = "2")]
    item: String,
}

/// What the handlers got: (topic, offset, value).
static GOT: Mutex<Vec<(String, i64, String)>> = Mutex::new(Vec::new());

fn got(ctx: &Context, value: String) {
    let raw = ctx.raw();
    GOT.lock()
        .unwrap()
        .push((raw.topic.to_string(), raw.offset, value));
}

fn got_on(topic: &str) -> Vec<(i64, String)> {
    GOT.lock()
        .unwrap()
        .iter()
        .filter(|(t, ..)| t == topic)
        .map(|(_, o, v)| (*o, v.clone()))
        .collect()
}

#[kafka_consumer(service = "codec.protobuf", codec = protobuf)]
async fn protobuf(ctx: Context, order: Order) -> Result<(), HandlerError> {
    got(&ctx, format!("{}:{}", order.id, order.item));
    Ok(())
}

#[kafka_consumer(service = "codec.protobuf.batch", batch, codec = protobuf)]
async fn protobuf_batch(ctx: Context, orders: Vec<Order>) -> Result<(), HandlerError> {
    for order in orders {
        got(&ctx, format!("{}:{}", order.id, order.item));
    }
    Ok(())
}

#[kafka_consumer(service = "codec.raw", codec = raw)]
async fn raw_text(ctx: Context, text: String) -> Result<(), HandlerError> {
    got(&ctx, text);
    Ok(())
}

fn order(id: u32) -> Order {
    Order {
        id,
        item: format!("book {id}"),
    }
}

struct Setup {
    dlt: Fixture,
    bootstrap: String,
    topic: String,
    raw: RawProducer,
}

async fn setup(name: &str) -> Setup {
    init_logs();
    let dlt = Fixture::new(&format!("{name}-dlt"), 1).await;
    let bootstrap = dlt.broker.bootstrap();
    let topic = unique_name(name);
    dlt.broker.create_topic(&topic, 1).await.unwrap();
    let raw = build_producer("codec-test", &dlt.plain_config(), None).unwrap();
    Setup {
        dlt,
        bootstrap,
        topic,
        raw,
    }
}

/// Serves `service` on `topic` with the dead-letter topic until `expected`
/// values were handled and the one dead-letter copy is there; returns it
/// and checks the commit.
async fn serve_until(
    s: &Setup,
    service: &str,
    tune: impl FnOnce(Service) -> Service,
    expected: usize,
    records: i64,
) -> kafka_runtime::rdkafka::message::OwnedMessage {
    let svc = tune(Service::new(service, &s.topic)).key("deadLetterTopic", &s.dlt.topic);
    let group = svc.group.clone();
    let running = start(config(&s.bootstrap, &[svc]), &[service]);
    let copies = s.dlt.read_all(1, 1).await;
    let topic = s.topic.clone();
    eventually("every decodable record handled", || {
        got_on(&topic).len() >= expected
    })
    .await;
    let (b, g, t) = (s.bootstrap.clone(), group, s.topic.clone());
    let committed = kafka_rs::wait_until(WAIT, move || {
        reliability_support::committed(&b, &g, &t, 1).get(&0) == Some(&records)
    })
    .await;
    running.stop().await.expect("serve() stops cleanly");
    assert!(committed, "offset {records} committed");
    let high = reliability_support::high_watermarks(&s.bootstrap, &s.dlt.topic, 1);
    assert_eq!(high.get(&0), Some(&1), "exactly one dead-letter copy");
    copies.into_iter().next().unwrap()
}

fn assert_undecodable(
    copy: &kafka_runtime::rdkafka::message::OwnedMessage,
    key: &str,
    value: &[u8],
    offset: i64,
    error: &str,
) {
    assert_eq!(copy.key(), Some(key.as_bytes()));
    assert_eq!(copy.payload(), Some(value));
    let headers = headers_of(copy);
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
    };
    assert_eq!(headers[0], ("h".to_owned(), b"v".to_vec()), "{headers:?}");
    assert_eq!(get(deadletter::REASON_HEADER), "undecodable");
    assert_eq!(get(deadletter::ATTEMPTS_HEADER), "1");
    assert_eq!(get(deadletter::OFFSET_HEADER), offset.to_string());
    assert!(
        get(deadletter::ERROR_HEADER).starts_with(error),
        "{}",
        get(deadletter::ERROR_HEADER)
    );
}

/// Orders 1, 2 through `Producer<Order, Protobuf>`, then bytes that are not
/// Protobuf, then order 3.
async fn produce_orders_and_poison(s: &Setup) {
    let orders: Producer<Order, Protobuf> = FromRawProducer::from_raw(s.raw.clone());
    for id in [1, 2] {
        orders
            .send_message(&s.topic, format!("k{id}"), &order(id), Headers::new())
            .await
            .unwrap();
    }
    s.raw
        .send_message(
            &s.topic,
            "k-bad",
            b"\xff\xff\xff",
            Headers::from([("h", "v")]),
        )
        .await
        .unwrap();
    orders
        .send_message(&s.topic, "k3", &order(3), Headers::new())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn protobuf_round_trips_and_what_does_not_decode_is_dead_lettered() {
    let s = setup("codec-protobuf").await;
    produce_orders_and_poison(&s).await;
    // The wire format is Protobuf's: field 1 varint, field 2 length-delimited.
    let first = producer_support::read(s.bootstrap.clone(), s.topic.clone(), vec![(0, 0)], 1).await;
    assert_eq!(first[0].payload(), Some(&b"\x08\x01\x12\x06book 1"[..]));
    let copy = serve_until(&s, "codec.protobuf", |svc| svc.key("maxRetry", 0), 3, 4).await;
    assert_eq!(
        got_on(&s.topic),
        [
            (0, "1:book 1".to_owned()),
            (1, "2:book 2".to_owned()),
            (3, "3:book 3".to_owned())
        ]
    );
    assert_undecodable(
        &copy,
        "k-bad",
        b"\xff\xff\xff",
        2,
        "payload does not decode: Protobuf into `consumer_codecs::Order`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_a_typed_batch_only_the_undecodable_record_is_dead_lettered() {
    let s = setup("codec-protobuf-batch").await;
    produce_orders_and_poison(&s).await;
    let copy = serve_until(
        &s,
        "codec.protobuf.batch",
        |svc| {
            svc.key("batch", 10)
                .key("batchFlush", 500)
                .key("maxRetry", 0)
        },
        3,
        4,
    )
    .await;
    let values: Vec<String> = got_on(&s.topic).into_iter().map(|(_, v)| v).collect();
    assert_eq!(values, ["1:book 1", "2:book 2", "3:book 3"]);
    assert_undecodable(
        &copy,
        "k-bad",
        b"\xff\xff\xff",
        2,
        "payload does not decode: Protobuf into `consumer_codecs::Order`",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_raw_codec_hands_text_over_as_it_is_and_dead_letters_what_is_not_utf8() {
    let s = setup("codec-raw").await;
    let texts: Producer<String, Raw> = FromRawProducer::from_raw(s.raw.clone());
    texts
        .send_message(&s.topic, "k0", &"{not json}".to_owned(), Headers::new())
        .await
        .unwrap();
    s.raw
        .send_message(&s.topic, "k-bad", b"caf\xe9", Headers::from([("h", "v")]))
        .await
        .unwrap();
    texts
        .send_message(&s.topic, "k2", &"plain".to_owned(), Headers::new())
        .await
        .unwrap();
    let copy = serve_until(&s, "codec.raw", |svc| svc.key("maxRetry", 0), 2, 3).await;
    assert_eq!(
        got_on(&s.topic),
        [(0, "{not json}".to_owned()), (2, "plain".to_owned())]
    );
    assert_undecodable(
        &copy,
        "k-bad",
        b"caf\xe9",
        1,
        "payload does not decode: raw into `alloc::string::String`: not UTF-8",
    );
}
