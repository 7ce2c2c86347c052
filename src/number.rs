//! Float text for JSON and messages: the shortest digits that read back as the same value,
//! never in exponent form.
//!
//! The wasm build gets its digits and values from JavaScript's `Number`, whose formatting and
//! parsing are exact, so the module carries none of core's float formatting and parsing code
//! and tables. Native builds use core's. Both read an `f32` as the nearest `f64`, then round
//! it to `f32`, so the native CLI and the browser read every file to the same values. The text
//! they write may differ in the last digit of a value halfway between two candidates, which
//! core rounds to even and JavaScript rounds up, but both texts read back to the same value.

use std::fmt;

/// Displays a float with the shortest digits that read back as the same value, such as
/// `0.0000001` for 1e-7. Use it in place of `{}` on an `f32` or `f64`.
pub struct Shortest<T>(pub T);

impl fmt::Display for Shortest<f64> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        write_f64(self.0, &mut text);
        f.write_str(&text)
    }
}

impl fmt::Display for Shortest<f32> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        write_f32(self.0, &mut text);
        f.write_str(&text)
    }
}

/// Appends the shortest digits that `parse_f64` reads back as `value`. Infinities and NaN, for
/// messages, are written `inf`, `-inf` and `NaN`, which the parsers do not read.
pub fn write_f64(value: f64, out: &mut String) {
    if !write_special(value, out) {
        write_positional(&exponential(value.abs(), None), out);
    }
}

/// Appends the shortest digits that `parse_f32` reads back as `value`. Infinities and NaN, for
/// messages, are written `inf`, `-inf` and `NaN`, which the parsers do not read.
pub fn write_f32(value: f32, out: &mut String) {
    if write_special(value as f64, out) {
        return;
    }

    // The nearest decimal of 9 significant digits always reads back as the same f32.
    let magnitude = value.abs() as f64;
    let text = (1..9)
        .map(|digits| exponential(magnitude, Some(digits)))
        .find(|text| parse_f32(text) == Some(value.abs()))
        .unwrap_or_else(|| exponential(magnitude, Some(9)));
    write_positional(&text, out);
}

/// Reads a JSON number such as `-2.5e-3`, rounded to the nearest `f64`. Returns `None` for
/// text that is not a number, and an infinity beyond the range of `f64`.
pub fn parse_f64(text: &str) -> Option<f64> {
    parse(text)
}

/// Reads a JSON number as the nearest `f64`, rounded to `f32`. Returns `None` for text that is
/// not a number, and an infinity beyond the range of `f32`.
pub fn parse_f32(text: &str) -> Option<f32> {
    parse(text).map(|value| value as f32)
}

/// Writes the sign of `value`, then `value` itself if it is zero, infinite or NaN. Returns
/// whether it wrote the whole value.
fn write_special(value: f64, out: &mut String) -> bool {
    if value.is_nan() {
        out.push_str("NaN");
        return true;
    }
    if value.is_sign_negative() {
        out.push('-');
    }

    let text = if value == 0.0 {
        "0"
    } else if value.is_infinite() {
        "inf"
    } else {
        return false;
    };
    out.push_str(text);
    true
}

/// Writes a positive number given as `1.25e-3`, `1.25e+21`, `1.25e3` or `0.00125` without
/// exponent form and without trailing zeros after the point: `0.00125`.
fn write_positional(text: &str, out: &mut String) {
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exponent: i32 = exponent.trim_start_matches('+').parse().unwrap_or(0);

    // value = 0.digits × 10^point, with the digits stripped of leading and trailing zeros.
    let mut point = mantissa.find('.').unwrap_or(mantissa.len()) as i32 + exponent;
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.first() == Some(&b'0') {
        digits.remove(0);
        point -= 1;
    }
    while digits.last() == Some(&b'0') {
        digits.pop();
    }

    if digits.is_empty() {
        out.push('0');
        return;
    }
    if point <= 0 {
        out.push_str("0.");
        (point..0).for_each(|_| out.push('0'));
    }
    for (i, digit) in digits.iter().enumerate() {
        if i as i32 == point && point > 0 {
            out.push('.');
        }
        out.push(*digit as char);
    }
    (digits.len() as i32..point).for_each(|_| out.push('0'));
}

