//! Quantities with units, as a scenario file writes them (spec/scenario.md): durations
//! (`"250us"`, `"1.5ms"`, `"10s"`, `"2m"`, `"1h"`), sizes (`"4KiB"`, `"10GiB"`, `"1MB"`), rates
//! (`"1Gbit/s"`, `"500MiB/s"`), clock drift (`"+2%"`) and the comparisons of `[expect]`
//! (`"< 5ms"`, `">= 1"`, `"10..20"`).
//!
//! Every value is resolved exactly, in integers: nanoseconds, bytes, bits per second, parts per
//! million. A value that cannot be represented exactly in those units (`"0.5ns"`, `"0.1KiB"`) is
//! an error rather than a silent rounding.

use std::fmt;

/// Nanoseconds in one microsecond.
pub const NANOS_PER_MICROSECOND: u64 = 1_000;
/// Nanoseconds in one millisecond.
pub const NANOS_PER_MILLISECOND: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
/// Nanoseconds in one minute.
pub const NANOS_PER_MINUTE: u64 = 60 * NANOS_PER_SECOND;
/// Nanoseconds in one hour.
pub const NANOS_PER_HOUR: u64 = 60 * NANOS_PER_MINUTE;
/// Nanoseconds in one day.
pub const NANOS_PER_DAY: u64 = 24 * NANOS_PER_HOUR;

/// Digits accepted in a number before it is judged too large to mean anything (keeps the exact
/// arithmetic below in `u128` without overflow checks on every digit).
const DIGITS_MAX: usize = 30;

/// Why a written quantity could not be resolved. The text completes a sentence that starts with
/// the key and the value as written, e.g. `duration: "30" needs a unit, e.g. "30s" or "30ms"`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Nothing was written.
    #[error("is empty; write a number with a unit, e.g. \"{example}\"")]
    Empty {
        /// A value of the right kind.
        example: String,
    },
    /// A number without a unit where a unit is needed. Two units are offered, a large and a
    /// small one: the simulator cannot tell which was meant, and one alone read as the advice
    /// (`size = 2147483648` was told "2147483648MiB", meaning bytes).
    #[error("needs a unit, e.g. {}", unit_examples(example, other.as_deref()))]
    MissingUnit {
        /// The same number with a suitable unit.
        example: String,
        /// The same number with another unit of the kind, of another scale, where there is one.
        other: Option<String>,
    },
    /// A unit this kind of value does not know.
    #[error("{}", unknown_unit_text(unit, known))]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The units accepted here.
        known: &'static str,
    },
    /// Not a number followed by a unit.
    #[error("is not a number with a unit; write it like \"{example}\"")]
    NotANumber {
        /// A value of the right kind.
        example: String,
    },
    /// A minus sign where only values >= 0 make sense.
    #[error("is negative")]
    Negative,
    /// Larger than the simulator can represent.
    #[error("is too large; it must be at most {max}")]
    TooLarge {
        /// The largest value accepted, written with a unit.
        max: String,
    },
    /// Not a whole number of the smallest unit (1 ns, 1 byte, 1 bit/s, 0.0001 %).
    #[error("is not a whole number of {smallest}; use fewer decimals")]
    NotWhole {
        /// The smallest representable step.
        smallest: &'static str,
    },
}

/// `"30s"`, or `"30s" or "30ms"`.
fn unit_examples(example: &str, other: Option<&str>) -> String {
    match other {
        Some(other) => format!("\"{example}\" or \"{other}\""),
        None => format!("\"{example}\""),
    }
}

/// One unit symbol and how many base units (ns, bytes, bits per second) it is worth.
struct Unit {
    symbol: &'static str,
    factor: u128,
}

/// A kind of quantity: its units, the words for its error messages, and its largest value.
pub struct Dimension {
    units: &'static [Unit],
    known: &'static str,
    example_unit: &'static str,
    /// Another unit of another scale, offered beside `example_unit` for a bare number.
    other_unit: &'static str,
    smallest: &'static str,
    render_max: fn(u64) -> String,
}

const fn unit(symbol: &'static str, factor: u128) -> Unit {
    Unit { symbol, factor }
}

const DURATION_UNITS: &[Unit] = &[
    unit("ns", 1),
    unit("us", NANOS_PER_MICROSECOND as u128),
    unit("µs", NANOS_PER_MICROSECOND as u128),
    unit("ms", NANOS_PER_MILLISECOND as u128),
    unit("s", NANOS_PER_SECOND as u128),
    unit("m", NANOS_PER_MINUTE as u128),
    unit("min", NANOS_PER_MINUTE as u128),
    unit("h", NANOS_PER_HOUR as u128),
    unit("d", NANOS_PER_DAY as u128),
];

const KIB: u128 = 1 << 10;
const MIB: u128 = 1 << 20;
const GIB: u128 = 1 << 30;
const TIB: u128 = 1 << 40;

const SIZE_UNITS: &[Unit] = &[
    unit("B", 1),
    unit("KiB", KIB),
    unit("MiB", MIB),
    unit("GiB", GIB),
    unit("TiB", TIB),
    unit("KB", 1_000),
    unit("kB", 1_000),
    unit("MB", 1_000_000),
    unit("GB", 1_000_000_000),
    unit("TB", 1_000_000_000_000),
];

