//! Results, their summary per scenario, the targets, and the Markdown and
//! JSON reports. CPU per record (the client process's CPU time over the
//! records of the run) and its ours/raw ratio are reported beside the
//! message rates: on a broker in its own process the rate is often the
//! broker's or the fetcher's pace, while the CPU per record is what the
//! client costs.

use serde::Serialize;

/// One timed run of one side.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// `ours`, `raw`, `sequential`, `ordered-64`...
    pub side: String,
    pub round: u32,
    /// Messages in the timed span.
    pub messages: u64,
    pub seconds: f64,
    pub msgs_per_sec: f64,
    pub mb_per_sec: f64,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    /// Peak RSS during the run (KiB).
    pub peak_rss_kib: Option<u64>,
    /// CPU time the whole process used during the run (the embedded broker
    /// included), in seconds.
    pub cpu_seconds: Option<f64>,
    /// `cpu_seconds` per record, in microseconds.
    pub cpu_us_per_record: Option<f64>,
}

impl Run {
    pub fn new(side: &str, round: u32, messages: u64, seconds: f64, value_size: usize) -> Self {
        let secs = seconds.max(1e-9);
        Run {
            side: side.to_owned(),
            round,
            messages,
            seconds,
            msgs_per_sec: messages as f64 / secs,
            mb_per_sec: messages as f64 * value_size as f64 / secs / 1e6,
            p50_us: None,
            p99_us: None,
            peak_rss_kib: None,
            cpu_seconds: None,
            cpu_us_per_record: None,
        }
    }

    /// Sets the process CPU time of the run, and with it the CPU per record.
    pub fn set_cpu(&mut self, seconds: Option<f64>) {
        self.cpu_seconds = seconds;
        self.cpu_us_per_record = seconds
            .filter(|_| self.messages > 0)
            .map(|s| s * 1e6 / self.messages as f64);
    }
}

/// Medians over the rounds of one side.
#[derive(Debug, Clone, Serialize)]
pub struct SideSummary {
    pub side: String,
    pub rounds: usize,
    pub msgs_per_sec: f64,
    pub mb_per_sec: f64,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    /// The largest peak over the rounds.
    pub peak_rss_kib: Option<u64>,
    /// Median over the rounds of the process CPU per record (µs).
    pub cpu_us_per_record: Option<f64>,
}

/// A target of issue #7 and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub wanted: String,
    pub measured: String,
    pub met: bool,
}

/// Everything measured for one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: String,
    pub what: String,
    pub runs: Vec<Run>,
    pub sides: Vec<SideSummary>,
    /// Median over rounds of (first side / second side) message rates.
    pub ratio: Option<f64>,
    /// Median over rounds of (first side / second side) CPU per record.
    pub cpu_ratio: Option<f64>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
    pub error: Option<String>,
}

impl Scenario {
    pub fn new(name: &str, what: &str) -> Self {
        Scenario {
            name: name.to_owned(),
            what: what.to_owned(),
            runs: Vec::new(),
            sides: Vec::new(),
            ratio: None,
            cpu_ratio: None,
            targets: Vec::new(),
            notes: Vec::new(),
            error: None,
        }
    }

