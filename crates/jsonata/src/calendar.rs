//! Proleptic Gregorian calendar arithmetic on UTC milliseconds since the epoch, as
//! JavaScript's `Date` does it. Two evaluators need it: jsonata's date-time functions
//! (`$fromMillis`, `$toMillis`, in `functions::datetime` and `functions::misc`) and
//! the runtime's V8 `Date.parse` (osmosis-runtime's `dates`). It lives here because
//! the runtime depends on this crate, not the other way round, so the one copy can
//! serve both.
//!
//! Day-number conversions are Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (exact for every `i64` day that a `Date` can hold); nothing here knows about
//! time zones: callers shift by an offset before or after.

/// Milliseconds in a day (a `Date` has no leap seconds).
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of the date `y`-`m`-`d` (`m` 1–12, `d` counted from 1;
/// a `d` past the month's end rolls into the next month).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month 1–12, day 1–31)` of day `z` since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// ECMAScript's `MakeDay(year, month, date)`: days since the epoch, with `month`
/// counted from 0 and allowed to overflow into the years (month 12 is January of
/// the next year, -1 December of the one before). Years beyond ±400,000 (far past
/// what a `Date` holds) give infinity, which every caller reads as an invalid date.
pub fn make_day(year: f64, month: f64, date: f64) -> f64 {
    let ym = year + (month / 12.0).floor();
    let mn = month.rem_euclid(12.0);
    if ym.abs() > 400_000.0 {
        return f64::INFINITY;
    }
    days_from_civil(ym as i64, mn as i64 + 1, 1) as f64 + date - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_across_eras() {
        for (y, m, d, days) in [
            (1970, 1, 1, 0),
            (2000, 3, 1, 11_017),
            (1969, 12, 31, -1),
            (-1, 12, 31, -719_529),
            (2024, 2, 29, 19_782),
        ] {
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
            assert_eq!(civil_from_days(days), (y, m, d), "{days}");
        }
        // A day past the month's end rolls over, as `Date.UTC(2024, 1, 30)` does.
        assert_eq!(days_from_civil(2024, 2, 30), days_from_civil(2024, 3, 1));
    }

    #[test]
    fn make_day_normalises_months_and_refuses_far_years() {
        assert_eq!(
            make_day(2024.0, 12.0, 1.0),
            days_from_civil(2025, 1, 1) as f64
        );
        assert_eq!(
            make_day(2024.0, -1.0, 1.0),
            days_from_civil(2023, 12, 1) as f64
        );
        assert_eq!(
            make_day(2024.0, 0.0, 0.0),
            days_from_civil(2023, 12, 31) as f64
        );
        assert_eq!(make_day(500_000.0, 0.0, 1.0), f64::INFINITY);
    }
}
