//! Human-readable formatting for the console: byte sizes, durations, relative and RFC 3339
//! timestamps. Every function is pure and takes `now` as an argument where time matters.

use std::time::Duration;

const BINARY_UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/// Formats a byte count with binary units: `512 B`, `1.5 KiB`, `3.2 GiB`.
///
/// Values below 1 KiB are exact; larger ones carry one decimal.
pub fn format_bytes(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = BINARY_UNITS[0];
    for next in &BINARY_UNITS[1..] {
        // 1023.95 would print as "1024.0": move up a unit before that happens.
        if value < 1023.95 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

/// Formats a duration with its two most significant units, whole seconds:
/// `0 s`, `42 s`, `1 min 5 s`, `2 h`, `3 d 4 h`. A zero second unit is left out.
pub fn format_duration(duration: Duration) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let secs = duration.as_secs();
    let (major, major_unit, minor, minor_unit) = if secs < MINUTE {
        return format!("{secs} s");
    } else if secs < HOUR {
        (secs / MINUTE, "min", secs % MINUTE, "s")
    } else if secs < DAY {
        (secs / HOUR, "h", secs % HOUR / MINUTE, "min")
    } else {
        (secs / DAY, "d", secs % DAY / HOUR, "h")
    };
    if minor == 0 {
        format!("{major} {major_unit}")
    } else {
        format!("{major} {major_unit} {minor} {minor_unit}")
    }
}

/// How long ago `then_ms` was, seen from `now_ms` (both Unix milliseconds): `never` when
/// there is no time, `just now` under a second or when `then_ms` is in the future (clock
/// skew), otherwise `3 s ago`, `2 h 5 min ago`.
pub fn format_relative(then_ms: Option<u64>, now_ms: u64) -> String {
    match then_ms {
        None => "never".to_owned(),
        Some(then) if now_ms.saturating_sub(then) < 1000 => "just now".to_owned(),
        Some(then) => format!(
            "{} ago",
            format_duration(Duration::from_millis(now_ms - then))
        ),
    }
}

/// Formats Unix milliseconds as an RFC 3339 UTC timestamp with millisecond precision,
/// e.g. `2024-02-29T12:34:56.789Z`. Returns `None` past year 9999, which RFC 3339 cannot
/// express.
pub fn format_rfc3339_ms(unix_ms: u64) -> Option<String> {
    const MS_PER_DAY: u64 = 86_400_000;
    let days = unix_ms / MS_PER_DAY;
    let ms_of_day = unix_ms % MS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    if year > 9999 {
        return None;
    }
    let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
    let (second, milli) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"
    ))
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Howard Hinnant's `civil_from_days`, restricted to non-negative day counts so that all
/// arithmetic stays unsigned.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of each year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of [`civil_from_days`]);
/// `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y % 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

/// Parses a point in time given by a person or a script, as Unix milliseconds: a number of
/// milliseconds, or UTC `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `...:SS`, `...:SS.mmm`, each with
/// an optional trailing `Z` (a space may replace the `T`). Other offsets are refused.
pub fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let num = |s: &str, len: usize| -> Option<u64> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let mut d = date.split('-');
    let (year, month, day) = (num(d.next()?, 4)?, num(d.next()?, 2)?, num(d.next()?, 2)?);
    if d.next().is_some() || !(1..=12).contains(&month) || day == 0 || day > 31 {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    if civil_from_days(days) != (year, month, day) {
        return None; // 2023-02-30 and the like
    }
    let mut ms = days * 86_400_000;
    if let Some(time) = time {
        let (hms, frac) = match time.split_once('.') {
            Some((hms, frac)) => (hms, Some(frac)),
            None => (time, None),
        };
        let mut t = hms.split(':');
        let (h, m) = (num(t.next()?, 2)?, num(t.next()?, 2)?);
        let s = match t.next() {
            Some(s) => num(s, 2)?,
            None => 0,
        };
        if t.next().is_some() || h > 23 || m > 59 || s > 59 {
            return None;
        }
        let milli = match frac {
            Some(f) if !f.is_empty() && f.len() <= 3 && f.bytes().all(|b| b.is_ascii_digit()) => {
                f.parse::<u64>().ok()? * 10u64.pow(3 - u32::try_from(f.len()).ok()?)
            }
            Some(_) => return None,
            None => 0,
        };
        ms += h * 3_600_000 + m * 60_000 + s * 1000 + milli;
    }
    Some(ms)
}

/// Formats a percentage with one decimal (`12.5 %`), or `–` when not finite.
pub fn format_percent(pct: f32) -> String {
    if pct.is_finite() {
        format!("{pct:.1} %")
    } else {
        "–".to_owned()
    }
}

/// Formats the 1, 5 and 15 minute load averages: `0.52 0.40 0.31`.
pub fn format_load(load: [f32; 3]) -> String {
    let one = |v: f32| {
        if v.is_finite() {
            format!("{v:.2}")
        } else {
            "–".to_owned()
        }
    };
    format!("{} {} {}", one(load[0]), one(load[1]), one(load[2]))
}

/// [`format_relative`] in `lang`: `3 s ago` / `3秒前`, `2 h 5 min ago` / `2小时5分钟前`,
/// `just now` / `刚刚`, `never` / `从未`.
pub fn format_relative_in(lang: crate::i18n::Lang, then_ms: Option<u64>, now_ms: u64) -> String {
    use crate::i18n::Lang;
    if lang == Lang::En {
        return format_relative(then_ms, now_ms);
    }
    match then_ms {
        None => "从未".to_owned(),
        Some(then) if now_ms.saturating_sub(then) < 1000 => "刚刚".to_owned(),
        Some(then) => {
            let mut out = format_duration_in(lang, Duration::from_millis(now_ms - then));
            out.push('前');
            out
        }
    }
}

