//! The schedule of a `schedule-trigger` node (semantics §4.3): when it fires.
//!
//! * `config.intervalMinutes`: every so many minutes. The documentation lists 5,
//!   60, 1440, …; any whole number from 1 to ten years' worth is accepted.
//! * `config.cron`: a standard 5-field cron expression (minute, hour, day of
//!   month, month, day of week; names like `MON`/`JAN` and `@daily`-style
//!   nicknames allowed; day of month and day of week OR-ed, as cron does), read
//!   in `config.timezone` — an IANA zone such as `Europe/Berlin`, UTC when not
//!   given. The documentation is silent on cron; this is Osmosis's extension.
//!
//! Exactly one of the two must be given. Anything else (a missing or malformed
//! value, both given, an unknown zone, a cron expression that never fires) is a
//! configuration error of the flow: it is reported in the flow's `errors` and
//! the trigger schedules nothing.
//!
//! The next tick is always computed from a given "now", so a schedule that was
//! not served for a while (the server down) fires once and then keeps its
//! cadence from then on — never a burst of missed ticks.

use chrono::TimeZone;
use croner::parser::{CronParser, Seconds, Year};
use serde_json::Value;

/// The longest interval accepted: ten years of minutes.
pub const MAX_INTERVAL_MINUTES: u64 = 10 * 366 * 24 * 60;

/// When a schedule trigger fires.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every `minutes` minutes, counted from the previous tick.
    Every { minutes: u64 },
    /// At the times a cron expression matches, read in a time zone.
    Cron {
        cron: Box<croner::Cron>,
        zone: chrono_tz::Tz,
    },
}

impl Schedule {
    /// The schedule a `schedule-trigger` node's `config` describes, or what is
    /// wrong with it (a sentence naming the field).
    pub fn of(config: Option<&Value>) -> Result<Schedule, String> {
        let field = |name: &str| config.and_then(|c| c.get(name)).filter(|v| !v.is_null());
        let zone = match field("timezone") {
            None => chrono_tz::Tz::UTC,
            Some(Value::String(z)) => z.parse::<chrono_tz::Tz>().map_err(|_| {
                format!("config.timezone `{z}` is not an IANA time zone (such as `Europe/Berlin`)")
            })?,
            Some(_) => return Err("config.timezone must be a string".into()),
        };
        match (field("intervalMinutes"), field("cron")) {
            (Some(_), Some(_)) => {
                Err("give either config.intervalMinutes or config.cron, not both".into())
            }
            (None, None) => Err(
                "a schedule trigger needs config.intervalMinutes (e.g. 5, 60, 1440) or config.cron"
                    .into(),
            ),
            (Some(minutes), None) => {
                let whole = minutes.as_u64().or_else(|| {
                    minutes
                        .as_f64()
                        .filter(|f| {
                            f.fract() == 0.0 && *f >= 1.0 && *f <= MAX_INTERVAL_MINUTES as f64
                        })
                        .map(|f| f as u64)
                });
                match whole {
                    Some(m) if (1..=MAX_INTERVAL_MINUTES).contains(&m) => {
                        Ok(Schedule::Every { minutes: m })
                    }
                    _ => Err(format!(
                        "config.intervalMinutes must be a whole number of minutes from 1 to {MAX_INTERVAL_MINUTES}, not {minutes}"
                    )),
                }
            }
            (None, Some(Value::String(expr))) => {
                let cron = CronParser::builder()
                    .seconds(Seconds::Disallowed)
                    .year(Year::Disallowed)
                    .build()
                    .parse(expr)
                    .map_err(|e| {
                        format!("config.cron `{expr}` is not a 5-field cron expression: {e}")
                    })?;
                let schedule = Schedule::Cron {
                    cron: Box::new(cron),
                    zone,
                };
                if schedule.next_after(crate::clock::now_ms()).is_none() {
                    return Err(format!("config.cron `{expr}` never fires"));
                }
                Ok(schedule)
            }
            (None, Some(_)) => Err("config.cron must be a string".into()),
        }
    }

