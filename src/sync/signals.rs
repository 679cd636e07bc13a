//! Graceful stop on SIGINT and SIGTERM. The first signal stops the run from starting new users;
//! users already being read finish and are committed. A second signal exits at once, which is
//! safe because the commit protocol repairs any interrupted commit on the next run.

use tokio::sync::watch;

/// Which signal asked the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StopSignal {
    Sigint,
    Sigterm,
}

impl StopSignal {
    /// The conventional exit code of a process stopped by the signal: 128 plus its number.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Sigint => 130,
            StopSignal::Sigterm => 143,
        }
    }
}

/// A handle that reports whether a stop was requested.
#[derive(Clone)]
pub struct StopFlag(watch::Receiver<Option<StopSignal>>);

impl StopFlag {
    /// A flag that never fires, for runs without signal handling (the demo, tests).
    pub fn never() -> Self {
        let (sender, receiver) = watch::channel(None);
        // The receiver keeps the last value when the sender is gone.
        drop(sender);
        StopFlag(receiver)
    }

    pub fn requested(&self) -> Option<StopSignal> {
        *self.0.borrow()
    }
}

/// Installs the handlers and returns the flag they set.
pub fn install() -> StopFlag {
    let (sender, receiver) = watch::channel(None);
    let mut signals = match Signals::new() {
        Ok(signals) => signals,
        Err(error) => {
            tracing::warn!(error = %error, "cannot install signal handlers; a signal stops the run at once");
            return StopFlag(receiver);
        }
    };
    tokio::spawn(async move {
        let mut stops = 0;
        while let Some(signal) = signals.next().await {
            stops += 1;
            if stops > 1 {
                tracing::error!(signal = ?signal, "second stop signal: exiting now; the next run finishes any interrupted commit");
                std::process::exit(i32::from(signal.exit_code()));
            }
            tracing::warn!(signal = ?signal, "stop requested: finishing the users in flight, then committing them; send the signal again to exit at once");
            let _ = sender.send(Some(signal));
        }
    });
    StopFlag(receiver)
}

#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
    }

    async fn next(&mut self) -> Option<StopSignal> {
        tokio::select! {
            received = self.interrupt.recv() => received.map(|()| StopSignal::Sigint),
            received = self.terminate.recv() => received.map(|()| StopSignal::Sigterm),
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Self> {
        Ok(Signals)
    }

    async fn next(&mut self) -> Option<StopSignal> {
        tokio::signal::ctrl_c().await.ok()?;
        Some(StopSignal::Sigint)
    }
}