/// Rates resolve to bits per second, so that both `"1Gbit/s"` and `"500MiB/s"` are exact.
const RATE_UNITS: &[Unit] = &[
    unit("bit/s", 1),
    unit("kbit/s", 1_000),
    unit("Kbit/s", 1_000),
    unit("Mbit/s", 1_000_000),
    unit("Gbit/s", 1_000_000_000),
    unit("Tbit/s", 1_000_000_000_000),
    unit("Kibit/s", KIB),
    unit("Mibit/s", MIB),
    unit("Gibit/s", GIB),
    unit("B/s", 8),
    unit("KiB/s", 8 * KIB),
    unit("MiB/s", 8 * MIB),
    unit("GiB/s", 8 * GIB),
    unit("TiB/s", 8 * TIB),
    unit("KB/s", 8_000),
    unit("kB/s", 8_000),
    unit("MB/s", 8_000_000),
    unit("GB/s", 8_000_000_000),
];

/// Durations, resolved to nanoseconds.
pub const DURATION: Dimension = Dimension {
    units: DURATION_UNITS,
    known: "ns, us, ms, s, m, h, d",
    example_unit: "s",
    other_unit: "ms",
    smallest: "nanoseconds",
    render_max: format_duration,
};

/// Sizes, resolved to bytes.
pub const SIZE: Dimension = Dimension {
    units: SIZE_UNITS,
    known: "B, KiB, MiB, GiB, TiB, KB, MB, GB, TB",
    example_unit: "MiB",
    other_unit: "B",
    smallest: "bytes",
    render_max: format_size,
};

/// Network bandwidths, resolved to bits per second (the example unit is bits).
pub const BANDWIDTH: Dimension = Dimension {
    units: RATE_UNITS,
    known: "bit/s, Kbit/s, Mbit/s, Gbit/s, Tbit/s, B/s, KiB/s, MiB/s, GiB/s, KB/s, MB/s, GB/s",
    example_unit: "Mbit/s",
    other_unit: "Gbit/s",
    smallest: "bits per second",
    render_max: format_bandwidth,
};

/// Disk throughputs, resolved to bits per second (the example unit is bytes).
pub const THROUGHPUT: Dimension = Dimension {
    example_unit: "MiB/s",
    other_unit: "GiB/s",
    ..BANDWIDTH
};

/// Parses a duration such as `"1.5ms"` into nanoseconds.
pub fn parse_duration(text: &str) -> Result<u64, UnitError> {
    parse_quantity(text, &DURATION)
}

/// Parses a size such as `"4KiB"` into bytes.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    parse_quantity(text, &SIZE)
}

/// Parses a rate such as `"1Gbit/s"` or `"500MiB/s"` into bits per second.
pub fn parse_bits_per_second(text: &str) -> Result<u64, UnitError> {
    parse_quantity(text, &BANDWIDTH)
}

/// Parses a rate such as `"500MiB/s"` into whole bytes per second.
pub fn parse_bytes_per_second(text: &str) -> Result<u64, UnitError> {
    let bits = parse_quantity(text, &THROUGHPUT)?;
    if bits % 8 != 0 {
        return Err(UnitError::NotWhole {
            smallest: "bytes per second",
        });
    }
    Ok(bits / 8)
}

/// Parses a number followed by a unit of `dimension` into its base unit.
pub fn parse_quantity(text: &str, dimension: &Dimension) -> Result<u64, UnitError> {
    let text = text.trim();
    let example = || format!("10{}", dimension.example_unit);
    if text.is_empty() {
        return Err(UnitError::Empty { example: example() });
    }
    if let Some(rest) = text.strip_prefix('-') {
        // Say "negative" only when the rest is a sensible value; otherwise the value is garbage.
        // (`rest` starting with '-' again is garbage too, and must not recurse without bound.)
        if rest.starts_with('-') {
            return Err(UnitError::NotANumber { example: example() });
        }
        return Err(match parse_quantity(rest, dimension) {
            Ok(_) => UnitError::Negative,
            Err(error) => error,
        });
    }
    let (number, symbol) = split_number(text);
    let too_large = || UnitError::TooLarge {
        max: (dimension.render_max)(u64::MAX),
    };
    let decimal = Decimal::parse(number).map_err(|error| match error {
        DecimalError::Overflow => too_large(),
        _ => UnitError::NotANumber { example: example() },
    })?;
    let symbol = symbol.trim_start();
    if symbol.is_empty() {
        return Err(UnitError::MissingUnit {
            example: format!("{number}{}", dimension.example_unit),
            other: Some(format!("{number}{}", dimension.other_unit)),
        });
    }
    let Some(unit) = dimension.units.iter().find(|unit| unit.symbol == symbol) else {
        return Err(UnitError::UnknownUnit {
            unit: symbol.to_string(),
            known: dimension.known,
        });
    };
    let base = decimal
        .times(unit.factor)
        .map_err(|overflow| match overflow {
            DecimalError::Overflow => too_large(),
            DecimalError::NotWhole | DecimalError::Malformed => UnitError::NotWhole {
                smallest: dimension.smallest,
            },
        })?;
    u64::try_from(base).map_err(|_| too_large())
}

