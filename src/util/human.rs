//! Docker's human-readable units, a faithful port of `github.com/docker/go-units`:
//! sizes such as `181MB` (`HumanSizeWithPrecision(size, 3)`, which Docker uses for
//! `images`, `ps --size`, `history` and `system df`) and durations such as
//! `25 minutes` (`HumanDuration`, used for `CREATED` / `STATUS` columns).
//!
//! This module is a leaf: it uses nothing else of the crate.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Decimal unit abbreviations, as in go-units' `decimapAbbrs`.
const DECIMAL_ABBRS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// Formats a byte count the way Docker does (`units.HumanSizeWithPrecision(size, 3)`).
///
/// The size is divided by 1000 while it is at least 1000 (floating point, like Go),
/// then printed with Go's `%.3g` followed by the unit: `181234567` → `"181MB"`,
/// `1500` → `"1.5kB"`, `0` → `"0B"`. Go's `%g` quirks are kept, so `999999` prints
/// `"1e+03kB"` exactly like Docker.
pub fn size(bytes: u64) -> String {
    size_with_precision(bytes, 3)
}

/// `units.HumanSize` (precision 4), which Docker's pull and push progress use:
/// `12345678` → `"12.35MB"`.
pub fn size_precise(bytes: u64) -> String {
    size_with_precision(bytes, 4)
}

fn size_with_precision(bytes: u64, precision: usize) -> String {
    // Go converts the integer to float64 first; `as` rounds to nearest like Go does.
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < DECIMAL_ABBRS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", format_g(value, precision), DECIMAL_ABBRS[unit])
}

/// Whole seconds as Go's `time.Duration.String()` prints them: `0s`, `45s`, `1m5s`,
/// `2h0m3s` (Docker's time-left estimate in a progress bar).
pub fn go_seconds(seconds: u64) -> String {
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

/// Binary unit abbreviations, as in go-units' `binaryAbbrs`.
const BINARY_ABBRS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// Formats a byte count in binary units the way Docker's `stats` does (`units.BytesSize`:
/// `%.4g` of the size divided by 1024 while at least 1024): `2048000` → `"1.953MiB"`.
pub fn binary_size(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < BINARY_ABBRS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{}{}", format_g(value, 4), BINARY_ABBRS[unit])
}

/// Formats a duration the way Docker does (`units.HumanDuration`).
///
/// `"Less than a second"`, `"1 second"`, `"N seconds"`, `"About a minute"`,
/// `"N minutes"`, `"About an hour"`, `"N hours"` (hours are rounded to the nearest hour
/// from here on), `"N days"`, `"N weeks"`, `"N months"` and `"N years"`. Durations longer
/// than Go's `time.Duration` can hold (about 292 years) are clamped to that maximum.
pub fn duration(d: Duration) -> String {
    let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    let seconds = go_units(nanos, 1_000_000_000) as i64;
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = go_units(nanos, 60 * 1_000_000_000) as i64;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let exact_hours = go_units(nanos, 3600 * 1_000_000_000);
    let hours = (exact_hours + 0.5) as i64;
    if hours == 1 {
        "About an hour".to_string()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", exact_hours as i64 / 24 / 365)
    }
}

/// Formats how long ago `then` was, relative to `now`, like Docker's `CreatedSince`:
/// `duration(now - then) + " ago"`. A `then` in the future gives `"Less than a second ago"`.
pub fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let elapsed = now
        .signed_duration_since(then)
        .to_std()
        .unwrap_or(Duration::ZERO);
    format!("{} ago", duration(elapsed))
}

/// Go's `Duration.Seconds()`/`Minutes()`/`Hours()`: whole units plus the remainder as
/// a fraction, computed in float64 exactly as Go does.
#[allow(clippy::cast_precision_loss)]
fn go_units(nanos: i64, unit: i64) -> f64 {
    (nanos / unit) as f64 + (nanos % unit) as f64 / unit as f64
}

/// Go's `fmt.Sprintf("%.*g", prec, value)` for finite values: `prec` significant digits,
/// correctly rounded (ties to even on the exact binary value), trailing zeros removed,
/// exponent form when the exponent is below -4 or at least the precision.
fn format_g(value: f64, prec: usize) -> String {
    let prec = prec.max(1);
    let negative = value.is_sign_negative();
    let (digits, dp) = round_digits(value.abs(), prec);
    let nd = digits.len();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    // strconv's %g decision, see formatDigits in strconv/ftoa.go.
    let mut eprec = prec;
    if eprec > nd && nd as i64 >= dp {
        eprec = nd;
    }
    let exp = dp - 1;
    if exp < -4 || exp >= eprec as i64 {
        let p = prec.min(nd);
        fmt_e(&mut out, &digits, dp, p.saturating_sub(1));
    } else {
        let p = if prec as i64 > dp { nd } else { prec };
        fmt_f(&mut out, &digits, dp, (p as i64 - dp).max(0) as usize);
    }
    out
}

