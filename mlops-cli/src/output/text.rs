//! Values as short text for tables: times, durations, numbers.

use mlops::core::Timestamp;

/// A time as `2026-11-26 18:20:01` (UTC).
pub(crate) fn time(t: Timestamp) -> String {
    t.to_datetime().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The time between `start` and `end` as `1h02m`, `3m07s`, `12.3s`; `-` without an end.
pub(crate) fn duration(start: Timestamp, end: Option<Timestamp>) -> String {
    let Some(end) = end else {
        return "-".to_owned();
    };
    let ms = (end.as_millis() - start.as_millis()).max(0);
    let secs = ms / 1000;
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// A metric value, short: up to 6 significant digits.
pub(crate) fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else if value != 0.0 && (value.abs() >= 1e6 || value.abs() < 1e-4) {
        format!("{value:.5e}")
    } else {
        let text = format!("{value:.6}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" { "0" } else { text }.to_owned()
    }
}

/// A size in bytes, short: `94.70 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    indicatif::BinaryBytes(n).to_string()
}

/// An optional value, `-` when absent.
pub(crate) fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    #[test]
    fn durations_and_numbers_are_short() {
        assert_eq!(duration(ts(0), Some(ts(65_000))), "1m05s");
        assert_eq!(duration(ts(0), Some(ts(3_725_000))), "1h02m");
        assert_eq!(duration(ts(0), Some(ts(12_340))), "12.3s");
        assert_eq!(duration(ts(0), None), "-");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(-0.0), "0");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(1.5e7), "1.50000e7");
        assert_eq!(or_dash(None::<u32>), "-");
        assert_eq!(bytes(3 * 1024 * 1024), "3.00 MiB");
    }
}
