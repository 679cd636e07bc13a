//! Named crash points for the crash tests. When `COPILOT_LAKE_FAILPOINT` names a point, the
//! process aborts there, as a SIGKILL would stop it, so tests can stop a run between any two
//! commit steps. Unset, a point costs one environment lookup.

/// The environment variable that names the point to abort at.
pub const FAILPOINT_ENV: &str = "COPILOT_LAKE_FAILPOINT";

/// Aborts the process if `name` is the configured failpoint.
pub fn hit(name: &str) {
    if std::env::var(FAILPOINT_ENV).is_ok_and(|point| point == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}
