//! Partition choice: the sarama-compatible hash reference and round-robin.
//!
//! `partitioner=hash` is delegated to librdkafka's `fnv1a_random`, which was
//! written to match sarama's `NewHashPartitioner`; [`sarama_hash_partition`]
//! is the reference the tests hold it to. `partitioner=roundrobin` has no
//! librdkafka twin, so [`RoundRobin`] picks the partition here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// 32-bit FNV-1a of `key` (offset basis 2166136261, prime 16777619), the hash
/// sarama's hash partitioner uses (Go's `hash/fnv.New32a`).
///
/// ```
/// use kafka_runtime::producer::fnv1a_32;
/// assert_eq!(fnv1a_32(b""), 2_166_136_261);
/// assert_eq!(fnv1a_32(b"a"), 0xe40c292c);
/// ```
pub fn fnv1a_32(key: &[u8]) -> u32 {
    key.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// The partition sarama's `NewHashPartitioner` picks for a non-empty `key`
/// among `partitions` partitions.
///
/// sarama computes `p := int32(hash) % n; if p < 0 { p = -p }`: the hash is
/// reinterpreted as a signed 32-bit integer, Go's `%` keeps the dividend's
/// sign, and the result is negated when negative. Keys whose hash has the top
/// bit set are exactly where an unsigned modulo would differ. sarama sends a
/// record without a key to a random partition instead.
///
/// # Panics
///
/// Never for `partitions > 0`; returns 0 when `partitions <= 0`, where no
/// partition exists to choose.
///
/// ```
/// use kafka_runtime::producer::sarama_hash_partition;
/// assert_eq!(sarama_hash_partition(b"user-1", 1), 0);
/// assert!((0..6).contains(&sarama_hash_partition(b"user-1", 6)));
/// ```
pub fn sarama_hash_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    // `as` reinterprets the bits, like Go's `int32(hash)`; `%` on i32 truncates
    // towards zero like Go's. |p| < partitions, so negation cannot overflow.
    let p = (fnv1a_32(key) as i32) % partitions;
    p.abs()
}

/// Per-topic round-robin counters, like sarama's round-robin partitioner
/// (one counter per topic, cycling `0, 1, ..., n-1, 0, ...`).
#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    counters: Mutex<HashMap<String, Arc<AtomicU32>>>,
}

impl RoundRobin {
    /// The next partition of `topic`, which has `partitions` partitions.
    pub(crate) fn next(&self, topic: &str, partitions: i32) -> i32 {
        let counter = {
            let mut counters = self
                .counters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(counters.entry(topic.to_owned()).or_default())
        };
        let n = u32::try_from(partitions.max(1)).unwrap_or(1);
        let turn = counter.fetch_add(1, Ordering::Relaxed);
        // Always below `partitions`, so the cast back cannot truncate.
        (turn % n) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_published_vectors() {
        // Test vectors of the FNV reference (hash_32a, "a" and "foobar").
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn negative_hashes_are_folded_like_go() {
        // "a" hashes to 0xe40c292c: top bit set, int32 value -468965076.
        let signed = fnv1a_32(b"a") as i32;
        assert_eq!(signed, -468_965_076);
        for n in 1..=20 {
            let expected = (i64::from(signed) % i64::from(n)).abs() as i32;
            assert_eq!(sarama_hash_partition(b"a", n), expected, "n={n}");
        }
        // An unsigned modulo would give a different answer for n = 7.
        assert_ne!((fnv1a_32(b"a") % 7) as i32, sarama_hash_partition(b"a", 7));
    }

    #[test]
    fn round_robin_cycles_per_topic() {
        let rr = RoundRobin::default();
        let a: Vec<_> = (0..7).map(|_| rr.next("a", 3)).collect();
        assert_eq!(a, vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(rr.next("b", 3), 0);
    }
}