/// Splits `"1.5ms"` into `("1.5", "ms")`: the leading digits and dots, then the rest.
/// The text of [`UnitError::UnknownUnit`]. An exponent ("1e3s") reads as a unit starting with
/// `e`: say that numbers are written in full instead (it read `unknown unit "e3s"`).
fn unknown_unit_text(unit: &str, known: &str) -> String {
    let mut characters = unit.chars();
    let exponent = matches!(characters.next(), Some('e' | 'E'))
        && characters
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '+' || c == '-');
    if exponent {
        return format!("has an exponent; write the number in full, with one of the units {known}");
    }
    format!("has an unknown unit \"{unit}\"; use one of {known}")
}

fn split_number(text: &str) -> (&str, &str) {
    let end = text
        .char_indices()
        .find(|(_, character)| !(character.is_ascii_digit() || *character == '.'))
        .map_or(text.len(), |(index, _)| index);
    text.split_at(end)
}

/// A non-negative decimal number as written: its digits without the point, and how many of
/// them follow the point. Kept exact so that `"1.5ms"` is exactly 1,500,000 ns.
struct Decimal {
    digits: u128,
    scale: u32,
}

enum DecimalError {
    /// Not digits with at most one point.
    Malformed,
    /// More digits than anything the simulator can represent.
    Overflow,
    /// Not a whole number of the base unit.
    NotWhole,
}

impl Decimal {
    /// Parses `"12"`, `"1.5"`, `".5"`, `"5."`; rejects `""`, `"."`, `"1.2.3"`.
    fn parse(number: &str) -> Result<Decimal, DecimalError> {
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (number, ""),
        };
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction)
        {
            return Err(DecimalError::Malformed);
        }
        if whole.len() + fraction.len() > DIGITS_MAX {
            return Err(DecimalError::Overflow);
        }
        let digits = format!("{whole}{fraction}")
            .parse::<u128>()
            .map_err(|_| DecimalError::Overflow)?;
        let scale = u32::try_from(fraction.len()).map_err(|_| DecimalError::Overflow)?;
        Ok(Decimal { digits, scale })
    }

    /// This number times `factor`, which must come out whole.
    fn times(&self, factor: u128) -> Result<u128, DecimalError> {
        let product = self
            .digits
            .checked_mul(factor)
            .ok_or(DecimalError::Overflow)?;
        let divisor = 10u128
            .checked_pow(self.scale)
            .ok_or(DecimalError::Overflow)?;
        if product % divisor != 0 {
            return Err(DecimalError::NotWhole);
        }
        Ok(product / divisor)
    }
}

/// Parses a clock drift such as `"+2%"` or `"-0.5%"` into parts per million (+20,000; -5,000).
pub fn parse_drift_ppm(text: &str) -> Result<i64, UnitError> {
    let text = text.trim();
    let example = || "+2%".to_string();
    if text.is_empty() {
        return Err(UnitError::Empty { example: example() });
    }
    let (negative, unsigned) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (number, symbol) = split_number(unsigned);
    if number.is_empty() {
        return Err(UnitError::NotANumber { example: example() });
    }
    match symbol.trim_start() {
        "%" => {}
        "" => {
            return Err(UnitError::MissingUnit {
                example: format!("{}{number}%", if negative { "-" } else { "+" }),
                other: None,
            })
        }
        other => {
            return Err(UnitError::UnknownUnit {
                unit: other.to_string(),
                known: "%",
            })
        }
    }
    let decimal = Decimal::parse(number).map_err(|error| match error {
        DecimalError::Overflow => UnitError::TooLarge {
            max: "+100%".to_string(),
        },
        _ => UnitError::NotANumber { example: example() },
    })?;
    // One percent is 10,000 parts per million.
    let magnitude = decimal.times(10_000).map_err(|error| match error {
        DecimalError::Overflow => UnitError::TooLarge {
            max: "+100%".to_string(),
        },
        DecimalError::NotWhole | DecimalError::Malformed => UnitError::NotWhole {
            smallest: "0.0001 %",
        },
    })?;
    let magnitude = i64::try_from(magnitude).map_err(|_| UnitError::TooLarge {
        max: "+100%".to_string(),
    })?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// Writes nanoseconds with the largest unit that keeps the value whole: `"250us"`, `"2m"`.
pub fn format_duration(nanoseconds: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (NANOS_PER_HOUR, "h"),
        (NANOS_PER_MINUTE, "m"),
        (NANOS_PER_SECOND, "s"),
        (NANOS_PER_MILLISECOND, "ms"),
        (NANOS_PER_MICROSECOND, "us"),
    ];
    if nanoseconds == 0 {
        return "0s".to_string();
    }
    // Seconds, milliseconds and microseconds take up to three exact decimals ("26.3s" rather
    // than "26300ms"); hours and minutes only whole values.
    for (factor, symbol) in [
        (NANOS_PER_SECOND, "s"),
        (NANOS_PER_MILLISECOND, "ms"),
        (NANOS_PER_MICROSECOND, "us"),
    ] {
        if nanoseconds.is_multiple_of(NANOS_PER_MINUTE) {
            break; // a whole number of minutes or hours: the units below say it best
        }
        if nanoseconds >= factor && nanoseconds.is_multiple_of(factor / 1_000) {
            let whole = nanoseconds / factor;
            let thousandths = nanoseconds % factor / (factor / 1_000);
            if thousandths == 0 {
                return format!("{whole}{symbol}");
            }
            let decimals = format!("{thousandths:03}");
            return format!("{whole}.{}{symbol}", decimals.trim_end_matches('0'));
        }
    }
    format_exact(nanoseconds, UNITS, "ns")
}