    /// The first tick strictly after `now_ms` (milliseconds since the epoch);
    /// `None` when there is none.
    pub fn next_after(&self, now_ms: i64) -> Option<i64> {
        match self {
            Schedule::Every { minutes } => {
                now_ms.checked_add(i64::try_from(*minutes).ok()?.checked_mul(60_000)?)
            }
            Schedule::Cron { cron, zone } => {
                let now = zone.timestamp_millis_opt(now_ms).single()?;
                cron.find_next_occurrence(&now, false)
                    .ok()
                    .map(|t| t.timestamp_millis())
                    .filter(|t| *t > now_ms)
            }
        }
    }
}

/// What is wrong with a `schedule-trigger` node's config, if anything.
pub fn problem(config: Option<&Value>) -> Option<String> {
    Schedule::of(config).err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ms(iso: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(iso)
            .unwrap()
            .timestamp_millis()
    }

    fn iso(ms: i64) -> String {
        crate::clock::iso_of_ms(ms)
    }

    #[test]
    fn an_interval_ticks_that_many_minutes_after_now() {
        let s = Schedule::of(Some(&json!({"intervalMinutes": 60}))).unwrap();
        let now = ms("2026-03-01T10:17:42.500Z");
        assert_eq!(iso(s.next_after(now).unwrap()), "2026-03-01T11:17:42.500Z");
        let five = Schedule::of(Some(&json!({"intervalMinutes": 5.0}))).unwrap();
        assert_eq!(five.next_after(0), Some(300_000));
    }

    #[test]
    fn cron_ticks_are_read_in_the_time_zone() {
        let s = Schedule::of(Some(
            &json!({"cron": "0 9 * * *", "timezone": "America/New_York"}),
        ))
        .unwrap();
        // 07:00 in New York (EST, UTC-5): 09:00 local is 14:00 UTC the same day.
        assert_eq!(
            iso(s.next_after(ms("2026-01-15T12:00:00Z")).unwrap()),
            "2026-01-15T14:00:00.000Z"
        );
        // In summer (EDT, UTC-4) the same local time is 13:00 UTC.
        assert_eq!(
            iso(s.next_after(ms("2026-07-15T12:00:00Z")).unwrap()),
            "2026-07-15T13:00:00.000Z"
        );
        // Already past 09:00 local: the next day.
        assert_eq!(
            iso(s.next_after(ms("2026-01-15T14:00:00Z")).unwrap()),
            "2026-01-16T14:00:00.000Z"
        );
        // Without a zone, UTC.
        let utc = Schedule::of(Some(&json!({"cron": "30 */6 * * MON-FRI"}))).unwrap();
        // Friday 2026-01-16 23:00 UTC: the next is Monday 00:30.
        assert_eq!(
            iso(utc.next_after(ms("2026-01-16T23:00:00Z")).unwrap()),
            "2026-01-19T00:30:00.000Z"
        );
    }

    #[test]
    fn a_tick_is_strictly_after_now() {
        let s = Schedule::of(Some(&json!({"cron": "*/15 * * * *"}))).unwrap();
        assert_eq!(
            iso(s.next_after(ms("2026-01-15T12:15:00Z")).unwrap()),
            "2026-01-15T12:30:00.000Z"
        );
        assert_eq!(
            iso(s.next_after(ms("2026-01-15T12:14:59.999Z")).unwrap()),
            "2026-01-15T12:15:00.000Z"
        );
    }

    #[test]
    fn bad_configs_are_reported() {
        for config in [
            json!({}),
            json!({"intervalMinutes": 0}),
            json!({"intervalMinutes": -5}),
            json!({"intervalMinutes": 2.5}),
            json!({"intervalMinutes": "60"}),
            json!({"intervalMinutes": 60, "cron": "* * * * *"}),
            json!({"cron": "not a cron"}),
            json!({"cron": "0 0 * * * *"}),
            json!({"cron": "61 * * * *"}),
            json!({"cron": "0 0 30 2 *"}),
            json!({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}),
            json!({"cron": 5}),
        ] {
            assert!(
                problem(Some(&config)).is_some(),
                "{config} should be refused"
            );
        }
        assert!(problem(None).is_some());
        assert!(problem(Some(
            &json!({"cron": "@daily", "timezone": "Europe/Berlin"})
        ))
        .is_none());
        assert!(problem(Some(&json!({"intervalMinutes": 1440}))).is_none());
    }
}