/// Formats a finite `value` with `digits` significant digits, rounded to nearest, or with the
/// shortest digits that read back as it when `digits` is `None`. The text may be in exponent
/// form.
#[cfg(not(target_arch = "wasm32"))]
fn exponential(value: f64, digits: Option<usize>) -> String {
    match digits {
        Some(digits) => format!("{value:.*e}", digits - 1),
        None => format!("{value:e}"),
    }
}

/// Formats a finite `value` with `digits` significant digits, rounded to nearest, or with the
/// shortest digits that read back as it when `digits` is `None`. The text may be in exponent
/// form.
#[cfg(target_arch = "wasm32")]
fn exponential(value: f64, digits: Option<usize>) -> String {
    let number = js_sys::Number::from(value);
    let text = match digits {
        Some(digits) => number.to_exponential(digits as u8 - 1),
        None => number.to_string_with_radix(10),
    };
    text.expect("a finite number has a decimal form").into()
}

/// Reads a decimal number, rounded to the nearest `f64`. Text with characters other than digits,
/// signs, points and exponents, such as `inf`, is rejected as in the wasm build.
#[cfg(not(target_arch = "wasm32"))]
fn parse(text: &str) -> Option<f64> {
    let number = text
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    text.parse().ok().filter(|_| number)
}

/// Reads a decimal number, rounded to the nearest `f64`. JavaScript's `Number` also reads
/// `Infinity`, hexadecimal and blank text, so text with other characters is rejected first.
/// The JSON parser has checked the grammar of the numbers it passes.
#[cfg(target_arch = "wasm32")]
fn parse(text: &str) -> Option<f64> {
    let number = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    let value = text.parse::<js_sys::Number>().ok()?.value_of();
    (number && !value.is_nan()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64_text(value: f64) -> String {
        Shortest(value).to_string()
    }

    fn f32_text(value: f32) -> String {
        Shortest(value).to_string()
    }

    #[test]
    fn floats_written_in_positional_form() {
        assert_eq!(f64_text(1e-7), "0.0000001");
        assert_eq!(f64_text(0.1), "0.1");
        assert_eq!(f64_text(123456789.125), "123456789.125");
        assert_eq!(f64_text(1e21), "1000000000000000000000");
        assert_eq!(f64_text(-2.5), "-2.5");
        assert_eq!(f64_text(-0.0), "-0");
        assert_eq!(f64_text(f64::NEG_INFINITY), "-inf");
        assert_eq!(f64_text(f64::NAN), "NaN");
        assert_eq!(f32_text(0.001), "0.001");
        assert_eq!(f32_text(0.1), "0.1");
        assert_eq!(f32_text(3.0), "3");
        assert_eq!(f32_text(16777216.0), "16777216");
        assert_eq!(
            f32_text(1.0e-45),
            "0.000000000000000000000000000000000000000000001"
        );
    }

    #[test]
    fn positional_form_of_each_style() {
        for (text, expected) in [
            ("1.25e-3", "0.00125"),
            ("1.25e-1", "0.125"),
            ("1.25e+21", "1250000000000000000000"),
            ("1.25e3", "1250"),
            ("1.250e1", "12.5"),
            ("0.00125", "0.00125"),
            ("12.5", "12.5"),
            ("7e0", "7"),
        ] {
            let mut out = String::new();
            write_positional(text, &mut out);
            assert_eq!(out, expected, "{text}");
        }
    }

    #[test]
    fn written_floats_read_back() {
        let mut bits = 0x3f80_0001u32;
        for _ in 0..20_000 {
            // A fixed walk over sign, exponent and mantissa bits.
            bits = bits.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let value = f32::from_bits(bits);
            if value.is_finite() {
                assert_eq!(parse_f32(&f32_text(value)), Some(value), "{bits:#x}");
                let wide = value as f64 * 1.000_000_1;
                assert_eq!(parse_f64(&f64_text(wide)), Some(wide), "{bits:#x}");
            }
        }
        for value in [f32::MAX, f32::MIN_POSITIVE, 1.0e-45, 0.3] {
            assert_eq!(parse_f32(&f32_text(value)), Some(value));
        }
    }

    #[test]
    fn f32_digits_are_shortest() {
        // 9 digits always read back, and fewer do for most values.
        assert_eq!(f32_text(0.1 + 0.2), "0.3");
        assert_eq!(f32_text(1.0 / 3.0), "0.33333334");
        assert_eq!(
            f32_text(f32::MAX),
            "340282350000000000000000000000000000000"
        );
        assert_eq!(parse_f32("1e39"), Some(f32::INFINITY));
    }
}