/// Writes bytes with the largest unit that keeps the value whole: `"4KiB"`, `"1MB"`, `"700B"`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
        (1_000_000_000_000, "TB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "KB"),
    ];
    format_exact(bytes, UNITS, "B")
}

/// Writes bits per second in bits: `"1Gbit/s"`, `"100Mbit/s"`.
pub fn format_bandwidth(bits_per_second: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1_000_000_000_000, "Tbit/s"),
        (1_000_000_000, "Gbit/s"),
        (1_000_000, "Mbit/s"),
        (1_000, "Kbit/s"),
    ];
    format_exact(bits_per_second, UNITS, "bit/s")
}

/// Writes bytes per second in bytes: `"500MiB/s"`.
pub fn format_throughput(bytes_per_second: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 40, "TiB/s"),
        (1 << 30, "GiB/s"),
        (1 << 20, "MiB/s"),
        (1 << 10, "KiB/s"),
        (1_000_000_000, "GB/s"),
        (1_000_000, "MB/s"),
        (1_000, "KB/s"),
    ];
    format_exact(bytes_per_second, UNITS, "B/s")
}

/// Writes parts per million as a signed percentage: `"+2%"`, `"-0.5%"`.
pub fn format_drift(parts_per_million: i64) -> String {
    let sign = if parts_per_million < 0 { "-" } else { "+" };
    let magnitude = parts_per_million.unsigned_abs();
    let whole = magnitude / 10_000;
    let fraction = magnitude % 10_000;
    if fraction == 0 {
        return format!("{sign}{whole}%");
    }
    let fraction = format!("{fraction:04}");
    format!("{sign}{whole}.{}%", fraction.trim_end_matches('0'))
}

fn format_exact(value: u64, units: &[(u64, &str)], base: &str) -> String {
    units
        .iter()
        .find(|(factor, _)| value != 0 && value.is_multiple_of(*factor))
        .map_or_else(
            || format!("{value}{base}"),
            |(factor, symbol)| format!("{}{symbol}", value / factor),
        )
}

/// Writes a measured duration for people, rounded to two decimals of its largest unit, and
/// never to a whole number it is not: `"1.4ms"`, `"11.2s"`, `"610us"`, `"5.001s"`.
pub fn describe_duration(nanoseconds: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (NANOS_PER_HOUR, "h"),
        (NANOS_PER_MINUTE, "m"),
        (NANOS_PER_SECOND, "s"),
        (NANOS_PER_MILLISECOND, "ms"),
        (NANOS_PER_MICROSECOND, "us"),
        (1, "ns"),
    ];
    if nanoseconds == 0 {
        return "0s".to_string();
    }
    let (factor, symbol) = UNITS
        .iter()
        .find(|(factor, _)| nanoseconds >= *factor)
        .copied()
        .unwrap_or((1, "ns"));
    if nanoseconds.is_multiple_of(factor) {
        return format!("{}{symbol}", nanoseconds / factor);
    }
    // Lossy on purpose: a report, not a round trip. Two decimals, or as many more as it takes
    // not to look whole: 5.001 s read "5s", beside a check "> 5s" that held.
    #[allow(clippy::cast_precision_loss)]
    let value = nanoseconds as f64 / factor as f64;
    let digits = factor.ilog10() as usize;
    let text = (2..=digits.max(2))
        .map(|decimals| format!("{value:.decimals$}"))
        .map(|text| text.trim_end_matches('0').trim_end_matches('.').to_string())
        .find(|text| text.contains('.'))
        .unwrap_or_else(|| value.to_string());
    format!("{text}{symbol}")
}

/// `nanoseconds` in units of `factor` nanoseconds (a power of ten), every decimal written:
/// `exact_decimal(10_208_506_000, NANOS_PER_SECOND)` is `"10.208506"`.
fn exact_decimal(nanoseconds: u64, factor: u64) -> String {
    let whole = nanoseconds / factor;
    let rest = nanoseconds % factor;
    if rest == 0 {
        return whole.to_string();
    }
    let width = factor.ilog10() as usize;
    let decimals = format!("{rest:0width$}");
    format!("{whole}.{}", decimals.trim_end_matches('0'))
}

/// A duration exactly, in the largest unit (seconds at most) it reaches, with every decimal it
/// needs: `"10.208506s"`, `"882.5us"`. What a failed check shows, so that the figure never reads
/// as the bound it missed.
pub fn exact_duration(nanoseconds: u64) -> String {
    if nanoseconds == 0 {
        return "0s".to_string(); // as `format_duration` writes it
    }
    let (factor, symbol) = [
        (NANOS_PER_SECOND, "s"),
        (NANOS_PER_MILLISECOND, "ms"),
        (NANOS_PER_MICROSECOND, "us"),
    ]
    .into_iter()
    .find(|(factor, _)| nanoseconds >= *factor)
    .unwrap_or((1, "ns"));
    format!("{}{symbol}", exact_decimal(nanoseconds, factor))
}