/// Decimal digits of `value` (non-negative, finite) rounded to `prec` significant digits,
/// without trailing zeros, and the decimal point position (value = 0.DIGITS × 10^dp).
/// Zero yields no digits and `dp == 0`, like Go.
fn round_digits(value: f64, prec: usize) -> (Vec<u8>, i64) {
    if value == 0.0 {
        return (Vec::new(), 0);
    }
    // Rust's exact-precision formatting is correctly rounded with ties to even,
    // the same guarantee Go's strconv gives.
    let text = format!("{:.*e}", prec - 1, value);
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exponent + 1)
}

/// strconv's `%e` rendering: `d.ddde±dd`.
fn fmt_e(out: &mut String, digits: &[u8], dp: i64, prec: usize) {
    out.push(digits.first().map_or('0', |&d| char::from(d)));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(digits.get(i).map_or('0', |&d| char::from(d)));
        }
    }
    out.push('e');
    let exp = if digits.is_empty() { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.unsigned_abs();
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

/// strconv's `%f` rendering with `prec` digits after the point.
fn fmt_f(out: &mut String, digits: &[u8], dp: i64, prec: usize) {
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(digits.get(i).map_or('0', |&d| char::from(d)));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i64 {
            let j = dp + i - 1;
            let digit = usize::try_from(j).ok().and_then(|j| digits.get(j));
            out.push(digit.map_or('0', |&d| char::from(d)));
        }
    }
}

/// Go's `time.Duration.String`: `0s`, `1.5s`, `1m30s`, `1h0m0s`, `500ms`.
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let fixed = |value: u64, digits: u32| {
        let unit = 10u64.pow(digits);
        let fraction = format!("{:0width$}", value % unit, width = digits as usize);
        let fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            format!("{}", value / unit)
        } else {
            format!("{}.{fraction}", value / unit)
        }
    };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    if n < 1_000_000 {
        return format!("{sign}{}µs", fixed(n, 3));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", fixed(n, 6));
    }
    let hours = n / 3_600_000_000_000;
    let minutes = n / 60_000_000_000 % 60;
    let seconds = fixed(n % 60_000_000_000, 9);
    match (hours, minutes) {
        (0, 0) => format!("{sign}{seconds}s"),
        (0, m) => format!("{sign}{m}m{seconds}s"),
        (h, m) => format!("{sign}{h}h{m}m{seconds}s"),
    }
}

