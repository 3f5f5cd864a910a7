//! The crash loop shared by the crash test (one consumer process at a time,
//! any broker) and the consumer-kill test of the three-node cluster (several
//! members of one group): consumer processes are SIGKILLed at random moments
//! and replaced while keyed records flow, the group's committed offsets are
//! read right after each SIGKILL, and the record file tells what every
//! process handled and when.
//!
//! What a SIGKILL may cost is checked per kill ([`KillCheck`]): the killed
//! process's *uncommitted tail* (the records it handled at or above the
//! offsets committed when it died) is what later processes may redo, and
//! nothing below those offsets may be redone. The tail must be no larger
//! than what the process handled in its last commit window (one commit
//! interval plus the commit's round trip) plus the prefetch: periodic
//! commits that happen leave no older work uncommitted. A consumer whose
//! periodic commits never happen fails this, as the crash test's negative
//! control shows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::*;

/// How records are fed to the group: the stream is cut into one chunk per
/// kill plus one, each flowing over `seconds`, so that records keep
/// arriving until the last kill whatever the group's rebalances cost.
#[derive(Clone, Copy, Debug)]
pub enum Production {
    /// One member at a time: a process's chunk flows from the moment the
    /// group gives it its partitions, and the process is killed while it
    /// flows.
    ChunkPerProcess {
        /// How long each chunk flows.
        seconds: u64,
    },
    /// Several members: once the group is settled (every live process has
    /// had partitions and none was given or deprived of any for
    /// `settled_ms`), the next chunk flows and a member handling it is
    /// killed. librdkafka does not auto-commit while its group rebalances,
    /// so a kill during a rebalance could cost more than a commit window
    /// (see the delivery guarantees in CONFIGURATION.md); this loop measures
    /// the settled case.
    ChunkPerKill {
        /// How long each chunk flows.
        seconds: u64,
        /// How long the group must go without a partition changing hands.
        settled_ms: u64,
    },
}

/// A crash loop's settings.
#[derive(Clone, Debug)]
pub struct CrashLoop {
    pub partitions: i32,
    pub messages: usize,
    pub kills: usize,
    /// Processes alive at once (a killed one is replaced at once).
    pub members: usize,
    pub commit_interval_ms: u64,
    pub handler_delay_ms: u64,
    /// How long a victim works before its SIGKILL, drawn uniformly.
    pub work_before_kill: std::ops::Range<Duration>,
    pub production: Production,
    /// How long a new process may take to get work: a killed member's
    /// partitions move once its session expires and the group rebalances.
    pub rejoin: Duration,
}

/// One SIGKILL.
#[derive(Clone, Debug)]
pub struct Kill {
    pub run: String,
    /// When it was sent (unix ms).
    pub at_ms: u128,
    /// The group's committed offsets read right after it.
    pub committed: BTreeMap<i32, i64>,
}

/// What a crash loop did.
pub struct CrashOutcome {
    pub spec: ConsumerSpec,
    /// Every process, in start order.
    pub runs: Vec<String>,
    pub kills: Vec<Kill>,
    pub lines: Vec<Line>,
    pub high: BTreeMap<i32, i64>,
    pub elapsed: Duration,
    pub seed: u64,
}

/// What one SIGKILL cost.
#[derive(Clone, Debug)]
pub struct KillCheck {
    pub run: String,
    /// Records the killed process handled at or above the offsets
    /// committed when it died.
    pub tail: usize,
    /// Records it handled in the commit window before its death.
    pub last_window: usize,
    /// `last_window` plus the prefetch.
    pub bound: usize,
    /// Records of it that a later process handled again.
    pub redone: usize,
    /// Of those, records below the offsets committed when it died.
    pub redone_below_committed: usize,
}

impl KillCheck {
    /// What is wrong with this kill, if anything.
    pub fn violation(&self) -> Option<String> {
        let mut wrong = Vec::new();
        if self.tail > self.bound {
            wrong.push(format!(
                "uncommitted tail of {} records exceeds its last commit window ({} records) \
                 plus prefetch = {}",
                self.tail, self.last_window, self.bound
            ));
        }
        if self.redone_below_committed > 0 {
            wrong.push(format!(
                "{} records below the offsets committed at its death were handled again",
                self.redone_below_committed
            ));
        }
        if self.redone > self.tail {
            wrong.push(format!(
                "{} records redone, more than its uncommitted tail {}",
                self.redone, self.tail
            ));
        }
        (!wrong.is_empty()).then(|| format!("{}: {}", self.run, wrong.join("; ")))
    }