/// What an `[expect]` key measures, which decides how its operands are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// A plain count (`role_sequence`, `lost_acknowledged`, failovers): a whole number.
    Count,
    /// A duration (`commit_latency_p99`, `unavailable`): a number with a unit, in ns.
    Duration,
}

impl Measure {
    /// Parses one operand of a comparison.
    pub fn parse(self, text: &str) -> Result<u64, ComparisonError> {
        match self {
            // `"> 0"`, `"0..0"`: zero is zero in every unit, as a bare `unavailable = 0` is
            // (it was refused inside a comparison: "needs a unit").
            Measure::Duration if is_bare_zero(text) => Ok(0),
            Measure::Duration => parse_duration(text).map_err(ComparisonError::Operand),
            Measure::Count => parse_count(text),
        }
    }

    /// Writes a value of this measure as a scenario would.
    pub fn format(self, value: u64) -> String {
        match self {
            Measure::Duration => format_duration(value),
            Measure::Count => value.to_string(),
        }
    }
}

/// `"0"`, `"0.0"`: a zero written without a unit.
fn is_bare_zero(text: &str) -> bool {
    let text = text.trim();
    text.contains('0')
        && text.matches('.').count() <= 1
        && text.chars().all(|c| matches!(c, '0' | '.'))
}

fn parse_count(text: &str) -> Result<u64, ComparisonError> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(ComparisonError::Operand(UnitError::Negative));
    }
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(ComparisonError::NotACount {
            written: text.to_string(),
        });
    }
    text.parse::<u64>().map_err(|_| {
        ComparisonError::Operand(UnitError::TooLarge {
            max: u64::MAX.to_string(),
        })
    })
}

/// A check on one measured number: `[expect]`'s `= n`, `"< x"`, `"<= x"`, `"> x"`, `">= x"` or
/// `"x..y"` (both ends included). Values are counts or nanoseconds, as the key says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Exactly this value (a bare number, or a string without an operator).
    Equal(u64),
    /// `"< x"`.
    Less(u64),
    /// `"<= x"`.
    LessOrEqual(u64),
    /// `"> x"`.
    Greater(u64),
    /// `">= x"`.
    GreaterOrEqual(u64),
    /// `"x..y"`: from `low` to `high`, both included.
    Within {
        /// The smallest value that holds.
        low: u64,
        /// The largest value that holds.
        high: u64,
    },
}

/// Why a comparison string could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ComparisonError {
    /// The operand is not a value of the key's measure.
    #[error("{0}")]
    Operand(UnitError),
    /// A count operand that is not a whole number.
    #[error("\"{written}\" is not a whole number; write e.g. \"> 0\", \"<= 2\" or \"1..3\"")]
    NotACount {
        /// The operand as written.
        written: String,
    },
    /// `"x..y"` with x greater than y.
    #[error("is an empty range: {low} is greater than {high}")]
    EmptyRange {
        /// The lower end as written.
        low: String,
        /// The upper end as written.
        high: String,
    },
    /// A comparison no value can satisfy, such as `"< 0"`.
    #[error("can never hold; nothing is below 0")]
    NeverHolds,
    /// A range not written `"x..y"`: three dots (`"50us...10ms"` read as `"50us..100us"`, the
    /// third dot taken for a leading decimal point), or a bound left out (`"10.."` was called
    /// empty).
    #[error("is not a range \"x..y\": {reason}")]
    MalformedRange {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An operator the comparisons do not have, such as `"=<"` or `"!="`.
    #[error("has an unknown operator \"{operator}\"; use <, <=, >, >=, = (or a bare value) or a range \"x..y\"")]
    UnknownOperator {
        /// The operator as written.
        operator: String,
    },
}

