//! What handlers and raw loops report to the bench: how many messages they
//! handled and when the first and the last of a run were handled, end-to-end
//! latencies, and the per-key order check of the slow-handler scenario.
//!
//! Handlers registered with `#[kafka_consumer]` are plain functions, so the
//! state they report to is global; one run at a time uses it (`reset`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

/// Counts handled messages of the current run.
pub struct Probe {
    count: AtomicU64,
    target: AtomicU64,
    /// When the first hit came and how many messages it carried.
    first: Mutex<Option<(Instant, u64)>>,
    last: Mutex<Option<Instant>>,
    /// Wakes `wait` when the target is reached: a timer polling the count
    /// would cost our side wake-ups the raw loop does not have.
    reached: tokio::sync::Notify,
}

/// The handled-message counter every scenario uses.
pub static PROBE: Probe = Probe {
    count: AtomicU64::new(0),
    target: AtomicU64::new(u64::MAX),
    first: Mutex::new(None),
    last: Mutex::new(None),
    reached: tokio::sync::Notify::const_new(),
};

/// The timed part of a run: from the first hit to the hit that reached the
/// target, and how many messages were handled in between (the first hit's
/// messages excluded: the clock starts when they were done).
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub elapsed: Duration,
    pub messages: u64,
}

impl Probe {
    /// Starts a run that ends when `target` messages were handled.
    pub fn reset(&self, target: u64) {
        self.count.store(0, Ordering::SeqCst);
        self.target.store(target, Ordering::SeqCst);
        *self.first.lock().unwrap_or_else(PoisonError::into_inner) = None;
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Records `n` handled messages.
    pub fn hit(&self, n: u64) {
        let before = self.count.fetch_add(n, Ordering::AcqRel);
        if before == 0 {
            *self.first.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), n));
        }
        let target = self.target.load(Ordering::Acquire);
        if before < target && before + n >= target {
            *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
            // One waiter at most; a permit left by an earlier run only makes
            // `wait` check the count once more.
            self.reached.notify_one();
        }
    }

    /// Messages handled so far in this run.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    /// Whether the target was reached.
    pub fn done(&self) -> bool {
        self.count() >= self.target.load(Ordering::Acquire)
    }

    /// Resolves once the target is reached or `deadline` passed.
    pub async fn wait(&self, deadline: Instant) {
        let trace = std::env::var_os("KAFKA_BENCH_TRACE").is_some();
        let mut last = Instant::now();
        while !self.done() && Instant::now() < deadline {
            let wake = if trace {
                deadline.min(Instant::now() + Duration::from_millis(100))
            } else {
                deadline
            };
            let _ = tokio::time::timeout_at(wake.into(), self.reached.notified()).await;
            if trace && last.elapsed() >= Duration::from_millis(100) {
                last = Instant::now();
                eprintln!("kafka-bench: trace: {} handled", self.count());
            }
        }
    }

    /// The timed span of a finished run.
    pub fn span(&self) -> Result<Span, String> {
        let first = *self.first.lock().unwrap_or_else(PoisonError::into_inner);
        let last = *self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match (first, last) {
            (Some((first, first_n)), Some(last)) => Ok(Span {
                elapsed: last.saturating_duration_since(first),
                messages: self.target.load(Ordering::Acquire).saturating_sub(first_n),
            }),
            _ => Err(format!(
                "handled {} of {} messages before the deadline",
                self.count(),
                self.target.load(Ordering::Acquire)
            )),
        }
    }
}

/// End-to-end latencies in microseconds (payloads carry their send time).
pub static LATENCY: LazyLock<Mutex<Histogram<u64>>> = LazyLock::new(|| {
    Mutex::new(Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"))
});

/// Nanoseconds since the Unix epoch, the clock producers stamp payloads with
/// (producer and consumers run on the same machine).
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Records the latency of a payload stamped by [`now_nanos`].
pub fn record_latency(payload: Option<&[u8]>) {
    let Some(stamp) = payload.and_then(|p| p.get(..8)) else {
        return;
    };
    let sent = u64::from_le_bytes(stamp.try_into().unwrap_or([0; 8]));
    let micros = now_nanos().saturating_sub(sent) / 1_000;
    let mut histogram = LATENCY.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = histogram.record(micros.max(1));
}

/// Clears [`LATENCY`] for a new run.
pub fn reset_latency() {
    LATENCY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .reset();
}

/// `(p50, p99)` of [`LATENCY`] in microseconds.
pub fn latency_percentiles() -> (u64, u64) {
    let histogram = LATENCY.lock().unwrap_or_else(PoisonError::into_inner);
    (
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.99),
    )
}

/// Checks that messages of one key start in offset order and never overlap.
#[derive(Default)]
pub struct KeyOrder {
    /// key -> (offset of the last message started, whether it still runs).
    keys: Mutex<HashMap<Vec<u8>, (i64, bool)>>,
    violations: AtomicU64,
    max_in_flight: AtomicU64,
    in_flight: AtomicU64,
}

/// The per-key order check of the slow-handler scenario.
pub static KEY_ORDER: LazyLock<KeyOrder> = LazyLock::new(KeyOrder::default);

impl KeyOrder {
    /// Clears the state for a new run.
    pub fn reset(&self) {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.violations.store(0, Ordering::SeqCst);
        self.max_in_flight.store(0, Ordering::SeqCst);
        self.in_flight.store(0, Ordering::SeqCst);
    }

    /// A handler starts on `offset` of `key`.
    pub fn begin(&self, key: &[u8], offset: i64) {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = keys.entry(key.to_vec()).or_insert((-1, false));
        if entry.1 || offset <= entry.0 {
            self.violations.fetch_add(1, Ordering::Relaxed);
        }
        *entry = (offset, true);
        drop(keys);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
    }

    /// The handler of `key` finished.
    pub fn end(&self, key: &[u8]) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = keys.get_mut(key) {
            entry.1 = false;
        }
    }

    /// Order violations seen in this run.
    pub fn violations(&self) -> u64 {
        self.violations.load(Ordering::Relaxed)
    }

    /// The most handlers that ran at once in this run.
    pub fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::Relaxed)
    }
}

/// Peak resident set size of this process since the last [`reset_peak_rss`],
/// in KiB (`VmHWM`).
pub fn peak_rss_kib() -> Option<u64> {
    peak_rss_kib_of("self")
}

/// Peak resident set size of process `pid` (`self` or a number), in KiB.
pub fn peak_rss_kib_of(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets `VmHWM` to the current RSS (Linux `clear_refs` 5), so the next
/// [`peak_rss_kib`] covers one run only.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time (user + system) this process has used so far, in seconds.
pub fn cpu_seconds() -> Option<f64> {
    cpu_seconds_of("self")
}

/// CPU time (user + system) process `pid` (`self` or a number) has used so
/// far, in seconds.
pub fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line (1-based),
    // 12 and 13 here; the kernel counts them in clock ticks (100 Hz).
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
