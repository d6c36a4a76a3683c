//! Kubernetes resource quantities (`resource.Quantity`): the grammar checked in Rust, and exact
//! numeric comparison, so `1000m == 1`, `1Gi > 1G` and `128Mi < 1024Mi` without a round trip
//! through floating point.
//!
//! Grammar (from `k8s.io/apimachinery/pkg/api/resource`):
//!
//! ```text
//! quantity        ::= signedNumber suffix
//! suffix          ::= binarySI | decimalExponent | decimalSI
//! binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! decimalSI       ::= n | u | m | "" | k | M | G | T | P | E
//! decimalExponent ::= "e" signedNumber | "E" signedNumber      (an integer here)
//! signedNumber    ::= sign numericValue
//! numericValue    ::= digits | digits "." digits | digits "." | "." digits
//! sign            ::= "+" | "-" | ""
//! ```
//!
//! Values compare as the API server stores them: rounded up to a multiple of `1n`, and binary-suffixed
//! values capped at 2^63 - 1. No whitespace is allowed; callers trim first if they want to.
//! One deliberate difference: the Go parser reads a lone sign (`+`, `-`) as zero; the grammar
//! above requires a digit, and so does this module.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::cmp::Ordering;

/// A string that is not a Kubernetes quantity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a Kubernetes quantity: {reason}")]
pub struct QuantityError {
    /// The text that was refused.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Examples quoted in error messages.
pub const QUANTITY_EXAMPLES: &str = "500m, 2, 512Mi, 1Gi";

/// Checks `text` against the quantity grammar and returns it as a [`Quantity`], unchanged.
pub fn parse_quantity(text: &str) -> Result<Quantity, QuantityError> {
    QuantityValue::parse(text)?;
    Ok(Quantity(text.to_string()))
}

/// Compares two quantities numerically (`1000m` equals `1`).
pub fn compare_quantities(a: &Quantity, b: &Quantity) -> Result<Ordering, QuantityError> {
    Ok(QuantityValue::of(a)?.cmp(&QuantityValue::of(b)?))
}

/// The exact numeric value of a quantity: `digits x 10^exponent`, with a sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuantityValue {
    negative: bool,
    /// Decimal digits of the magnitude, most significant first, without leading or trailing
    /// zeros; empty for zero.
    digits: Vec<u8>,
    /// Power of ten of the last digit.
    exponent: i64,
}

/// Smallest step the API server keeps: `1n`.
const NANO_EXPONENT: i64 = -9;

enum Scale {
    /// Multiply by ten to this power.
    Decimal(i64),
    /// Multiply by two to this power.
    Binary(u32),
}

impl QuantityValue {
    /// Parses `text` (no surrounding whitespace) into its numeric value.
    pub fn parse(text: &str) -> Result<Self, QuantityError> {
        let refuse = |reason| QuantityError {
            text: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(refuse("it is empty"));
        }
        let (negative, unsigned) = match text.as_bytes()[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (integer, rest) = split_digits(unsigned);
        let (fraction, suffix) = match rest.strip_prefix('.') {
            Some(after_point) => split_digits(after_point),
            None => ("", rest),
        };
        if integer.is_empty() && fraction.is_empty() {
            return Err(refuse("it must start with a number"));
        }
        let scale = suffix_scale(suffix).ok_or_else(|| {
            refuse("unknown suffix (expected one of n u m k M G T P E Ki Mi Gi Ti Pi Ei, or an exponent such as e3)")
        })?;

        let digits: Vec<u8> = integer
            .bytes()
            .chain(fraction.bytes())
            .map(|b| b - b'0')
            .collect();
        let fraction_len = i64::try_from(fraction.len()).map_err(|_| refuse("too long"))?;
        let mut value = Self::new(negative, digits, -fraction_len);
        match scale {
            Scale::Decimal(power) => {
                if !value.is_zero() {
                    value.exponent += power;
                }
            }
            Scale::Binary(power) => value.multiply_by_power_of_two(power),
        }
        value.round_up_to_nano();
        if matches!(scale, Scale::Binary(_)) {
            value.cap_magnitude(&Self::i64_max());
        }
        Ok(value)
    }

    /// The numeric value of `quantity`.
    pub fn of(quantity: &Quantity) -> Result<Self, QuantityError> {
        Self::parse(&quantity.0)
    }

    /// True for values below zero (`-0` is zero, not negative).
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// True for zero, whatever its spelling (`0`, `0Mi`, `-0.0`).
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Builds a normalised value: no leading or trailing zeros, zero is never negative.
    fn new(negative: bool, mut digits: Vec<u8>, mut exponent: i64) -> Self {
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..leading);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        if digits.is_empty() {
            return Self {
                negative: false,
                digits,
                exponent: 0,
            };
        }
        Self {
            negative,
            digits,
            exponent,
        }
    }