impl Comparison {
    /// Reads `"< 5ms"`, `">= 1"`, `"10..20"` or a bare operand (equality).
    pub fn parse(text: &str, measure: Measure) -> Result<Comparison, ComparisonError> {
        let text = text.trim();
        let operand = |rest: &str| measure.parse(rest);
        // "=<" read as "=" then "< 1", which was "not a whole number": the whole run of
        // operator characters at the start is the operator.
        let operator = text
            .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | ' '))
            .map_or(text, |end| &text[..end])
            .trim();
        if !matches!(operator, "" | "<" | "<=" | ">" | ">=" | "=" | "==") {
            return Err(ComparisonError::UnknownOperator {
                operator: operator.to_string(),
            });
        }
        let comparison = if let Some(rest) = text.strip_prefix("<=") {
            Comparison::LessOrEqual(operand(rest)?)
        } else if let Some(rest) = text.strip_prefix(">=") {
            Comparison::GreaterOrEqual(operand(rest)?)
        } else if let Some(rest) = text.strip_prefix('<') {
            Comparison::Less(operand(rest)?)
        } else if let Some(rest) = text.strip_prefix('>') {
            Comparison::Greater(operand(rest)?)
        } else if let Some(rest) = text.strip_prefix("==").or_else(|| text.strip_prefix('=')) {
            Comparison::Equal(operand(rest)?)
        } else if let Some((low_text, high_text)) = text.split_once("..") {
            if high_text.starts_with('.') {
                return Err(ComparisonError::MalformedRange {
                    reason: "write two dots between the bounds, not three",
                });
            }
            if low_text.trim().is_empty() || high_text.trim().is_empty() {
                return Err(ComparisonError::MalformedRange {
                    reason: "write both bounds, or use \"<=\" or \">=\" for one",
                });
            }
            let high = operand(high_text)?;
            // "10..12s": a bare low bound takes the high bound's unit, as one would say it.
            let unit = high_text
                .trim()
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
            let low = operand(low_text).or_else(|error| {
                let bare = low_text.trim();
                let is_number =
                    !bare.is_empty() && bare.chars().all(|c| c.is_ascii_digit() || c == '.');
                if is_number && !unit.is_empty() {
                    operand(&format!("{bare}{unit}"))
                } else {
                    Err(error)
                }
            })?;
            if low > high {
                return Err(ComparisonError::EmptyRange {
                    low: low_text.trim().to_string(),
                    high: high_text.trim().to_string(),
                });
            }
            Comparison::Within { low, high }
        } else {
            Comparison::Equal(operand(text)?)
        };
        if comparison == Comparison::Less(0) {
            return Err(ComparisonError::NeverHolds);
        }
        Ok(comparison)
    }

    /// Whether `actual` satisfies this comparison.
    pub fn holds(&self, actual: u64) -> bool {
        match *self {
            Comparison::Equal(value) => actual == value,
            Comparison::Less(value) => actual < value,
            Comparison::LessOrEqual(value) => actual <= value,
            Comparison::Greater(value) => actual > value,
            Comparison::GreaterOrEqual(value) => actual >= value,
            Comparison::Within { low, high } => (low..=high).contains(&actual),
        }
    }

    /// Writes the comparison back as a scenario would: `"< 5ms"`, `"1"`, `"10..20"`.
    pub fn describe(&self, measure: Measure) -> String {
        let value = |value: u64| measure.format(value);
        match *self {
            Comparison::Equal(bound) => value(bound),
            Comparison::Less(bound) => format!("< {}", value(bound)),
            Comparison::LessOrEqual(bound) => format!("<= {}", value(bound)),
            Comparison::Greater(bound) => format!("> {}", value(bound)),
            Comparison::GreaterOrEqual(bound) => format!(">= {}", value(bound)),
            Comparison::Within { low, high } => format!("{}..{}", value(low), value(high)),
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Measure::Count => "count",
            Measure::Duration => "duration",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_resolve_to_exact_nanoseconds() {
        assert_eq!(parse_duration("250us"), Ok(250_000));
        assert_eq!(parse_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration("10s"), Ok(10 * NANOS_PER_SECOND));
        assert_eq!(parse_duration("2m"), Ok(120 * NANOS_PER_SECOND));
        assert_eq!(parse_duration("1h"), Ok(3_600 * NANOS_PER_SECOND));
        assert_eq!(parse_duration("30d"), Ok(30 * NANOS_PER_DAY));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert_eq!(parse_duration(" 15 ms "), Ok(15 * NANOS_PER_MILLISECOND));
        assert_eq!(parse_duration(".5s"), Ok(500 * NANOS_PER_MILLISECOND));
        assert_eq!(parse_duration("7ns"), Ok(7));
    }

    #[test]
    fn a_duration_without_a_unit_says_which_unit_to_add() {
        assert_eq!(
            parse_duration("30"),
            Err(UnitError::MissingUnit {
                example: "30s".to_string(),
                other: Some("30ms".to_string()),
            })
        );
        let message = parse_duration("30").unwrap_err().to_string();
        assert_eq!(message, "needs a unit, e.g. \"30s\" or \"30ms\"");
    }

    #[test]
    fn bad_durations_are_errors_not_guesses() {
        assert!(matches!(parse_duration(""), Err(UnitError::Empty { .. })));
        assert!(matches!(
            parse_duration("10 sec"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("10S"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(parse_duration("-1s"), Err(UnitError::Negative));
        assert!(matches!(
            parse_duration("1.2.3s"),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(
            parse_duration("ms"),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(
            parse_duration("."),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(
            parse_duration("1e3s"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_duration("0.5ns"),
            Err(UnitError::NotWhole {
                smallest: "nanoseconds"
            })
        );
        assert!(matches!(
            parse_duration("600000d"),
            Err(UnitError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999999999999999999h"),
            Err(UnitError::TooLarge { .. })
        ));
    }

    #[test]
    fn sizes_binary_and_decimal() {
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("60KiB"), Ok(60 * 1024));
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("2KB"), Ok(2_000));
        assert_eq!(parse_size("3MB"), Ok(3_000_000));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("512B"), Ok(512));
        assert!(matches!(
            parse_size("0.1KiB"),
            Err(UnitError::NotWhole { .. })
        ));
        assert!(matches!(
            parse_size("4kib"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_size("20"),
            Err(UnitError::MissingUnit {
                example: "20MiB".to_string(),
                other: Some("20B".to_string()),
            })
        );
    }

    #[test]
    fn rates_in_bits_and_bytes() {
        assert_eq!(parse_bits_per_second("1Gbit/s"), Ok(1_000_000_000));
        assert_eq!(parse_bits_per_second("100Mbit/s"), Ok(100_000_000));
        assert_eq!(parse_bits_per_second("8Mbit/s"), Ok(8_000_000));
        assert_eq!(parse_bits_per_second("1MiB/s"), Ok(8 << 20));
        assert_eq!(parse_bytes_per_second("500MiB/s"), Ok(500 << 20));
        assert_eq!(parse_bytes_per_second("1Gbit/s"), Ok(125_000_000));
        assert!(matches!(
            parse_bytes_per_second("1bit/s"),
            Err(UnitError::NotWhole { .. })
        ));
        assert!(matches!(
            parse_bits_per_second("1Gbit"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_bits_per_second("100"),
            Err(UnitError::MissingUnit {
                example: "100Mbit/s".to_string(),
                other: Some("100Gbit/s".to_string()),
            })
        );
    }

    #[test]
    fn drift_as_signed_percent() {
        assert_eq!(parse_drift_ppm("+2%"), Ok(20_000));
        assert_eq!(parse_drift_ppm("-0.5%"), Ok(-5_000));
        assert_eq!(parse_drift_ppm("3%"), Ok(30_000));
        assert_eq!(parse_drift_ppm("0%"), Ok(0));
        assert!(matches!(
            parse_drift_ppm("+2"),
            Err(UnitError::MissingUnit { .. })
        ));
        assert!(matches!(
            parse_drift_ppm("2x"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_drift_ppm("+0.00001%"),
            Err(UnitError::NotWhole { .. })
        ));
        assert!(matches!(
            parse_drift_ppm("+%"),
            Err(UnitError::NotANumber { .. })
        ));
        assert!(matches!(parse_drift_ppm(""), Err(UnitError::Empty { .. })));
    }

    #[test]
    fn formatting_round_trips() {
        for text in [
            "250us", "1.5ms", "10s", "2m", "1h", "0s", "7ns", "720h", "26.3s", "38.25us", "90s",
            "1.001s", "3630s", "1.5us",
        ] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        // A whole value in a smaller unit is written with decimals in the larger one.
        assert_eq!(format_duration(parse_duration("26300ms").unwrap()), "26.3s");
        assert_eq!(format_duration(parse_duration("1500us").unwrap()), "1.5ms");
        for text in ["4KiB", "60KiB", "10GiB", "3MB", "700B", "1537B"] {
            assert_eq!(format_size(parse_size(text).unwrap()), text);
        }
        for text in ["1Gbit/s", "100Mbit/s", "12bit/s"] {
            assert_eq!(format_bandwidth(parse_bits_per_second(text).unwrap()), text);
        }
        for text in ["500MiB/s", "3MB/s", "9B/s"] {
            assert_eq!(
                format_throughput(parse_bytes_per_second(text).unwrap()),
                text
            );
        }
        for text in ["+2%", "-0.5%", "+0%", "+0.0001%"] {
            assert_eq!(format_drift(parse_drift_ppm(text).unwrap()), text);
        }
    }

    #[test]
    fn measured_durations_read_well() {
        assert_eq!(describe_duration(1_400_000), "1.4ms");
        assert_eq!(describe_duration(11_200_000_000), "11.2s");
        assert_eq!(describe_duration(610_000), "610us");
        assert_eq!(describe_duration(0), "0s");
        assert_eq!(describe_duration(999), "999ns");
        assert_eq!(
            parse_duration("4e1s").unwrap_err().to_string(),
            "has an exponent; write the number in full, with one of the units ns, us, ms, s, m, h, d"
        );
        // Never rounded to a whole number it is not (a check "> 5s" held beside "5s").
        assert_eq!(describe_duration(5_001_003_000), "5.001s");
        assert_eq!(describe_duration(4_999_900_000), "4.9999s");
        assert_eq!(describe_duration(10_208_506_000), "10.21s");
        assert_eq!(exact_duration(10_208_506_000), "10.208506s");
        assert_eq!(exact_duration(882_500), "882.5us");
        assert_eq!(exact_duration(5_000_000_000), "5s");
        assert_eq!(exact_duration(999), "999ns");
        assert_eq!(exact_duration(0), "0s"); // as a passing check shows it
    }

    #[test]
    fn comparisons_parse_and_hold() {
        let latency = Comparison::parse("< 5ms", Measure::Duration).unwrap();
        assert_eq!(latency, Comparison::Less(5_000_000));
        assert!(latency.holds(4_999_999));
        assert!(!latency.holds(5_000_000));

        let at_most = Comparison::parse("<= 5ms", Measure::Duration).unwrap();
        assert!(at_most.holds(5_000_000));
        assert!(!at_most.holds(5_000_001));

        let some = Comparison::parse("> 0", Measure::Count).unwrap();
        assert!(some.holds(1));
        assert!(!some.holds(0));

        let at_least = Comparison::parse(">=2", Measure::Count).unwrap();
        assert!(at_least.holds(2));
        assert!(!at_least.holds(1));

        let range = Comparison::parse("10..20", Measure::Count).unwrap();
        assert!(range.holds(10) && range.holds(20) && range.holds(15));
        assert!(!range.holds(9) && !range.holds(21));

        let equal = Comparison::parse("3", Measure::Count).unwrap();
        assert!(equal.holds(3) && !equal.holds(4));
        assert_eq!(
            Comparison::parse("= 3", Measure::Count),
            Ok(Comparison::Equal(3))
        );
        assert_eq!(
            Comparison::parse("1s..2s", Measure::Duration),
            Ok(Comparison::Within {
                low: NANOS_PER_SECOND,
                high: 2 * NANOS_PER_SECOND
            })
        );
        // A bare low bound takes the high bound's unit ("10..12s" was refused: needs a unit).
        assert_eq!(
            Comparison::parse("1..2s", Measure::Duration),
            Comparison::parse("1s..2s", Measure::Duration)
        );
        assert_eq!(
            Comparison::parse("0.5..2 ms", Measure::Duration),
            Comparison::parse("500us..2ms", Measure::Duration)
        );
        assert!(Comparison::parse("1..2", Measure::Duration).is_err());
    }

    // spec/scenario.md, Expectations: `"> 0"` is the spec's own example of a comparison; on a
    // duration key (`unavailable = "> 0"`) it was refused for want of a unit, while a bare
    // `unavailable = 0` was accepted. Zero needs no unit; any other bare operand still does.
    #[test]
    fn a_duration_compared_with_zero_needs_no_unit() {
        let some = Comparison::parse("> 0", Measure::Duration).unwrap();
        assert_eq!(some, Comparison::Greater(0));
        assert!(some.holds(1) && !some.holds(0));
        assert_eq!(
            Comparison::parse(">= 0.0", Measure::Duration),
            Ok(Comparison::GreaterOrEqual(0))
        );
        assert_eq!(
            Comparison::parse("0..0", Measure::Duration),
            Ok(Comparison::Within { low: 0, high: 0 })
        );
        assert_eq!(
            Comparison::parse("0..1s", Measure::Duration),
            Comparison::parse("0s..1s", Measure::Duration)
        );
        assert_eq!(
            Comparison::parse("< 0", Measure::Duration),
            Err(ComparisonError::NeverHolds)
        );
        for written in ["> 1", "> 0.5", "0..1", "> 00.0.", "> .", "> 10"] {
            assert!(
                Comparison::parse(written, Measure::Duration).is_err(),
                "{written}"
            );
        }
    }

    // Audit AQ: "50us...10ms" was read as "50us..100us" (the third dot a decimal point), a
    // check a hundred times tighter than written; "10.." was called empty.
    #[test]
    fn a_range_has_two_dots_and_both_bounds() {
        for (written, reason) in [
            ("50us...10ms", "not three"),
            ("5ms...10ms", "not three"),
            ("10ms..", "both bounds"),
            ("..10ms", "both bounds"),
            ("1..", "both bounds"),
        ] {
            let measure = if written == "1.." {
                Measure::Count
            } else {
                Measure::Duration
            };
            let error = Comparison::parse(written, measure).unwrap_err();
            assert!(
                matches!(error, ComparisonError::MalformedRange { .. })
                    && error.to_string().contains(reason),
                "{written}: {error}"
            );
        }
        assert_eq!(
            Comparison::parse("50us..10ms", Measure::Duration),
            Ok(Comparison::Within {
                low: 50_000,
                high: 10_000_000
            })
        );
    }

    #[test]
    fn bad_comparisons_are_errors() {
        assert!(matches!(
            Comparison::parse("< 5", Measure::Duration),
            Err(ComparisonError::Operand(UnitError::MissingUnit { .. }))
        ));
        assert!(matches!(
            Comparison::parse("20..10", Measure::Count),
            Err(ComparisonError::EmptyRange { .. })
        ));
        assert_eq!(
            Comparison::parse("< 0", Measure::Count),
            Err(ComparisonError::NeverHolds)
        );
        assert!(matches!(
            Comparison::parse("> 1.5", Measure::Count),
            Err(ComparisonError::NotACount { .. })
        ));
        for written in ["<=> 1", "><1", ">=< 1", "<=<1", "< = 1", "!= 1", "=< 1"] {
            assert!(
                matches!(
                    Comparison::parse(written, Measure::Count),
                    Err(ComparisonError::UnknownOperator { .. })
                ),
                "{written}"
            );
        }
        assert!(matches!(
            Comparison::parse("=> 1", Measure::Count),
            Err(ComparisonError::UnknownOperator { .. })
        ));
        assert!(matches!(
            Comparison::parse("", Measure::Count),
            Err(ComparisonError::NotACount { .. })
        ));
        assert!(matches!(
            Comparison::parse("..", Measure::Count),
            Err(ComparisonError::MalformedRange { .. })
        ));
    }

    #[test]
    fn comparisons_describe_themselves_as_written() {
        for (text, measure) in [
            ("< 5ms", Measure::Duration),
            ("<= 15s", Measure::Duration),
            ("> 0", Measure::Count),
            (">= 2", Measure::Count),
            ("10..20", Measure::Count),
            ("1", Measure::Count),
        ] {
            let comparison = Comparison::parse(text, measure).unwrap();
            assert_eq!(comparison.describe(measure), text);
        }
    }
}
