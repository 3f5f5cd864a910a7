//! The records of one handling (a message or a batch), and the copies that
//! retries and the dead-letter path need once the handler has taken them.
//!
//! A handler takes its records by value, so every attempt needs records of
//! its own while the engine must still be able to retry or dead-letter. The
//! first attempt, usually the only one, gets the records themselves; the
//! engine keeps a copy without topics ([`Records::spare`]): every value in
//! it is a reference count on the partition's arena, and the topic, an
//! allocation per record, is the claim's and is put back only if a copy is
//! ever used ([`Records::restored`]).

use crate::Message;

/// One message for a single-message handler, or one partition's batch.
pub(crate) enum Records {
    /// A single-message handler's message.
    One(Message),
    /// A batch handler's messages, in offset order.
    Batch(Vec<Message>),
}

impl Records {
    /// The messages, in offset order.
    pub(crate) fn as_slice(&self) -> &[Message] {
        match self {
            Records::One(msg) => std::slice::from_ref(msg),
            Records::Batch(msgs) => msgs,
        }
    }

    /// A copy whose messages have an empty topic (no allocation for it).
    pub(crate) fn spare(&self) -> Records {
        match self {
            Records::One(msg) => Records::One(without_topic(msg)),
            Records::Batch(msgs) => Records::Batch(msgs.iter().map(without_topic).collect()),
        }
    }

    /// A copy of a [`spare`](Records::spare) with `topic` put back.
    pub(crate) fn restored(&self, topic: &str) -> Records {
        let with_topic = |m: &Message| {
            let mut m = m.clone();
            topic.clone_into(&mut m.topic);
            m
        };
        match self {
            Records::One(msg) => Records::One(with_topic(msg)),
            Records::Batch(msgs) => Records::Batch(msgs.iter().map(with_topic).collect()),
        }
    }

    /// The messages as a batch handler takes them.
    pub(crate) fn into_vec(self) -> Vec<Message> {
        match self {
            Records::One(msg) => vec![msg],
            Records::Batch(msgs) => msgs,
        }
    }

    /// The message a single-message handler takes: the first (the engine
    /// gives single-message handlers [`Records::One`]).
    pub(crate) fn into_first(self) -> Option<Message> {
        match self {
            Records::One(msg) => Some(msg),
            Records::Batch(msgs) => msgs.into_iter().next(),
        }
    }
}

fn without_topic(msg: &Message) -> Message {
    Message {
        topic: String::new(),
        partition: msg.partition,
        offset: msg.offset,
        key: msg.key.clone(),
        payload: msg.payload.clone(),
        headers: msg.headers.clone(),
        timestamp: msg.timestamp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(offset: i64) -> Message {
        let mut m = Message::new("orders", 3, offset)
            .with_key(format!("k{offset}"))
            .with_payload(format!("v{offset}"));
        m.headers.push(("h".into(), Some("x".into())));
        m.timestamp = Some(1_700_000_000_000 + offset);
        m
    }

    #[test]
    fn a_restored_spare_equals_the_original() {
        let batch = Records::Batch(vec![msg(7), msg(8)]);
        let spare = batch.spare();
        assert!(spare.as_slice().iter().all(|m| m.topic.is_empty()));
        assert_eq!(spare.restored("orders").as_slice(), batch.as_slice());
        let one = Records::One(msg(9));
        assert_eq!(one.spare().restored("orders").into_first(), Some(msg(9)));
        assert_eq!(one.into_vec(), vec![msg(9)]);
    }
}