/// [`format_duration`] in `lang`: `1 min 5 s` / `1分钟5秒`.
pub fn format_duration_in(lang: crate::i18n::Lang, duration: Duration) -> String {
    let english = format_duration(duration);
    if lang == crate::i18n::Lang::En {
        return english;
    }
    english
        .split(' ')
        .map(|word| match word {
            "s" => "秒",
            "min" => "分钟",
            "h" => "小时",
            "d" => "天",
            number => number,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1.0 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(1024 * 1024 - 1), "1.0 MiB");
        assert_eq!(format_bytes(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(format_bytes(16 * 1024 * 1024 * 1024), "16.0 GiB");
        assert_eq!(format_bytes(3 << 40), "3.0 TiB");
        assert_eq!(format_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn durations() {
        let s = Duration::from_secs;
        assert_eq!(format_duration(Duration::from_millis(999)), "0 s");
        assert_eq!(format_duration(s(3)), "3 s");
        assert_eq!(format_duration(s(59)), "59 s");
        assert_eq!(format_duration(s(60)), "1 min");
        assert_eq!(format_duration(s(65)), "1 min 5 s");
        assert_eq!(format_duration(s(3599)), "59 min 59 s");
        assert_eq!(format_duration(s(7200)), "2 h");
        assert_eq!(format_duration(s(7200 + 300)), "2 h 5 min");
        assert_eq!(format_duration(s(86_400)), "1 d");
        assert_eq!(format_duration(s(3 * 86_400 + 4 * 3600 + 59)), "3 d 4 h");
        assert_eq!(format_duration(Duration::MAX), "213503982334601 d 7 h");
    }

    #[test]
    fn relative() {
        assert_eq!(format_relative(None, 10_000), "never");
        assert_eq!(format_relative(Some(10_000), 10_500), "just now");
        assert_eq!(format_relative(Some(20_000), 10_000), "just now");
        assert_eq!(format_relative(Some(7_000), 10_000), "3 s ago");
        assert_eq!(format_relative(Some(0), 3_600_000), "1 h ago");
        assert_eq!(
            format_relative(Some(0), u64::MAX),
            "213503982334 d 14 h ago"
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(
            format_rfc3339_ms(0).as_deref(),
            Some("1970-01-01T00:00:00.000Z")
        );
        // Leap day in a year divisible by 400.
        assert_eq!(
            format_rfc3339_ms(951_782_400_000).as_deref(),
            Some("2000-02-29T00:00:00.000Z")
        );
        assert_eq!(
            format_rfc3339_ms(951_868_799_999).as_deref(),
            Some("2000-02-29T23:59:59.999Z")
        );
        // 2100 is not a leap year.
        assert_eq!(
            format_rfc3339_ms(4_107_542_400_000).as_deref(),
            Some("2100-03-01T00:00:00.000Z")
        );
        assert_eq!(
            format_rfc3339_ms(1_709_210_096_789).as_deref(),
            Some("2024-02-29T12:34:56.789Z")
        );
        assert_eq!(
            format_rfc3339_ms(253_402_300_799_999).as_deref(),
            Some("9999-12-31T23:59:59.999Z")
        );
        assert_eq!(format_rfc3339_ms(253_402_300_800_000), None);
        assert_eq!(format_rfc3339_ms(u64::MAX), None);
    }

    #[test]
    fn civil_matches_day_by_day_walk() {
        // Walk forward one day at a time from 1970-01-01 for 1000 years' worth of days and
        // check every date against a naive calendar.
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        for days in 0..366_000u64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn parse_times() {
        assert_eq!(parse_time("1709210096789"), Some(1_709_210_096_789));
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(
            parse_time("2024-02-29T12:34:56.789Z"),
            Some(1_709_210_096_789)
        );
        assert_eq!(parse_time("2024-02-29 12:34"), Some(1_709_210_040_000));
        assert_eq!(parse_time("2024-02-29T12:34:56.7"), Some(1_709_210_096_700));
        assert_eq!(parse_time("2000-02-29"), Some(951_782_400_000));
        for bad in [
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "1969-12-31",
            "2024-02-29T24:00",
            "2024-02-29T12:34+08:00",
            "2024-02-29T12:34:56.1234",
            "2024-02-29T12",
            "yesterday",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        for ms in [0, 951_782_400_000, 1_709_210_096_789, 253_402_300_799_999] {
            let text = format_rfc3339_ms(ms).unwrap();
            assert_eq!(parse_time(&text), Some(ms), "{text}");
        }
    }

    #[test]
    fn percent_and_load() {
        assert_eq!(format_percent(12.345), "12.3 %");
        assert_eq!(format_percent(f32::NAN), "–");
        assert_eq!(format_load([0.5, 1.25, 10.0]), "0.50 1.25 10.00");
        assert_eq!(format_load([f32::INFINITY, 0.0, 0.0]), "– 0.00 0.00");
    }

    #[test]
    fn relative_times_in_chinese() {
        use crate::i18n::Lang;
        let zh = |then, now| format_relative_in(Lang::ZhCn, then, now);
        assert_eq!(zh(None, 5), "从未");
        assert_eq!(zh(Some(5_000), 5_500), "刚刚");
        assert_eq!(zh(Some(0), 3_000), "3秒前");
        assert_eq!(zh(Some(0), 65_000), "1分钟5秒前");
        assert_eq!(zh(Some(0), 7_500_000), "2小时5分钟前");
        assert_eq!(zh(Some(0), 90_000_000), "1天1小时前");
        assert_eq!(format_relative_in(Lang::En, Some(0), 3_000), "3 s ago");
    }
}
