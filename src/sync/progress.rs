//! The progress bar of a sync on a terminal: users done of total, interactions and pages per
//! second, throttled requests, and the time left. Off when stderr is not a terminal or with
//! `--no-progress`, so schedulers' logs stay clean.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::graph::client::RequestStats;

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    interactions: u64,
    pages: u64,
    stats: Arc<RequestStats>,
}

impl Progress {
    pub fn new(enabled: bool, users: usize, stats: Arc<RequestStats>) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(users as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} users  {msg}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        });
        Progress { bar, started: Instant::now(), interactions: 0, pages: 0, stats }
    }

    /// Counts one finished user, whatever its outcome.
    pub fn user_done(&mut self, interactions: u64, pages: u64) {
        self.interactions += interactions;
        self.pages += pages;
        let Some(bar) = &self.bar else { return };
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        bar.set_message(format!(
            "{} interactions ({:.0}/s), {} pages ({:.1}/s), {} throttled",
            self.interactions,
            self.interactions as f64 / seconds,
            self.pages,
            self.pages as f64 / seconds,
            self.stats.throttled.load(Ordering::Relaxed),
        ));
        bar.inc(1);
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
