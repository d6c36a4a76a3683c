//! The cron patterns of LocustTestSchedules: five fields (minute, hour, day of month, month,
//! day of week) or a nickname (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`), read in
//! an IANA time zone.
//!
//! Daylight saving time follows the Open Cron Pattern Specification (croner): a fixed time that
//! a spring-forward skips runs at the first instant after the gap (02:30 becomes 03:00 on that
//! day); a fixed time that a fall-back repeats runs once, at its first occurrence. Patterns with
//! a wildcard or step in the hour run in both repeated hours.

use std::str::FromStr;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Zone of a schedule that names none.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// Why a schedule's pattern or zone cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CronError {
    #[error(
        "schedule {pattern:?} is not a cron pattern of five fields (minute hour day-of-month month day-of-week) or a nickname such as @hourly or @daily: {source}"
    )]
    Pattern {
        pattern: String,
        #[source]
        source: croner::errors::CronError,
    },
    #[error("timeZone {zone:?} is not an IANA time zone name such as Europe/Berlin or UTC")]
    TimeZone {
        zone: String,
        #[source]
        source: jiff::Error,
    },
}

/// A parsed pattern with its zone.
#[derive(Clone, Debug)]
pub struct CronSchedule {
    cron: Cron,
    zone: TimeZone,
}

impl CronSchedule {
    /// Parses `pattern` (5 fields or a nickname; no seconds, no years) in `zone` (IANA name;
    /// UTC when `None`).
    pub fn parse(pattern: &str, zone: Option<&str>) -> Result<Self, CronError> {
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(pattern).map_err(|source| CronError::Pattern {
            pattern: pattern.to_string(),
            source,
        })?;
        let zone_name = zone.unwrap_or(DEFAULT_TIME_ZONE);
        let zone = TimeZone::get(zone_name).map_err(|source| CronError::TimeZone {
            zone: zone_name.to_string(),
            source,
        })?;
        Ok(CronSchedule { cron, zone })
    }

    /// The first scheduled time strictly after `after`; `None` for a pattern that never
    /// matches again (30 February).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.cron
            .find_next_occurrence(&after.to_zoned(self.zone.clone()), false)
            .ok()
            .map(|z| z.timestamp())
    }

    /// The latest scheduled time in `(after, until]`, and how many there are in that span
    /// (counted up to `cap`).
    pub fn latest_between(
        &self,
        after: Timestamp,
        until: Timestamp,
        cap: usize,
    ) -> (Option<Timestamp>, usize) {
        let latest = self
            .cron
            .find_previous_occurrence(&until.to_zoned(self.zone.clone()), true)
            .ok()
            .map(|z| z.timestamp())
            .filter(|t| *t > after);
        let Some(latest) = latest else {
            return (None, 0);
        };
        let mut count = 0;
        let mut cursor = after;
        while count < cap {
            match self.next_after(cursor) {
                Some(t) if t <= until => {
                    count += 1;
                    cursor = t;
                }
                _ => break,
            }
        }
        (Some(latest), count)
    }
}

impl FromStr for CronSchedule {
    type Err = CronError;

