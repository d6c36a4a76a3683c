//! The names of a schedule's runs. They are deterministic, so a restart never starts a run
//! twice (a create answered 409 means it exists): `<schedule>-<unix minutes of the scheduled
//! time>` for scheduled runs, like a CronJob's Jobs, and `<schedule>-m<hash of the trigger
//! value>` for manual runs.

use jiff::Timestamp;

/// `<schedule>-<unix minutes>` of a scheduled run.
pub fn scheduled_run_name(schedule: &str, scheduled: Timestamp) -> String {
    format!("{schedule}-{}", scheduled.as_second().div_euclid(60))
}

/// `<schedule>-m<8 hex digits>` of a manual run: a hash of the trigger value, so the same
/// value names the same run after a restart.
pub fn manual_run_name(schedule: &str, trigger: &str) -> String {
    format!("{schedule}-m{:08x}", fnv1a(trigger.as_bytes()))
}

/// 32-bit FNV-1a: short, stable across releases and platforms.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}
