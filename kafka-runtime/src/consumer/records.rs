//! The records of one handling (a message or a batch), and the copies that
//! retries and the dead-letter path need once the handler has taken them.
//!
//! A handler takes its records by value, so every attempt needs records of
//! its own while the engine must still be able to retry or dead-letter. The
//! first attempt, usually the only one, gets the records themselves; the
//! engine keeps a clone, which copies no bytes: values are reference counts
//! on the partition's arena and the topic on the claim's name.

use crate::Message;

/// One message for a single-message handler, or one partition's batch.
#[derive(Clone)]
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
    fn a_clone_equals_the_original_and_shares_its_bytes() {
        let batch = Records::Batch(vec![msg(7), msg(8)]);
        let spare = batch.clone();
        assert_eq!(spare.as_slice(), batch.as_slice());
        for (copy, original) in spare.as_slice().iter().zip(batch.as_slice()) {
            assert!(std::sync::Arc::ptr_eq(&copy.topic, &original.topic));
            let (c, o) = (copy.payload.as_ref(), original.payload.as_ref());
            assert_eq!(c.map(|b| b.as_ptr()), o.map(|b| b.as_ptr()));
        }
        let one = Records::One(msg(9));
        assert_eq!(one.clone().into_first(), Some(msg(9)));
        assert_eq!(one.into_vec(), vec![msg(9)]);
    }
}