/// Go's `time.ParseDuration`: an optional sign, then one or more decimal numbers each with a
/// unit among `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`; `0` alone is also valid. In
/// nanoseconds (`logs --since 10m`, HEALTHCHECK `--interval=30s`).
pub fn parse_go_duration(text: &str) -> Option<i64> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return None;
        }
        let unit_nanos: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(unit_nanos)?;
        let mut scale = unit_nanos;
        for digit in fraction.bytes().take(30) {
            scale /= 10;
            part += i128::from(digit - b'0') * scale;
        }
        total = total.checked_add(part)?;
        rest = after;
    }
    i64::try_from(if negative { -total } else { total }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn size_examples_from_the_brief() {
        assert_eq!(size(181_234_567), "181MB");
        assert_eq!(size(1500), "1.5kB");
        assert_eq!(size(4_860_000), "4.86MB");
        assert_eq!(size(0), "0B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(12345), "12.3kB");
    }

    #[test]
    fn size_go_rounding_edge_gives_exponent_form() {
        // 999.999kB rounds to 1000 at three digits; Go's %g then switches to %e.
        assert_eq!(size(999_999), "1e+03kB");
        assert_eq!(size(999_500), "1e+03kB");
        assert_eq!(size(999_499), "999kB");
        assert_eq!(size(999_999_999), "1e+03MB");
    }

    #[test]
    fn size_every_unit() {
        assert_eq!(size(1), "1B");
        assert_eq!(size(1000), "1kB");
        assert_eq!(size(1024), "1.02kB");
        assert_eq!(size(1_000_000), "1MB");
        assert_eq!(size(1_048_576), "1.05MB");
        assert_eq!(size(2_000_000_000), "2GB");
        assert_eq!(size(3_420_000_000), "3.42GB");
        assert_eq!(size(5_372_000_000_000), "5.37TB");
        assert_eq!(size(2_220_000_000_000_000), "2.22PB");
        assert_eq!(size(7_000_000_000_000_000_000), "7EB");
        assert_eq!(size(u64::MAX), "18.4EB");
    }

    #[test]
    fn size_rounds_ties_to_even_like_go() {
        // 1125/1000 is exactly 1.125 in binary: a true tie, Go rounds to even.
        assert_eq!(size(1125), "1.12kB");
        assert_eq!(size(1135), "1.14kB");
        assert_eq!(size(12_250), "12.2kB");
        assert_eq!(size(100_000), "100kB");
        assert_eq!(size(10_000), "10kB");
        assert_eq!(size(10_050), "10.1kB");
    }

    #[test]
    fn precise_sizes_and_go_seconds() {
        assert_eq!(size_precise(12_345_678), "12.35MB");
        assert_eq!(size_precise(45_600_000), "45.6MB");
        assert_eq!(size_precise(1024), "1.024kB");
        assert_eq!(go_seconds(0), "0s");
        assert_eq!(go_seconds(65), "1m5s");
        assert_eq!(go_seconds(7203), "2h0m3s");
    }

    #[test]
    fn format_g_general_cases() {
        assert_eq!(format_g(0.0, 3), "0");
        assert_eq!(format_g(0.0001234, 3), "0.000123");
        assert_eq!(format_g(0.00001234, 3), "1.23e-05");
        assert_eq!(format_g(-1.5, 3), "-1.5");
        assert_eq!(format_g(123_456.0, 3), "1.23e+05");
        assert_eq!(format_g(1e100, 3), "1e+100");
        assert_eq!(format_g(100.0, 3), "100");
        assert_eq!(format_g(2.0, 4), "2");
        assert_eq!(format_g(1.0486, 4), "1.049");
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn duration_seconds_and_minutes() {
        assert_eq!(duration(Duration::from_millis(450)), "Less than a second");
        assert_eq!(duration(Duration::ZERO), "Less than a second");
        assert_eq!(duration(secs(1)), "1 second");
        assert_eq!(duration(Duration::from_millis(1999)), "1 second");
        assert_eq!(duration(secs(47)), "47 seconds");
        assert_eq!(duration(secs(59)), "59 seconds");
        assert_eq!(duration(secs(60)), "About a minute");
        assert_eq!(duration(secs(119)), "About a minute");
        assert_eq!(duration(secs(3 * 60)), "3 minutes");
        assert_eq!(duration(secs(35 * 60 + 40)), "35 minutes");
        assert_eq!(duration(secs(59 * 60 + 59)), "59 minutes");
    }

    #[test]
    fn duration_hours_round_to_nearest() {
        let hour = 3600;
        assert_eq!(duration(secs(hour)), "About an hour");
        assert_eq!(duration(secs(hour + 29 * 60)), "About an hour");
        assert_eq!(duration(secs(hour + 31 * 60)), "2 hours");
        assert_eq!(duration(secs(hour + 59 * 60)), "2 hours");
        assert_eq!(duration(secs(3 * hour + 29 * 60)), "3 hours");
        assert_eq!(duration(secs(3 * hour + 31 * 60)), "4 hours");
        assert_eq!(duration(secs(24 * hour)), "24 hours");
        assert_eq!(duration(secs(36 * hour)), "36 hours");
        assert_eq!(duration(secs(47 * hour + 29 * 60)), "47 hours");
    }

    #[test]
    fn duration_days_weeks_months_years() {
        let day = 24 * 3600;
        let week = 7 * day;
        let month = 30 * day;
        let year = 365 * day;
        // 47.5 hours rounds to 48: days.
        assert_eq!(duration(secs(47 * 3600 + 30 * 60)), "2 days");
        assert_eq!(duration(secs(2 * day)), "2 days");
        assert_eq!(duration(secs(7 * day)), "7 days");
        assert_eq!(duration(secs(13 * day + 5 * 3600)), "13 days");
        assert_eq!(duration(secs(2 * week)), "2 weeks");
        assert_eq!(duration(secs(2 * week + 4 * day)), "2 weeks");
        assert_eq!(duration(secs(4 * week + 3 * day)), "4 weeks");
        assert_eq!(duration(secs(month)), "4 weeks");
        assert_eq!(duration(secs(month + 2 * week)), "6 weeks");
        assert_eq!(duration(secs(2 * month)), "2 months");
        assert_eq!(duration(secs(5 * month + 2 * week)), "5 months");
        assert_eq!(duration(secs(24 * month)), "24 months");
        assert_eq!(duration(secs(24 * month + 2 * week)), "2 years");
        assert_eq!(duration(secs(3 * year + 2 * month)), "3 years");
    }

    #[test]
    fn duration_clamps_beyond_go_range() {
        assert_eq!(duration(Duration::MAX), "292 years");
    }

    #[test]
    fn ago_past_and_future() {
        let now = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).single();
        let then = Utc.with_ymd_and_hms(2024, 5, 1, 11, 35, 0).single();
        let (Some(now), Some(then)) = (now, then) else {
            panic!("valid dates");
        };
        assert_eq!(ago(then, now), "25 minutes ago");
        assert_eq!(ago(now, then), "Less than a second ago");
        assert_eq!(ago(now, now), "Less than a second ago");
    }
}
