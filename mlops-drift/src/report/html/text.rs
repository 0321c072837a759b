//! Escaping and number formatting for the HTML page.

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, safe in HTML and SVG text and attributes.
/// Control characters other than tab and newlines become U+FFFD.
pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A count with thousands separators: `1,234,567`.
pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters of `text`, with `…` when cut (not escaped).
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn non_finite(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some("nan")
    } else if x == f64::INFINITY {
        Some("inf")
    } else if x == f64::NEG_INFINITY {
        Some("-inf")
    } else {
        None
    }
}

/// The decimal exponent of `|x|` (`x` finite, non-zero).
#[allow(clippy::cast_possible_truncation)] // |log10| of a finite f64 is below 400.
fn magnitude(x: f64) -> i32 {
    x.abs().log10().floor() as i32
}

/// Drops trailing zeros (and a trailing point) from a fixed-point number.
fn trim(mut s: String) -> String {
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" { "0".to_owned() } else { s }
}

/// Fixed-point with `digits` significant digits, trimmed.
#[allow(clippy::cast_sign_loss)] // Clamped at zero first.
fn fixed(x: f64, digits: i32) -> String {
    let decimals = (digits - 1 - magnitude(x)).max(0) as usize;
    trim(format!("{x:.decimals$}"))
}

/// Scientific with `digits` significant digits and a trimmed mantissa: `1.5e-5`.
fn sci(x: f64, digits: usize) -> String {
    let decimals = digits.saturating_sub(1);
    let s = format!("{x:.decimals$e}");
    match s.split_once('e') {
        Some((mantissa, exponent)) => format!("{}e{exponent}", trim(mantissa.to_owned())),
        None => s,
    }
}

/// A number with about 4 significant digits; scientific below 1e-3 and from 1e6, so that
/// small p-values read as `1.234e-5`; non-finite values as `inf`, `-inf` and `nan`.
pub(super) fn num(x: f64) -> String {
    if let Some(s) = non_finite(x) {
        return s.to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    if (1e-3..1e6).contains(&x.abs()) {
        fixed(x, 4)
    } else {
        sci(x, 4)
    }
}

/// An optional number, `—` when absent.
pub(super) fn opt_num(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), num)
}

/// A share in [0, 1] as a percentage with one decimal at most: `12.5%`, `<0.1%`.
pub(super) fn pct(share: f64) -> String {
    if let Some(s) = non_finite(share) {
        return s.to_owned();
    }
    if share > 0.0 && share < 0.0005 {
        return "<0.1%".to_owned();
    }
    format!("{}%", trim(format!("{:.1}", share * 100.0)))
}

/// A compact axis label: `0.25`, `12.5k`, `3M`, `2e-4`.
pub(super) fn tick(x: f64) -> String {
    if let Some(s) = non_finite(x) {
        return s.to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let a = x.abs();
    let suffixes = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")];
    if !(1e-3..1e15).contains(&a) {
        return sci(x, 3);
    }
    if a >= 1e4 {
        for (scale, suffix) in suffixes {
            if a >= scale {
                return format!("{}{suffix}", fixed(x / scale, 3));
            }
        }
    }
    fixed(x, 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<script>alert('x')</script> & "q""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("a\u{0}b\nc"), "a\u{FFFD}b\nc");
        assert_eq!(esc("naïve ✓"), "naïve ✓");
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(98_500), "98,500");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }

    #[test]
    fn numbers_have_four_significant_digits() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(-3.45678), "-3.457");
        assert_eq!(num(1234.5678), "1235");
        assert_eq!(num(123_456.7), "123457");
        assert_eq!(num(0.001), "0.001");
        assert_eq!(num(0.05), "0.05");
        assert_eq!(num(9.99996), "10");
        assert_eq!(num(2.5e6), "2.5e6");
        assert_eq!(num(f64::NAN), "nan");
        assert_eq!(num(f64::INFINITY), "inf");
        assert_eq!(num(f64::NEG_INFINITY), "-inf");
        assert_eq!(opt_num(None), "—");
    }

    #[test]
    fn small_p_values_are_scientific() {
        assert_eq!(num(0.000_123_456), "1.235e-4");
        assert_eq!(num(1e-300), "1e-300");
        assert_eq!(num(0.003), "0.003");
    }

    #[test]
    fn percentages() {
        assert_eq!(pct(0.5), "50%");
        assert_eq!(pct(1.0 / 3.0), "33.3%");
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(0.0001), "<0.1%");
        assert_eq!(pct(f64::NAN), "nan");
    }

    #[test]
    fn ticks_are_compact() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(0.25), "0.25");
        assert_eq!(tick(0.1 + 0.2), "0.3");
        assert_eq!(tick(2500.0), "2500");
        assert_eq!(tick(12_500.0), "12.5k");
        assert_eq!(tick(-3_000_000.0), "-3M");
        assert_eq!(tick(2e9), "2G");
        assert_eq!(tick(0.0002), "2e-4");
        assert_eq!(tick(f64::NEG_INFINITY), "-inf");
    }
}