    /// Fills `sides` and `ratio` from `runs`; `a` over `b` is the ratio.
    pub fn summarise(&mut self, a: &str, b: &str) {
        let mut names: Vec<String> = Vec::new();
        for run in &self.runs {
            if !names.contains(&run.side) {
                names.push(run.side.clone());
            }
        }
        self.sides = names
            .iter()
            .map(|side| {
                let runs: Vec<&Run> = self.runs.iter().filter(|r| &r.side == side).collect();
                SideSummary {
                    side: side.clone(),
                    rounds: runs.len(),
                    msgs_per_sec: median(runs.iter().map(|r| r.msgs_per_sec).collect()),
                    mb_per_sec: median(runs.iter().map(|r| r.mb_per_sec).collect()),
                    p50_us: median_u64(runs.iter().filter_map(|r| r.p50_us).collect()),
                    p99_us: median_u64(runs.iter().filter_map(|r| r.p99_us).collect()),
                    peak_rss_kib: runs.iter().filter_map(|r| r.peak_rss_kib).max(),
                    cpu_us_per_record: {
                        let cpu: Vec<f64> =
                            runs.iter().filter_map(|r| r.cpu_us_per_record).collect();
                        (!cpu.is_empty()).then(|| median(cpu))
                    },
                }
            })
            .collect();
        let ratios: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.side == a)
            .filter_map(|ra| {
                self.runs
                    .iter()
                    .find(|rb| rb.side == b && rb.round == ra.round)
                    .map(|rb| ra.msgs_per_sec / rb.msgs_per_sec.max(1e-9))
            })
            .collect();
        if !ratios.is_empty() {
            self.ratio = Some(median(ratios));
        }
        let cpu_ratios: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.side == a)
            .filter_map(|ra| {
                let rb = self
                    .runs
                    .iter()
                    .find(|rb| rb.side == b && rb.round == ra.round)?;
                Some(ra.cpu_us_per_record? / rb.cpu_us_per_record?.max(1e-9))
            })
            .collect();
        if !cpu_ratios.is_empty() {
            self.cpu_ratio = Some(median(cpu_ratios));
        }
    }

    pub fn side(&self, name: &str) -> Option<&SideSummary> {
        self.sides.iter().find(|s| s.side == name)
    }

    /// Adds a "CPU per record at most `max` times the other side's" target.
    pub fn cpu_ratio_target(&mut self, name: &str, max: f64) {
        if let Some(ratio) = self.cpu_ratio {
            self.targets.push(Target {
                name: name.to_owned(),
                wanted: format!("<= {max:.2}x"),
                measured: format!("{ratio:.3}x"),
                met: ratio <= max,
            });
        }
    }

    /// Adds a "ratio at least `min`" target.
    pub fn ratio_target(&mut self, name: &str, min: f64) {
        if let Some(ratio) = self.ratio {
            self.targets.push(Target {
                name: name.to_owned(),
                wanted: format!(">= {min:.2}x"),
                measured: format!("{ratio:.3}x"),
                met: ratio >= min,
            });
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub broker: String,
    pub storage: String,
    pub bootstrap: String,
    pub command: String,
    pub rounds: u32,
    pub profile: String,
    pub cpus: usize,
    /// /proc/loadavg when the bench started and ended.
    pub load_before: String,
    pub load_after: String,
    pub scenarios: Vec<Scenario>,
}

impl Report {
    pub fn targets_met(&self) -> bool {
        self.scenarios
            .iter()
            .all(|s| s.targets.iter().all(|t| t.met))
    }

    pub fn errors(&self) -> Vec<String> {
        self.scenarios
            .iter()
            .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.name)))
            .collect()
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("# kafka-bench report\n\n");
        out.push_str(&format!(
            "- broker: {} (storage: {}), bootstrap {}\n- command: `{}`\n- build profile: {}, rounds: {} (interleaved; medians of rounds), CPUs: {}\n- load average before / after: {} / {}\n\n",
            self.broker, self.storage, self.bootstrap, self.command, self.profile, self.rounds, self.cpus,
            self.load_before, self.load_after
        ));
        out.push_str("| scenario | side | msg/s | MB/s | ratio | CPU/record | CPU ratio | p50 | p99 | peak RSS |\n");
        out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for s in &self.scenarios {
            if let Some(e) = &s.error {
                out.push_str(&format!(
                    "| {} | error | {} | | | | | | | |\n",
                    s.name,
                    e.replace('|', "/")
                ));
                continue;
            }
            for (i, side) in s.sides.iter().enumerate() {
                let first = |r: Option<f64>| match (i, r) {
                    (0, Some(r)) => format!("{r:.3}x"),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "| {} | {} | {:.0} | {:.2} | {} | {} | {} | {} | {} | {} |\n",
                    if i == 0 { s.name.as_str() } else { "" },
                    side.side,
                    side.msgs_per_sec,
                    side.mb_per_sec,
                    first(s.ratio),
                    side.cpu_us_per_record
                        .map_or(String::new(), |c| format!("{c:.2} µs")),
                    first(s.cpu_ratio),
                    micros(side.p50_us),
                    micros(side.p99_us),
                    side.peak_rss_kib
                        .map_or(String::new(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
                ));
            }
        }
        out.push_str("\n## Targets\n\n| scenario | target | wanted | measured | result |\n|---|---|---|---|---|\n");
        for s in &self.scenarios {
            for t in &s.targets {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    s.name,
                    t.name,
                    t.wanted,
                    t.measured,
                    if t.met { "met" } else { "MISSED" }
                ));
            }
        }
        out.push_str("\n## Scenarios\n\n");
        for s in &self.scenarios {
            out.push_str(&format!("- **{}**: {}\n", s.name, s.what));
            for n in &s.notes {
                out.push_str(&format!("  - {n}\n"));
            }
        }
        out.push_str("\n## Rounds\n\n| scenario | round | side | messages | seconds | msg/s | p50 | p99 | peak RSS | process CPU s | CPU/record |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for s in &self.scenarios {
            for r in &s.runs {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {:.3} | {:.0} | {} | {} | {} | {} | {} |\n",
                    s.name,
                    r.round,
                    r.side,
                    r.messages,
                    r.seconds,
                    r.msgs_per_sec,
                    micros(r.p50_us),
                    micros(r.p99_us),
                    r.peak_rss_kib
                        .map_or(String::new(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
                    r.cpu_seconds.map_or(String::new(), |c| format!("{c:.2}")),
                    r.cpu_us_per_record
                        .map_or(String::new(), |c| format!("{c:.2} µs")),
                ));
            }
        }
        out
    }
}

fn micros(v: Option<u64>) -> String {
    match v {
        None => String::new(),
        Some(us) if us >= 10_000 => format!("{:.1} ms", us as f64 / 1000.0),
        Some(us) => format!("{us} µs"),
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn median_u64(v: Vec<u64>) -> Option<u64> {
    if v.is_empty() {
        None
    } else {
        Some(median(v.into_iter().map(|x| x as f64).collect()).round() as u64)
    }
}