    /// A pattern in UTC.
    fn from_str(pattern: &str) -> Result<Self, CronError> {
        CronSchedule::parse(pattern, None)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(pattern: &str, zone: &str, after: &str) -> String {
        let schedule = CronSchedule::parse(pattern, Some(zone)).unwrap();
        schedule.next_after(at(after)).unwrap().to_string()
    }

    #[test]
    fn five_fields_and_nicknames_parse_and_others_are_refused() {
        for good in [
            "* * * * *",
            "*/15 9-17 * * MON-FRI",
            "0 3 1 * *",
            "@hourly",
            "@daily",
        ] {
            assert!(CronSchedule::parse(good, None).is_ok(), "{good}");
        }
        for bad in [
            "",
            "* * * *",
            "0 * * * * *",
            "61 * * * *",
            "@sometimes",
            "x y z a b",
        ] {
            let error = CronSchedule::parse(bad, None).unwrap_err();
            assert!(matches!(error, CronError::Pattern { .. }), "{bad}");
            assert!(error.to_string().contains("five fields"), "{error}");
        }
    }

    #[test]
    fn unknown_time_zone_is_refused_with_its_name() {
        let error = CronSchedule::parse("@daily", Some("Mars/Olympus")).unwrap_err();
        assert!(matches!(error, CronError::TimeZone { .. }));
        assert!(error.to_string().contains("Mars/Olympus"));
    }

    #[test]
    fn nicknames_mean_what_cron_means() {
        assert_eq!(
            next("@hourly", "UTC", "2026-03-01T10:15:00Z"),
            "2026-03-01T11:00:00Z"
        );
        assert_eq!(
            next("@daily", "UTC", "2026-03-01T10:15:00Z"),
            "2026-03-02T00:00:00Z"
        );
    }

    #[test]
    fn time_zone_moves_the_hour() {
        // 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
        assert_eq!(
            next("0 9 * * *", "Europe/Berlin", "2026-01-10T12:00:00Z"),
            "2026-01-11T08:00:00Z"
        );
        assert_eq!(
            next("0 9 * * *", "Europe/Berlin", "2026-07-10T12:00:00Z"),
            "2026-07-11T07:00:00Z"
        );
        assert_eq!(
            next("0 9 * * *", "America/New_York", "2026-01-10T20:00:00Z"),
            "2026-01-11T14:00:00Z"
        );
    }

    #[test]
    fn a_time_skipped_by_spring_forward_runs_right_after_the_gap() {
        // New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
        assert_eq!(
            next("30 2 * * *", "America/New_York", "2026-03-08T05:00:00Z"),
            // 03:00 EDT, the first instant after the gap.
            "2026-03-08T07:00:00Z"
        );
        // The day after, 02:30 exists again (EDT).
        assert_eq!(
            next("30 2 * * *", "America/New_York", "2026-03-08T12:00:00Z"),
            "2026-03-09T06:30:00Z"
        );
    }

    #[test]
    fn a_time_repeated_by_fall_back_runs_once() {
        // New York, 1 November 2026: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let schedule = CronSchedule::parse("30 1 * * *", Some("America/New_York")).unwrap();
        let first = schedule.next_after(at("2026-11-01T04:00:00Z")).unwrap();
        assert_eq!(first.to_string(), "2026-11-01T05:30:00Z"); // 01:30 EDT
        let second = schedule.next_after(first).unwrap();
        assert_eq!(second.to_string(), "2026-11-02T06:30:00Z"); // next day, 01:30 EST
        // An hourly pattern runs in both repeated hours.
        let hourly = CronSchedule::parse("0 * * * *", Some("America/New_York")).unwrap();
        let (_, count) =
            hourly.latest_between(at("2026-11-01T04:30:00Z"), at("2026-11-01T07:30:00Z"), 10);
        assert_eq!(count, 3); // 01:00 EDT, 01:00 EST, 02:00 EST
    }

    #[test]
    fn latest_between_finds_the_most_recent_missed_time_and_counts() {
        let schedule: CronSchedule = "*/10 * * * *".parse().unwrap();
        let (latest, count) =
            schedule.latest_between(at("2026-03-01T10:00:00Z"), at("2026-03-01T10:35:00Z"), 100);
        assert_eq!(latest, Some(at("2026-03-01T10:30:00Z")));
        assert_eq!(count, 3);
        // The end is included, the start is not.
        let (latest, count) =
            schedule.latest_between(at("2026-03-01T10:00:00Z"), at("2026-03-01T10:10:00Z"), 100);
        assert_eq!((latest, count), (Some(at("2026-03-01T10:10:00Z")), 1));
        let (latest, count) =
            schedule.latest_between(at("2026-03-01T10:00:00Z"), at("2026-03-01T10:09:59Z"), 100);
        assert_eq!((latest, count), (None, 0));
        // The count stops at the cap.
        let (_, count) =
            schedule.latest_between(at("2026-03-01T00:00:00Z"), at("2026-03-02T00:00:00Z"), 5);
        assert_eq!(count, 5);
    }
}