    /// `run:redone/tail/bound`, for reports.
    pub fn figure(&self) -> String {
        format!("{}:{}/{}/{}", self.run, self.redone, self.tail, self.bound)
    }
}

impl CrashLoop {
    /// Runs the loop on `broker` with the group's commits every
    /// `self.commit_interval_ms`; fails the test on anything but the
    /// duplicate bounds, which [`CrashOutcome::check_kills`] reports.
    pub async fn run(&self, broker: &TestBroker, name: &str) -> CrashOutcome {
        assert!(
            self.messages > 0 && self.kills > 0 && self.members > 0,
            "the crash loop never runs empty"
        );
        let (mut rng, seed) = Rng::seeded();
        let started = Instant::now();
        let topic = unique_name(name);
        broker.create_topic(&topic, self.partitions).await.unwrap();
        let spec = ConsumerSpec {
            bootstrap: broker.bootstrap(),
            topic: topic.clone(),
            group: unique_name(&format!("{name}-group")),
            record: record_path(&topic),
            commit_interval_ms: self.commit_interval_ms,
            handler_delay_ms: self.handler_delay_ms,
        };
        let producer = producer(&broker.bootstrap());
        let mut follow = Follow::new(&spec.record);

        if let Production::ChunkPerProcess { .. } = self.production {
            assert_eq!(
                self.members, 1,
                "a chunk per process is for one member at a time"
            );
        }
        let chunks = self.kills + 1;
        let chunk = |k: usize| (self.messages * k / chunks)..(self.messages * (k + 1) / chunks);
        let flow = |k: usize, seconds: u64| {
            produce_paced_range(
                producer.clone(),
                topic.clone(),
                chunk(k),
                (seconds as usize * 2).max(1),
            )
        };
        let mut producing = Vec::new();

        let mut runs: Vec<String> = Vec::new();
        let mut live: Vec<ConsumerProcess> = Vec::new();
        for _ in 0..self.members {
            let run = format!("run{}", runs.len());
            live.push(spec.spawn(&run));
            runs.push(run);
        }
        let mut kills = Vec::new();
        for k in 0..=self.kills {
            let index = match self.production {
                Production::ChunkPerProcess { seconds } => {
                    // The process's chunk flows once it has partitions.
                    let run = live[0].run.clone();
                    let assigned = poll(self.rejoin, Duration::from_millis(100), || {
                        follow.update().first_assigned(&run).is_some()
                    })
                    .await;
                    live[0].assert_running();
                    assert!(assigned, "{run} got no partitions within {:?}", self.rejoin);
                    producing.push(flow(k, seconds));
                    0
                }
                Production::ChunkPerKill {
                    seconds,
                    settled_ms,
                } => {
                    // Settled, then the chunk flows, and the victim is
                    // killed while it does.
                    self.wait_settled(&mut follow, &mut live, settled_ms).await;
                    producing.push(flow(k, seconds));
                    if k == self.kills {
                        break;
                    }
                    self.working_member(&mut follow, &mut live, &mut rng).await
                }
            };
            if k == self.kills {
                break;
            }
            let span = self
                .work_before_kill
                .end
                .saturating_sub(self.work_before_kill.start)
                .as_millis() as u64;
            let delay = self.work_before_kill.start + Duration::from_millis(rng.below(span));
            tokio::time::sleep(delay).await;
            let mut process = live.remove(index);
            process.assert_running();
            let run = process.run.clone();
            let at_ms = now_ms();
            let committed = tokio::task::block_in_place(|| {
                process.kill();
                committed(&spec.bootstrap, &spec.group, &topic, self.partitions)
            });
            kills.push(Kill {
                run,
                at_ms,
                committed,
            });
            let run = format!("run{}", runs.len());
            live.push(spec.spawn(&run));
            runs.push(run);
        }

        let mut acked = 0;
        for p in producing {
            acked += p.await.unwrap();
        }
        assert_eq!(acked, self.messages, "every message acknowledged");
        // The backlog left by the kills: allow for a slow machine.
        let catch_up = Duration::from_secs(300 + self.messages as u64 / 50);
        let all = poll(catch_up, Duration::from_millis(200), || {
            follow.update().handled_unique() >= self.messages
        })
        .await;
        let mut exits = Vec::new();
        for p in live {
            let run = p.run.clone();
            exits.push((run, p.terminate(Duration::from_secs(30))));
        }
        assert!(
            all,
            "the group did not catch up: {} of {} handled",
            follow.handled_unique(),
            self.messages
        );
        for (run, status) in exits {
            assert!(
                status.success(),
                "{run}: clean exit on SIGTERM, got {status}"
            );
        }

        let lines = read_record(&spec.record);
        let high = high_watermarks(&spec.bootstrap, &topic, self.partitions);
        assert_eq!(high.values().sum::<i64>(), self.messages as i64, "{high:?}");
        CrashOutcome {
            spec,
            runs,
            kills,
            lines,
            high,
            elapsed: started.elapsed(),
            seed,
        }
    }
}