    fn i64_max() -> Self {
        let digits = i64::MAX.to_string().bytes().map(|b| b - b'0').collect();
        Self::new(false, digits, 0)
    }

    fn multiply_by_power_of_two(&mut self, power: u32) {
        let factor = 1u128 << power;
        let mut carry = 0u128;
        let mut product = Vec::with_capacity(self.digits.len() + 20);
        for &digit in self.digits.iter().rev() {
            let current = u128::from(digit) * factor + carry;
            product.push((current % 10) as u8);
            carry = current / 10;
        }
        while carry > 0 {
            product.push((carry % 10) as u8);
            carry /= 10;
        }
        product.reverse();
        *self = Self::new(self.negative, product, self.exponent);
    }

    /// The API server keeps nine decimal places and rounds any remainder away from zero, so
    /// that asking for a tiny amount still gets some.
    fn round_up_to_nano(&mut self) {
        if self.is_zero() || self.exponent >= NANO_EXPONENT {
            return;
        }
        let excess = NANO_EXPONENT - self.exponent;
        let kept = usize::try_from(excess)
            .ok()
            .and_then(|excess| self.digits.len().checked_sub(excess))
            .unwrap_or(0);
        let mut digits = self.digits[..kept].to_vec();
        // The dropped digits end in a non-zero digit (normalised), so add one unit of 1n.
        let mut index = digits.len();
        loop {
            if index == 0 {
                digits.insert(0, 1);
                break;
            }
            index -= 1;
            if digits[index] == 9 {
                digits[index] = 0;
            } else {
                digits[index] += 1;
                break;
            }
        }
        *self = Self::new(self.negative, digits, NANO_EXPONENT);
    }

    fn cap_magnitude(&mut self, max: &Self) {
        if compare_magnitudes(self, max) == Ordering::Greater {
            *self = Self::new(self.negative, max.digits.clone(), max.exponent);
        }
    }
}

impl Ord for QuantityValue {
    fn cmp(&self, other: &Self) -> Ordering {
        let sign = |v: &Self| match (v.is_zero(), v.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal if self.negative => compare_magnitudes(self, other).reverse(),
            Ordering::Equal => compare_magnitudes(self, other),
            unequal => unequal,
        }
    }
}

