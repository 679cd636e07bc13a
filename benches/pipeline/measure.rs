//! Process measurements read from /proc (no unsafe code, so no getrusage): CPU time, peak RSS and
//! the load average, and the median of repeated runs.

use std::sync::OnceLock;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The line prefix a child process puts before its JSON result on stdout.
pub const RESULT_PREFIX: &str = "BENCH-RESULT ";

/// Returns the rate of the ticks in which /proc reports `utime` and `stime` (USER_HZ), from
/// `getconf CLK_TCK` because `sysconf` needs unsafe code; 100, Linux's value on x86-64 and
/// arm64, when getconf fails.
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        let output = std::process::Command::new("getconf").arg("CLK_TCK").output().ok();
        let text = output.map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
        text.and_then(|text| text.parse().ok()).filter(|ticks: &f64| *ticks > 0.0).unwrap_or(100.0)
    })
}

/// The measurements of one run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunResult {
    pub wall_seconds: f64,
    /// User plus system CPU time of the whole process, all threads.
    pub cpu_seconds: f64,
    /// VmHWM: the process's peak resident set size.
    pub peak_rss_mib: f64,
    pub interactions: u64,
    /// Bytes of Graph page JSON read; 0 where the run does not count them.
    pub json_bytes: u64,
    pub files: u64,
}

impl RunResult {
    pub fn interactions_per_second(&self) -> f64 {
        self.interactions as f64 / self.wall_seconds
    }

    pub fn json_mb_per_second(&self) -> f64 {
        self.json_bytes as f64 / 1e6 / self.wall_seconds
    }

    pub fn cpu_seconds_per_million(&self) -> f64 {
        self.cpu_seconds / (self.interactions as f64 / 1e6)
    }

    /// CPU time as a share of one core over the run's wall time.
    pub fn core_share(&self) -> f64 {
        self.cpu_seconds / self.wall_seconds
    }
}

/// A stopwatch over wall and CPU time of this process.
pub struct Stopwatch {
    started: Instant,
    cpu_at_start: f64,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch { started: Instant::now(), cpu_at_start: cpu_seconds() }
    }

    /// Returns the run's result with the time since `start` and the process's peak RSS.
    pub fn stop(&self, interactions: u64, json_bytes: u64, files: u64) -> RunResult {
        RunResult {
            wall_seconds: self.started.elapsed().as_secs_f64(),
            cpu_seconds: cpu_seconds() - self.cpu_at_start,
            peak_rss_mib: peak_rss_mib(),
            interactions,
            json_bytes,
            files,
        }
    }
}

/// User plus system CPU seconds of this process: fields 14 and 15 of /proc/self/stat.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) is in parentheses and may hold spaces; count after it.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
    // After the name, field 3 (state) has index 0, so utime (14) and stime (15) are 11 and 12.
    (ticks(11) + ticks(12)) / ticks_per_second()
}

/// VmHWM of this process in MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Returns the 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|value| value.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// Returns the median of `values` (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[middle],
        _ => (values[middle - 1] + values[middle]) / 2.0,
    }
}

/// Prints one result as a line the parent reads.
pub fn report(result: &RunResult) {
    let json = serde_json::to_string(result).unwrap_or_default();
    println!("{RESULT_PREFIX}{json}");
}