impl CrashLoop {
    /// Waits (bounded by `rejoin`) until every live process has had
    /// partitions and none was given or deprived of any for `settled_ms`.
    async fn wait_settled(
        &self,
        follow: &mut Follow,
        live: &mut [ConsumerProcess],
        settled_ms: u64,
    ) {
        let deadline = Instant::now() + self.rejoin;
        loop {
            follow.update();
            let settled = live.iter().all(|p| follow.first_assigned(&p.run).is_some())
                && follow
                    .last_change()
                    .is_some_and(|at| now_ms().saturating_sub(at) >= settled_ms as u128);
            if settled {
                return;
            }
            for p in live.iter_mut() {
                p.assert_running();
            }
            assert!(
                Instant::now() < deadline,
                "the group did not settle within {:?} (live: {:?})",
                self.rejoin,
                live.iter().map(|p| p.run.clone()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A live member that handled a record in the last second (waits for
    /// one, bounded by `rejoin`), chosen at random; its index in `live`.
    async fn working_member(
        &self,
        follow: &mut Follow,
        live: &mut [ConsumerProcess],
        rng: &mut Rng,
    ) -> usize {
        let deadline = Instant::now() + self.rejoin;
        loop {
            follow.update();
            let recent = now_ms().saturating_sub(1_000);
            let working: Vec<usize> = (0..live.len())
                .filter(|&i| {
                    follow
                        .last_handled_by(&live[i].run)
                        .is_some_and(|at| at >= recent)
                })
                .collect();
            if !working.is_empty() {
                return working[rng.below(working.len() as u64) as usize];
            }
            for p in live.iter_mut() {
                p.assert_running();
            }
            assert!(
                Instant::now() < deadline,
                "no consumer process handled anything within {:?} (live: {:?})",
                self.rejoin,
                live.iter().map(|p| p.run.clone()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl CrashOutcome {
    /// Per SIGKILL: its uncommitted tail, what later processes redid, and
    /// the bound (records it handled in `window_ms` before its death plus
    /// `prefetch`).
    pub fn check_kills(&self, window_ms: u64, prefetch: usize) -> Vec<KillCheck> {
        let started_at: HashMap<&str, usize> = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), i))
            .collect();
        self.kills
            .iter()
            .map(|kill| {
                let mine: Vec<&Line> = self
                    .lines
                    .iter()
                    .filter(|l| l.done && l.run == kill.run)
                    .collect();
                let committed = |p: i32| kill.committed.get(&p).copied().unwrap_or(0);
                let tail: BTreeSet<(i32, i64)> = mine
                    .iter()
                    .filter(|l| l.offset >= committed(l.partition))
                    .map(|l| (l.partition, l.offset))
                    .collect();
                let since = kill.at_ms.saturating_sub(window_ms as u128);
                let last_window = mine.iter().filter(|l| l.at_ms >= since).count();
                // Handled again by a process started after this one.
                let me = started_at[kill.run.as_str()];
                let later: BTreeSet<(i32, i64)> = self
                    .lines
                    .iter()
                    .filter(|l| l.done && started_at.get(l.run.as_str()).is_some_and(|&i| i > me))
                    .map(|l| (l.partition, l.offset))
                    .collect();
                let mine_set: BTreeSet<(i32, i64)> =
                    mine.iter().map(|l| (l.partition, l.offset)).collect();
                let redone: Vec<&(i32, i64)> = mine_set.intersection(&later).collect();
                KillCheck {
                    run: kill.run.clone(),
                    tail: tail.len(),
                    last_window,
                    bound: last_window + prefetch,
                    redone: redone.len(),
                    redone_below_committed: redone
                        .iter()
                        .filter(|(p, o)| *o < committed(*p))
                        .count(),
                }
            })
            .collect()
    }
}