impl PartialOrd for QuantityValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn compare_magnitudes(a: &QuantityValue, b: &QuantityValue) -> Ordering {
    match (a.is_zero(), b.is_zero()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    // Position just above the most significant digit; equal positions compare digit by digit
    // (normalised digits have no trailing zeros, so a strict prefix is the smaller number).
    let top = |v: &QuantityValue| i128::from(v.exponent) + v.digits.len() as i128;
    top(a).cmp(&top(b)).then_with(|| a.digits.cmp(&b.digits))
}

fn split_digits(text: &str) -> (&str, &str) {
    let count = text.bytes().take_while(u8::is_ascii_digit).count();
    text.split_at(count)
}

fn suffix_scale(suffix: &str) -> Option<Scale> {
    let scale = match suffix {
        "n" => Scale::Decimal(-9),
        "u" => Scale::Decimal(-6),
        "m" => Scale::Decimal(-3),
        "" => Scale::Decimal(0),
        "k" => Scale::Decimal(3),
        "M" => Scale::Decimal(6),
        "G" => Scale::Decimal(9),
        "T" => Scale::Decimal(12),
        "P" => Scale::Decimal(15),
        "E" => Scale::Decimal(18),
        "Ki" => Scale::Binary(10),
        "Mi" => Scale::Binary(20),
        "Gi" => Scale::Binary(30),
        "Ti" => Scale::Binary(40),
        "Pi" => Scale::Binary(50),
        "Ei" => Scale::Binary(60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Scale::Decimal(i64::from(exponent.parse::<i32>().ok()?))
        }
    };
    Some(scale)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value(text: &str) -> QuantityValue {
        QuantityValue::parse(text).unwrap()
    }

    fn order(a: &str, b: &str) -> Ordering {
        value(a).cmp(&value(b))
    }

    #[test]
    fn grammar_accepts_every_documented_form() {
        for text in [
            "0", "1", "+1", "-1", "007", "1.5", "1.", ".5", "-.5", "250m", "100n", "3u", "2k",
            "1M", "1G", "1T", "1P", "1E", "1Ki", "128Mi", "1.5Gi", "1Ti", "1Pi", "1Ei", "1e3",
            "1E3", "1e+3", "1e-3", "1.5e3", "1.G", "0Mi", "30M",
        ] {
            assert!(parse_quantity(text).is_ok(), "{text} should be a quantity");
        }
    }

    #[test]
    fn grammar_refuses_what_kubernetes_refuses() {
        for text in [
            "",
            " 1",
            "1 ",
            "1 Gi",
            "lots",
            "+",
            "-",
            ".",
            "..5",
            "1..5",
            "1.5.5",
            "K",
            "1K",
            "1ki",
            "1mi",
            "1MB",
            "1Gb",
            "1e",
            "1e+",
            "1e3.5",
            "1e3Mi",
            "1Mi3",
            "Mi",
            "0x10",
            "1,5",
            "1_000",
            "1e99999999999",
            "½",
        ] {
            assert!(parse_quantity(text).is_err(), "{text:?} should be refused");
        }
    }

    #[test]
    fn equal_amounts_in_different_units_compare_equal() {
        for (a, b) in [
            ("1000m", "1"),
            ("1", "1.000"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("5.", "5"),
            ("1e3", "1k"),
            ("1E3", "1k"),
            ("1E", "1e18"),
            ("1Ki", "1024"),
            ("1Mi", "1048576"),
            ("1.5Gi", "1536Mi"),
            ("1u", "1000n"),
            ("0", "0Mi"),
            ("0", "-0"),
            ("1024Mi", "1Gi"),
        ] {
            assert_eq!(order(a, b), Ordering::Equal, "{a} == {b}");
        }
    }

    #[test]
    fn different_amounts_order_numerically() {
        for (smaller, larger) in [
            ("250m", "1000m"),
            ("999m", "1"),
            ("1G", "1Gi"),
            ("128Mi", "1024Mi"),
            ("30M", "50M"),
            ("1000M", "1Gi"),
            ("1Gi", "1.1G"),
            ("100m", "1"),
            ("-2", "-1"),
            ("-1", "0"),
            ("9", "10"),
            ("0.09", "0.1"),
            ("1n", "2n"),
        ] {
            assert_eq!(
                order(smaller, larger),
                Ordering::Less,
                "{smaller} < {larger}"
            );
            assert_eq!(
                order(larger, smaller),
                Ordering::Greater,
                "{larger} > {smaller}"
            );
        }
    }

    #[test]
    fn amounts_below_one_nano_round_up_like_the_api_server() {
        assert_eq!(order("0.1n", "1n"), Ordering::Equal);
        assert_eq!(order("1.2n", "1.9n"), Ordering::Equal);
        assert_eq!(order("1.0000000001", "1.000000001"), Ordering::Equal);
        assert_eq!(order("0.999999999999", "1"), Ordering::Equal);
        assert_eq!(order("-0.1n", "-1n"), Ordering::Equal);
    }

    #[test]
    fn binary_amounts_are_capped_like_the_api_server() {
        assert_eq!(order("10Ei", "9223372036854775807"), Ordering::Equal);
        assert_eq!(order("10Ei", "10E"), Ordering::Less);
        assert_eq!(order("7Ei", "8070450532247928832"), Ordering::Equal);
    }

    #[test]
    fn negative_values_are_recognised() {
        assert!(value("-1m").is_negative());
        assert!(!value("-0").is_negative());
        assert!(!value("1").is_negative());
        assert!(value("-0.0Mi").is_zero());
    }

    #[test]
    fn compare_quantities_reports_malformed_input() {
        let error = compare_quantities(&Quantity("1".into()), &Quantity("x".into())).unwrap_err();
        assert_eq!(error.text, "x");
    }

    const SUFFIXES: [(&str, u128); 8] = [
        ("m", 1_000_000),
        ("", 1_000_000_000),
        ("k", 1_000_000_000_000),
        ("M", 1_000_000_000_000_000),
        ("G", 1_000_000_000_000_000_000),
        ("Ki", 1_024_000_000_000),
        ("Mi", 1_048_576_000_000_000),
        ("Gi", 1_073_741_824_000_000_000),
    ];

    proptest! {
        #[test]
        fn comparison_matches_integer_arithmetic(
            a in any::<u32>(), sa in 0..SUFFIXES.len(), b in any::<u32>(), sb in 0..SUFFIXES.len()
        ) {
            let (suffix_a, nanos_a) = SUFFIXES[sa];
            let (suffix_b, nanos_b) = SUFFIXES[sb];
            let expected = (u128::from(a) * nanos_a).cmp(&(u128::from(b) * nanos_b));
            prop_assert_eq!(order(&format!("{a}{suffix_a}"), &format!("{b}{suffix_b}")), expected);
        }
    }
}
