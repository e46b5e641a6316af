//! From the file as written ([`RawScenario`]) to the resolved [`Scenario`]: defaults, units,
//! bounds, names, references and SQL, each failure reported at the value it is about.

use std::{
    collections::BTreeMap,
    ops::{Range, RangeInclusive},
    path::Path,
};

use toml::Value;

use crate::engine::dblog::TRANSACTION_LOG_BYTES_MAX;

use super::{
    error::{Problem, ScenarioError},
    model::{
        AllowedStepError, Arrivals, Database, Disk, Edition, Expectations, FailoverExpectations,
        Fault, FaultKind, HealScope, Instance, InstanceId, Link, LinkParameters, Network,
        RecoveryModel, RoleHolder, Scenario, SessionState, Step, Workload, WorkloadStart,
    },
    raw::{
        RawDatabase, RawDisk, RawExpect, RawFault, RawInstance, RawLink, RawNetwork, RawPair,
        RawScenario, RawStep, RawValue, RawWorkload,
    },
    source::{offset_of_character, Location},
    units::{
        parse_bits_per_second, parse_bytes_per_second, parse_drift_ppm, parse_duration, parse_size,
        Comparison, Measure, UnitError,
    },
    CLIENTS_MAX, CPUS_MAX, DURATION_MAX_NS, RATE_MAX,
};

mod expect;
mod faults;

/// The most instances a scenario may name: the protocol numbers them with one byte.
const INSTANCES_MAX: usize = 255;

type Resolved<T> = Result<T, ScenarioError>;
type Span = Range<usize>;

/// Defaults of spec/scenario.md.
const ONE_WAY_DEFAULT_NS: u64 = 250_000;
const BANDWIDTH_DEFAULT_BITS_PER_SECOND: u64 = 1_000_000_000;
const FLUSH_DEFAULT_NS: u64 = 200_000;
const THROUGHPUT_DEFAULT_BYTES_PER_SECOND: u64 = 500 << 20;
const REDO_RATE_DEFAULT_BYTES_PER_SECOND: u64 = 100 << 20;
const LOG_BACKUP_INTERVAL_DEFAULT_NS: u64 = 15 * 60 * 1_000_000_000;
/// The shortest log backup interval accepted: one second.
const LOG_BACKUP_INTERVAL_MIN_NS: u64 = 1_000_000_000;
const LOG_BYTES_DEFAULT: [u64; 2] = [200, 4000];
/// The open-loop rate of a `[workload]` that sets neither `rate` nor `clients`.
const RATE_DEFAULT: f64 = 2000.0;
/// The database's name when `[database].name` is not set.
const DATABASE_NAME_DEFAULT: &str = "Sales";
/// The database's data size when `[database].size` is not set: 20GiB.
const DATABASE_SIZE_DEFAULT_BYTES: u64 = 20 << 30;

/// The domain of the default host: instance `alpha` is at `alpha.corp.example`.
const HOST_DEFAULT_DOMAIN: &str = "corp.example";
/// The prefix of the default service account: instance `alpha` runs as `CORP\svc-alpha`.
const SERVICE_ACCOUNT_DEFAULT_PREFIX: &str = "CORP\\svc-";
const CPUS_DEFAULT: u32 = 8;
/// SQL Server error numbers are positive 32-bit integers.
const SQL_ERROR_MAX: i64 = i32::MAX as i64;

const EDITIONS: &[(&str, Edition)] = &[
    ("enterprise", Edition::Enterprise),
    ("standard", Edition::Standard),
    ("workgroup", Edition::Workgroup),
    ("express", Edition::Express),
];
const RECOVERY_MODELS: &[(&str, RecoveryModel)] = &[
    ("full", RecoveryModel::Full),
    ("bulk_logged", RecoveryModel::BulkLogged),
    ("simple", RecoveryModel::Simple),
];
const WORKLOAD_STARTS: &[(&str, WorkloadStart)] = &[
    ("after_setup", WorkloadStart::AfterSetup),
    ("at_start", WorkloadStart::AtStart),
];
const FAULT_KINDS: &str = "crash, power_off, restart, pause, resume, partition, loss, slow_link, \
                           slow_disk, disk_full, corrupt_page, clock_skew, heal";

/// How one kind of value with a unit is read, for error messages that say what to write.
struct QuantityKind {
    parse: fn(&str) -> Result<u64, UnitError>,
    expected: &'static str,
}

const DURATION: QuantityKind = QuantityKind {
    parse: parse_time,
    expected: "a duration with a unit, e.g. \"10s\" or \"250us\"",
};
const SIZE: QuantityKind = QuantityKind {
    parse: parse_size,
    expected: "a size with a unit, e.g. \"4KiB\" or \"20GiB\"",
};
const BANDWIDTH: QuantityKind = QuantityKind {
    parse: parse_bits_per_second,
    expected: "a rate with a unit, e.g. \"1Gbit/s\" or \"100Mbit/s\"",
};
const THROUGHPUT: QuantityKind = QuantityKind {
    parse: parse_bytes_per_second,
    expected: "a rate with a unit, e.g. \"500MiB/s\"",
};

/// A duration; one beyond what the clock holds is refused with the bound a scenario's times
/// have (30 days), not the clock's own (about 584 years, which no time may reach anyway).
fn parse_time(text: &str) -> Result<u64, UnitError> {
    parse_duration(text).map_err(|error| match error {
        UnitError::TooLarge { .. } => UnitError::TooLarge {
            max: "30d (720h)".to_string(),
        },
        other => other,
    })
}

/// Resolves a scenario read from `file`, whose text is `source`.
pub(super) fn resolve(raw: &RawScenario, source: &str, file: &Path) -> Resolved<Scenario> {
    let mut resolver = Resolver {
        source,
        file,
        names: BTreeMap::new(),
    };
    let (name, seed, duration_ns) = resolver.top_level(raw)?;
    let instances = resolver.instances(raw)?;
    let database = resolver.database(raw.database.get_ref())?;
    let network = resolver.network(raw.network.as_ref())?;
    let disk = resolver.disk(raw.disk.as_ref())?;
    // spec/scenario.md: "everything else has the default shown", and the `[workload]` it
    // shows is an open loop at 2,000 per second: a scenario without the table has that one.
    let workload = match raw.workload.as_ref() {
        Some(workload) => resolver.workload(workload.get_ref())?,
        None => resolver.workload(&RawWorkload::default())?,
    };
    let workload = Some(workload);
    let steps = resolver.steps(&raw.step)?;
    let faults = resolver.faults(&raw.fault)?;
    let expect = match &raw.expect {
        Some(expect) => resolver.expectations(expect, steps.len())?,
        None => Expectations::default(),
    };
    Ok(Scenario {
        name,
        description: raw.description.clone().unwrap_or_default(),
        seed,
        duration_ns,
        instances,
        database,
        steps,
        network,
        disk,
        workload,
        faults,
        expect,
    })
}

/// Turns a TOML reader error (syntax, unknown key, missing key, wrong type) into one with a
/// line, a column, the key it is about, and what to change (a suggestion for a misspelt key).
pub(super) fn toml_error(error: &toml::de::Error, source: &str, file: &Path) -> ScenarioError {
    let span = error.span();
    let at = span.clone().map_or(Location::START, |span| {
        Location::of_offset(source, span.start)
    });
    ScenarioError::Invalid {
        file: file.to_path_buf(),
        at,
        problem: Box::new(Problem::Toml {
            message: explain_toml_message(error.message(), source, span),
        }),
    }
}

/// A table of the format written as an array of values (see `raw::misplaced_table`).
pub(super) fn not_a_table(
    source: &str,
    file: &Path,
    span: Span,
    key: &str,
    entry: bool,
) -> ScenarioError {
    let message = if entry {
        "each entry is a table of named keys (`{ key = value, ... }`), not an array of values"
            .to_string()
    } else {
        let last = key.rsplit('.').next().unwrap_or(key);
        format!("expected one table of named keys (`[{key}]` or `{last} = {{ key = value, ... }}`), not an array")
    };
    ScenarioError::Invalid {
        file: file.to_path_buf(),
        at: Location::of_offset(source, span.start),
        problem: Box::new(Problem::Rule {
            key: key.to_string(),
            message,
        }),
    }
}

/// Completes the TOML reader's message with the key and what to change, on one line, in the
/// words of a scenario file (never the names of the reader's Rust types).
fn explain_toml_message(message: &str, source: &str, span: Option<Span>) -> String {
    let message = message.trim().replace('\n', "; ");
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let Some((unknown, expected)) = rest.split_once('`') else {
            return message;
        };
        let choices = backticked_words(expected);
        let hint = closest_word(unknown, &choices)
            .map(|closest| format!("did you mean `{closest}`? "))
            .unwrap_or_default();
        return format!(
            "unknown key `{unknown}`; {hint}remove it or use one of the keys this table takes: {}",
            choices.join(", ")
        );
    }
    if message.starts_with("duplicate key") {
        return explain_duplicate_key(&message, source, span);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.rsplit_once(", expected ") {
            let key = span.as_ref().map(|span| key_at(source, span.start));
            // The reader hands a date-time over as a table of one hidden key: say what it is.
            let datetime = span
                .and_then(|span| source.get(span))
                .map(str::trim)
                .filter(|text| found == "map" && text.parse::<toml::value::Datetime>().is_ok());
            if let Some(text) = datetime {
                let found = format!("a date-time, {text}");
                return explain_invalid_type(key.as_deref(), &found, expected, source);
            }
            return explain_invalid_type(key.as_deref(), found, expected, source);
        }
    }
    // Numbers beyond what the file format or the key can hold: the reader's own words name
    // neither the key nor a fix.
    let beyond = message.contains("value was too large")
        || message.contains("number overflowed")
        || (message.starts_with("invalid value: integer") && message.contains(", expected "));
    if beyond {
        let key = span
            .map(|span| key_at(source, span.start))
            .filter(|key| !key.is_empty())
            .map(|key| format!("{key}: "))
            .unwrap_or_default();
        return format!(
            "{key}the number is too large; spec/scenario.md gives each key's range (whole \
             numbers are at most {})",
            i64::MAX
        );
    }
    // A Windows account or path in a double-quoted string: `"CORP\svc-alpha"` starts an escape.
    if message.contains("escaped value") || message.contains("invalid escape") {
        return format!(
            "{message}; in a double-quoted string a backslash starts an escape: write it twice \
             (\"CORP\\\\svc-alpha\") or use single quotes ('CORP\\svc-alpha')"
        );
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let missing = rest.split('`').next().unwrap_or(rest);
        // Only keys without a default get here: a key with one is optional in `raw`.
        return format!("missing key `{missing}`; add it: it has no default (spec/scenario.md)");
    }
    message
}

/// A key set twice: name it, and for a table header, point at `[[name]]` when a single-bracket
/// `[name]` stands where an array of tables is meant.
fn explain_duplicate_key(message: &str, source: &str, span: Option<Span>) -> String {
    let written = span
        .and_then(|span| source.get(span))
        .map(|text| text.trim().trim_matches(|c| c == '"' || c == '\''))
        .filter(|text| !text.is_empty() && text.len() <= 64 && !text.contains('\n'));
    let Some(key) = written else {
        return format!("{message}; a key may be set only once in a table");
    };
    if has_header(source, &format!("[{key}]")) {
        // Only the lists of spec/scenario.md take `[[name]]`; every other table is declared once.
        if ARRAYS_OF_TABLES.contains(&key) {
            return format!(
                "duplicate key `{key}`: [{key}] declares a single table, so it cannot be \
                 declared again; write [[{key}]] (two brackets) before each entry"
            );
        }
        return format!(
            "duplicate key `{key}`: [{key}] is declared twice; declare it once, with all its \
             keys under it"
        );
    }
    format!("duplicate key `{key}`: it is already set in this table; keep only one")
}

/// The tables a scenario lists, one `[[name]]` per entry (spec/scenario.md).
const ARRAYS_OF_TABLES: [&str; 3] = ["instance", "step", "fault"];

/// Whether `header` (`[name]` or `[[name]]`) stands alone on a line of `source`.
fn has_header(source: &str, header: &str) -> bool {
    source.lines().any(|line| {
        let line = line.split('#').next().unwrap_or("").trim();
        line == header
    })
}

/// `invalid type: FOUND, expected EXPECTED` in the words of spec/scenario.md, with the key.
fn explain_invalid_type(key: Option<&str>, found: &str, expected: &str, source: &str) -> String {
    let prefix = key
        .filter(|key| !key.is_empty())
        .map(|key| format!("{key}: "))
        .unwrap_or_default();
    // A whole number beyond TOML's 64 bits is read as a wider integer the file cannot hold.
    if let Some(number) = found
        .strip_prefix("integer `")
        .and_then(|rest| rest.split_once('`'))
        .filter(|(_, after)| after.starts_with(" as "))
        .map(|(number, _)| number)
    {
        return format!(
            "{prefix}{number} is too large; a whole number here must be at most {}",
            i64::MAX
        );
    }
    let found = found_in_words(found);
    let last = key.and_then(|key| key.rsplit(['.', ' ']).next());
    // `[instance]` where `[[instance]]` is meant: a table where an array of tables goes.
    if found == "a table" && expected == "a sequence" {
        if let Some(name) = last.filter(|name| has_header(source, &format!("[{name}]"))) {
            return format!(
                "{prefix}[{name}] declares a single table; write [[{name}]] (two brackets) \
                 before each entry"
            );
        }
    }
    let expected = expected_in_words(expected, last);
    format!("{prefix}expected {expected}, found {found}")
}

/// The TOML reader's name for what it found, as a scenario file shows it: the value itself.
fn found_in_words(found: &str) -> String {
    let backticked = |prefix: &str| {
        found
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('`'))
            .and_then(|rest| rest.strip_suffix('`'))
            .map(str::to_string)
    };
    if let Some(text) = found.strip_prefix("string ") {
        return text.to_string();
    }
    for prefix in ["integer ", "floating point ", "boolean "] {
        if let Some(value) = backticked(prefix) {
            return value;
        }
    }
    match found {
        "map" => "a table".to_string(),
        "sequence" => "an array".to_string(),
        other => other.to_string(),
    }
}

/// The TOML reader's name for what a key takes, in the words of spec/scenario.md; `key` (its
/// last part) picks the example for a table.
fn expected_in_words(expected: &str, key: Option<&str>) -> String {
    if expected.starts_with("struct ") || expected == "a map" {
        return match key {
            Some("failovers") => {
                "a table, e.g. { automatic = 1, manual = 0, forced = 0 }".to_string()
            }
            Some("step_errors") => "a table, e.g. { step = 7, error = 1418 }".to_string(),
            _ => "a table".to_string(),
        };
    }
    match expected {
        "i64" | "u64" | "i32" | "u32" | "usize" | "a whole number" => "a whole number".to_string(),
        "f64" | "f32" => "a number".to_string(),
        "a sequence" => match key {
            Some("step_errors") => "an array, e.g. [{ step = 7, error = 1418 }]".to_string(),
            Some("between") => "an array, e.g. [\"alpha\", \"beta\"]".to_string(),
            _ => "an array".to_string(),
        },
        "a boolean" => "true or false".to_string(),
        other => other.to_string(),
    }
}

/// How the key whose value starts at byte `offset` is named in messages: `seed`,
/// `expect.failovers`, `step 16: expect_error`, `expect.step_errors.error`. Read back from the
/// text (the TOML reader does not say): the last table header above, numbered for an array of
/// tables, then the keys on the line that lead to the value.
fn key_at(source: &str, offset: usize) -> String {
    let offset = (0..=offset.min(source.len()))
        .rev()
        .find(|&i| source.is_char_boundary(i))
        .unwrap_or(0);
    let line_start = source[..offset]
        .rfind('\n')
        .map_or(0, |newline| newline + 1);
    let line_end = source[offset..]
        .find('\n')
        .map_or(source.len(), |newline| offset + newline);
    if let Some((name, _)) = header(&source[line_start..line_end]) {
        return name; // the value is the table that this header opens
    }
    let keys = keys_leading_to(&source[line_start..offset]).join(".");
    let table = table_above(&source[..line_start]);
    match (table, keys.is_empty()) {
        (None, _) => keys,
        (Some(table), true) => table,
        (Some(table), false) if table.ends_with(|c: char| c.is_ascii_digit()) => {
            format!("{table}: {keys}")
        }
        (Some(table), false) => format!("{table}.{keys}"),
    }
}

/// The keys, outermost first, whose values enclose the end of `line` (the text of a line up to
/// a value): `failovers = { automatic = ` gives `failovers`, `automatic`.
fn keys_leading_to(line: &str) -> Vec<String> {
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    let mut quote = None;
    for c in line.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '{' | '[' => {
                depth += 1;
                word.clear();
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                open.retain(|(_, d)| *d < depth + 1);
                word.clear();
            }
            ',' => {
                open.retain(|(_, d)| *d < depth);
                word.clear();
            }
            '=' => {
                open.retain(|(_, d)| *d < depth);
                open.push((word.trim().to_string(), depth));
                word.clear();
            }
            '#' => break,
            _ => word.push(c),
        }
    }
    open.into_iter()
        .map(|(key, _)| key)
        .filter(|key| !key.is_empty())
        .collect()
}

/// The table the text after `before` belongs to: `expect`, `database`, `step 16` (the 16th
/// `[[step]]`), or `None` at the top level.
fn table_above(before: &str) -> Option<String> {
    let (name, array) = before.lines().rev().find_map(header)?;
    if !array {
        return Some(name);
    }
    let number = before
        .lines()
        .filter_map(header)
        .filter(|(other, is_array)| *is_array && *other == name)
        .count();
    Some(format!("{name} {number}"))
}

/// The table a header line opens, and whether it is an entry of an array of tables
/// (`[[step]]`); `None` for any other line.
fn header(line: &str) -> Option<(String, bool)> {
    let line = line.split('#').next().unwrap_or("").trim();
    let (name, array) = if let Some(inner) = line.strip_prefix("[[") {
        (inner.strip_suffix("]]")?, true)
    } else {
        (line.strip_prefix('[')?.strip_suffix(']')?, false)
    };
    let name = name.trim();
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    plain.then(|| (name.to_string(), array))
}

fn backticked_words(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The choice within edit distance 2 of `word` (a third of its length for short words), if any.
fn closest_word<'a>(word: &str, choices: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 2);
    choices
        .iter()
        .map(|choice| (edit_distance(word, choice), *choice))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, choice)| choice)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The value as the file wrote it: `"30"` (quoted) for a string, `30` for a number.
fn written(value: &Value) -> String {
    match value {
        // As short as written: 1e308 printed all of its 309 digits.
        Value::Float(number) if number.is_finite() && number.abs() >= 1e16 => format!("{number:e}"),
        _ => value.to_string(),
    }
}

/// Where a host was declared: the line of its value, or of the instance's name when the host
/// is the default made from that name.
struct HostDeclared {
    line: usize,
    /// The instance's name when the host is not written but defaulted from it.
    defaulted_from: Option<String>,
}

impl HostDeclared {
    fn of(source: &str, raw: &RawInstance) -> Self {
        match &raw.host {
            Some(host) => HostDeclared {
                line: Location::of_offset(source, host.span().start).line,
                defaulted_from: None,
            },
            None => HostDeclared {
                line: Location::of_offset(source, raw.name.span().start).line,
                defaulted_from: Some(raw.name.get_ref().clone()),
            },
        }
    }
}

/// Why `host` cannot be this instance's (`here`) when `first` already has it, saying which of
/// the two is a default made from a name.
fn host_taken(host: &str, here: &HostDeclared, first: &HostDeclared) -> String {
    let this = match &here.defaulted_from {
        Some(name) => format!(
            "not set, so it is \"{host}\" (the default for the name \"{name}\": \
             <name>.{HOST_DEFAULT_DOMAIN}), which"
        ),
        None => format!("\"{host}\""),
    };
    let there = match &first.defaulted_from {
        Some(name) => format!(
            "is already the host of instance \"{name}\" (line {}) by default",
            first.line
        ),
        None => format!("is already used on line {}", first.line),
    };
    format!("{this} {there}; hosts must be unique: set `host` on one of them to another name")
}

struct Resolver<'a> {
    source: &'a str,
    file: &'a Path,
    /// Instance names, to their id and the line that declares them.
    names: BTreeMap<String, (InstanceId, usize)>,
}

impl Resolver<'_> {
    fn error(&self, span: Span, problem: Problem) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_path_buf(),
            at: Location::of_offset(self.source, span.start),
            problem: Box::new(problem),
        }
    }

    fn rule(&self, span: Span, key: &str, message: impl Into<String>) -> ScenarioError {
        self.error(
            span,
            Problem::Rule {
                key: key.to_string(),
                message: message.into(),
            },
        )
    }

    fn out_of_range(&self, span: Span, key: &str, written: String, rule: &str) -> ScenarioError {
        self.error(
            span,
            Problem::OutOfRange {
                key: key.to_string(),
                written,
                rule: rule.to_string(),
            },
        )
    }

    // ---- values -------------------------------------------------------------------------

    fn quantity(&self, key: &str, value: &RawValue, kind: &QuantityKind) -> Resolved<u64> {
        let text = match value.get_ref() {
            Value::String(text) => text.clone(),
            // A bare number: the parser says which unit to add.
            Value::Integer(number) => number.to_string(),
            Value::Float(number) => number.to_string(),
            other => {
                return Err(self.error(
                    value.span(),
                    Problem::WrongType {
                        key: key.to_string(),
                        expected: kind.expected,
                        written: written(other),
                    },
                ))
            }
        };
        (kind.parse)(&text).map_err(|reason| {
            self.error(
                value.span(),
                Problem::Quantity {
                    key: key.to_string(),
                    written: written(value.get_ref()),
                    reason,
                },
            )
        })
    }

    /// A time: at most the longest run, so that no sum of times the simulator makes (a
    /// latency added to a moment of the run) can overflow.
    fn duration(&self, key: &str, value: &RawValue) -> Resolved<u64> {
        let ns = self.quantity(key, value, &DURATION)?;
        if ns > DURATION_MAX_NS {
            return Err(self.out_of_range(
                value.span(),
                key,
                written(value.get_ref()),
                "at most 30 days (\"720h\"), the longest run",
            ));
        }
        Ok(ns)
    }

    fn positive(&self, key: &str, value: &RawValue, kind: &QuantityKind) -> Resolved<u64> {
        let resolved = self.quantity(key, value, kind)?;
        if resolved == 0 {
            return Err(self.out_of_range(
                value.span(),
                key,
                written(value.get_ref()),
                "greater than 0",
            ));
        }
        Ok(resolved)
    }

    fn optional(
        &self,
        key: &str,
        value: Option<&RawValue>,
        default: u64,
        resolve: impl Fn(&str, &RawValue) -> Resolved<u64>,
    ) -> Resolved<u64> {
        value.map_or(Ok(default), |value| resolve(key, value))
    }

    fn integer(
        &self,
        key: &str,
        value: &serde_spanned::Spanned<i64>,
        range: RangeInclusive<i64>,
    ) -> Resolved<i64> {
        let number = *value.get_ref();
        if !range.contains(&number) {
            let rule = format!("from {} to {}", range.start(), range.end());
            return Err(self.out_of_range(value.span(), key, number.to_string(), &rule));
        }
        Ok(number)
    }

    fn word<T: Copy>(
        &self,
        key: &str,
        value: &serde_spanned::Spanned<String>,
        choices: &'static [(&'static str, T)],
        listing: &'static str,
    ) -> Resolved<T> {
        let lower = value.get_ref().trim().to_ascii_lowercase();
        choices
            .iter()
            .find(|(word, _)| *word == lower)
            .map(|(_, choice)| *choice)
            .ok_or_else(|| {
                self.error(
                    value.span(),
                    Problem::UnknownWord {
                        key: key.to_string(),
                        written: value.get_ref().clone(),
                        choices: listing,
                    },
                )
            })
    }

    fn not_empty(&self, key: &str, value: &serde_spanned::Spanned<String>) -> Resolved<String> {
        if value.get_ref().trim().is_empty() {
            return Err(self.rule(value.span(), key, "must not be empty"));
        }
        Ok(value.get_ref().clone())
    }

    /// A name the reports print as it is (an instance, a host, an account, the database): not
    /// empty, and without control characters, which could forge a line of the human report
    /// (a newline, a carriage return, a terminal escape).
    fn plain_name(&self, key: &str, value: &serde_spanned::Spanned<String>) -> Resolved<String> {
        let name = self.not_empty(key, value)?;
        if name.chars().any(char::is_control) {
            return Err(self.rule(
                value.span(),
                key,
                "must not hold control characters (a newline, a tab, an escape); in a \
                 double-quoted string a backslash starts one (\"CORP\\tom\" holds a tab): write \
                 it twice (\"CORP\\\\tom\") or use single quotes ('CORP\\tom')",
            ));
        }
        Ok(name)
    }

    /// A number in (0, 1] (`lower_inclusive` false) or [0, 1].
    fn fraction(&self, key: &str, value: &RawValue, lower_inclusive: bool) -> Resolved<f64> {
        #[allow(clippy::cast_precision_loss)] // an integer fraction is 0 or 1, or out of range
        let number = match value.get_ref() {
            Value::Integer(number) => *number as f64,
            Value::Float(number) => *number,
            other => {
                return Err(self.error(
                    value.span(),
                    Problem::WrongType {
                        key: key.to_string(),
                        expected: "a number from 0 to 1, e.g. 0.5",
                        written: written(other),
                    },
                ))
            }
        };
        let above_lower = if lower_inclusive {
            number >= 0.0
        } else {
            number > 0.0
        };
        if !(above_lower && number <= 1.0) {
            let rule = if lower_inclusive {
                "within [0, 1]"
            } else {
                "within (0, 1]: greater than 0, at most 1"
            };
            return Err(self.out_of_range(value.span(), key, written(value.get_ref()), rule));
        }
        Ok(number)
    }

    // ---- instances ----------------------------------------------------------------------

    fn instance(&self, key: &str, name: &serde_spanned::Spanned<String>) -> Resolved<InstanceId> {
        self.names
            .get(name.get_ref())
            .map(|(id, _)| *id)
            .ok_or_else(|| {
                self.error(
                    name.span(),
                    Problem::UnknownInstance {
                        key: key.to_string(),
                        name: name.get_ref().clone(),
                        known: self.names.keys().cloned().collect::<Vec<_>>().join(", "),
                    },
                )
            })
    }

    fn pair(&self, key: &str, pair: &RawPair) -> Resolved<[InstanceId; 2]> {
        let [first, second] = pair.get_ref().as_slice() else {
            return Err(self.rule(
                pair.span(),
                key,
                "needs exactly two instance names, e.g. [\"alpha\", \"beta\"]",
            ));
        };
        let ids = [self.instance(key, first)?, self.instance(key, second)?];
        if ids[0] == ids[1] {
            return Err(self.rule(
                second.span(),
                key,
                "names the same instance twice; a link joins two different instances",
            ));
        }
        Ok(ids)
    }

    fn role_holder(
        &self,
        key: &str,
        name: &serde_spanned::Spanned<String>,
    ) -> Resolved<RoleHolder> {
        // Keywords are case-insensitive elsewhere ("FULL", "CRASH", state = "NONE").
        if name.get_ref().eq_ignore_ascii_case("none") {
            return Ok(RoleHolder::Nobody);
        }
        self.instance(key, name).map(RoleHolder::Instance)
    }

    // ---- sections -----------------------------------------------------------------------

    fn top_level(&self, raw: &RawScenario) -> Resolved<(String, u64, u64)> {
        let name = self.plain_name("name", &raw.name)?;
        let seed = match &raw.seed {
            Some(seed) => self.integer("seed", seed, 0..=i64::MAX)?.unsigned_abs(),
            None => 0,
        };
        let duration_ns = self.duration("duration", &raw.duration)?;
        if duration_ns == 0 || duration_ns > DURATION_MAX_NS {
            return Err(self.out_of_range(
                raw.duration.span(),
                "duration",
                written(raw.duration.get_ref()),
                "greater than 0s and at most 30 days (\"720h\")",
            ));
        }
        Ok((name, seed, duration_ns))
    }

    fn instances(&mut self, raw: &RawScenario) -> Resolved<Vec<Instance>> {
        if raw.instance.is_empty() {
            return Err(self.error(
                0..0,
                Problem::Rule {
                    key: "instance".to_string(),
                    message: "a scenario needs at least one [[instance]] with a name".to_string(),
                },
            ));
        }
        // Instances are numbered by a byte on the wire (and a session needs three).
        if let Some(extra) = raw.instance.get(INSTANCES_MAX) {
            return Err(self.rule(
                extra.span(),
                "instance",
                format!("a scenario has at most {INSTANCES_MAX} [[instance]] tables"),
            ));
        }
        let mut hosts: BTreeMap<String, HostDeclared> = BTreeMap::new();
        let mut instances = Vec::with_capacity(raw.instance.len());
        for (index, raw_instance) in raw.instance.iter().enumerate() {
            let raw_instance = raw_instance.get_ref();
            let instance = self.one_instance(index + 1, raw_instance)?;
            // The name first: a name used twice also defaults to a host used twice, and the
            // message should name the cause.
            self.declare_name(index, raw_instance)?;
            self.declare_host(&mut hosts, index + 1, raw_instance, &instance.host)?;
            instances.push(instance);
        }
        Ok(instances)
    }

    fn one_instance(&self, number: usize, raw: &RawInstance) -> Resolved<Instance> {
        let key = |field: &str| format!("instance {number}: {field}");
        let name = self.plain_name(&key("name"), &raw.name)?;
        if name.eq_ignore_ascii_case("none") {
            return Err(self.rule(
                raw.name.span(),
                &key("name"),
                "\"none\" (in any case) means no instance in [expect]; choose another name",
            ));
        }
        let edition = match &raw.edition {
            Some(edition) => self.word(
                &key("edition"),
                edition,
                EDITIONS,
                "enterprise, standard, workgroup, express",
            )?,
            None => Edition::Enterprise,
        };
        let cpus = match &raw.cpus {
            Some(cpus) => self.integer(&key("cpus"), cpus, 1..=i64::from(CPUS_MAX))?,
            None => i64::from(CPUS_DEFAULT),
        };
        let cpus = u32::try_from(cpus).unwrap_or(CPUS_DEFAULT);
        let redo_threads = match &raw.redo_threads {
            Some(threads) => {
                let threads =
                    self.integer(&key("redo_threads"), threads, 1..=i64::from(CPUS_MAX))?;
                u32::try_from(threads).unwrap_or(1)
            }
            None => edition.redo_threads_default(cpus),
        };
        // Defaults from the name, as spec/scenario.md shows them for alpha.
        let host = match &raw.host {
            Some(host) => {
                let written = self.plain_name(&key("host"), host)?;
                if !mirror_setup::is_host_name(&written) {
                    return Err(self.rule(
                        host.span(),
                        &key("host"),
                        format!(
                            "\"{written}\" is not a host name: write the name alone, as it \
                             stands in 'TCP://host:7022' (letters, digits, dots, hyphens), \
                             without a scheme, port or space"
                        ),
                    ));
                }
                written
            }
            None => format!("{name}.{HOST_DEFAULT_DOMAIN}"),
        };
        let service_account = match &raw.service_account {
            Some(account) => self.plain_name(&key("service_account"), account)?,
            None => format!("{SERVICE_ACCOUNT_DEFAULT_PREFIX}{name}"),
        };
        Ok(Instance {
            name,
            host,
            service_account,
            edition,
            cpus,
            redo_threads,
        })
    }

    fn declare_name(&mut self, index: usize, raw: &RawInstance) -> Resolved<()> {
        let name = raw.name.get_ref();
        let line = Location::of_offset(self.source, raw.name.span().start).line;
        if let Some((_, first_line)) = self.names.get(name) {
            return Err(self.error(
                raw.name.span(),
                Problem::Duplicate {
                    key: format!("instance {}: name", index + 1),
                    name: name.clone(),
                    first_line: *first_line,
                    what: "instance names",
                },
            ));
        }
        self.names.insert(name.clone(), (InstanceId(index), line));
        Ok(())
    }

    /// Records the host of instance `number` (`host`, as resolved: written or defaulted from
    /// the name), refusing one already used. A defaulted host has no value in the file, so
    /// its error points at the name it comes from and says so.
    fn declare_host(
        &self,
        hosts: &mut BTreeMap<String, HostDeclared>,
        number: usize,
        raw: &RawInstance,
        host: &str,
    ) -> Resolved<()> {
        let key = format!("instance {number}: host");
        let here = HostDeclared::of(self.source, raw);
        // Host names are DNS names: case does not make two hosts different.
        let Some(first) = hosts.get(&host.to_ascii_lowercase()) else {
            hosts.insert(host.to_ascii_lowercase(), here);
            return Ok(());
        };
        let span = raw
            .host
            .as_ref()
            .map_or(raw.name.span(), |host| host.span());
        if here.defaulted_from.is_none() && first.defaulted_from.is_none() {
            return Err(self.error(
                span,
                Problem::Duplicate {
                    key,
                    name: host.to_string(),
                    first_line: first.line,
                    what: "hosts",
                },
            ));
        }
        Err(self.rule(span, &key, host_taken(host, &here, first)))
    }

    fn database(&self, raw: &RawDatabase) -> Resolved<Database> {
        let recovery_model = match &raw.recovery_model {
            Some(model) => self.word(
                "database.recovery_model",
                model,
                RECOVERY_MODELS,
                "full, bulk_logged, simple",
            )?,
            None => RecoveryModel::Full,
        };
        let size_bytes = self.optional(
            "database.size",
            raw.size.as_ref(),
            DATABASE_SIZE_DEFAULT_BYTES,
            |key, value| self.positive(key, value, &SIZE),
        )?;
        // Default log size: 4 x size / 10, computed without overflow.
        let log_default = u64::try_from(u128::from(size_bytes) * 4 / 10)
            .unwrap_or(u64::MAX)
            .max(1);
        let log_size_bytes = self.optional(
            "database.log_size",
            raw.log_size.as_ref(),
            log_default,
            |key, value| self.positive(key, value, &SIZE),
        )?;
        let name = match &raw.name {
            Some(name) => {
                let written = self.plain_name("database.name", name)?;
                // Reference section 7: user databases only; SQL Server cannot mirror its own.
                if mirror_setup::is_system_database(&written) {
                    return Err(self.rule(
                        name.span(),
                        "database.name",
                        format!(
                            "\"{written}\" is a system database, and database mirroring \
                             mirrors user databases only (reference section 7: master, model, \
                             msdb and tempdb cannot be mirrored); name the user database to mirror"
                        ),
                    ));
                }
                // Every statement naming it would be refused (SQL Server's error 103).
                if written.chars().count() > mirror_setup::IDENTIFIER_CHARS_MAX {
                    return Err(self.rule(
                        name.span(),
                        "database.name",
                        format!(
                            "is {} characters long; SQL Server names are at most {}",
                            written.chars().count(),
                            mirror_setup::IDENTIFIER_CHARS_MAX
                        ),
                    ));
                }
                written
            }
            None => DATABASE_NAME_DEFAULT.to_string(),
        };
        // The first instance: instances are resolved before the database, and there is one.
        let on = match &raw.on {
            Some(on) => self.instance("database.on", on)?,
            None => InstanceId(0),
        };
        Ok(Database {
            name,
            on,
            recovery_model,
            size_bytes,
            log_size_bytes,
            log_backup_interval_ns: self.log_backup_interval(raw.log_backup_interval.as_ref())?,
        })
    }

    fn log_backup_interval(&self, value: Option<&RawValue>) -> Resolved<Option<u64>> {
        let key = "database.log_backup_interval";
        match value {
            None => Ok(Some(LOG_BACKUP_INTERVAL_DEFAULT_NS)),
            Some(value)
                if value
                    .get_ref()
                    .as_str()
                    .is_some_and(|text| text.eq_ignore_ascii_case("none")) =>
            {
                Ok(None)
            }
            Some(value) => {
                let interval =
                    self.duration(key, value)
                        .map_err(|error| match error.problem() {
                            Some(Problem::Quantity {
                                reason: UnitError::NotANumber { .. },
                                ..
                            }) => self.rule(
                                value.span(),
                                key,
                                format!(
                                    "{} is neither a duration such as \"15m\" nor \"none\"",
                                    written(value.get_ref())
                                ),
                            ),
                            _ => error,
                        })?;
                // At least a second: a log backup is a statement with its own events, so a job
                // every microsecond would make a 30-second run take minutes (spec/scenario.md
                // asks only for > 0; no DBA schedules one more often than every few minutes).
                if interval < LOG_BACKUP_INTERVAL_MIN_NS {
                    return Err(self.out_of_range(
                        value.span(),
                        key,
                        written(value.get_ref()),
                        "at least 1s (or \"none\" for no log backups)",
                    ));
                }
                Ok(Some(interval))
            }
        }
    }

    fn network(&self, raw: Option<&RawNetwork>) -> Resolved<Network> {
        let empty = RawNetwork::default();
        let raw = raw.unwrap_or(&empty);
        let defaults = LinkParameters {
            one_way_ns: ONE_WAY_DEFAULT_NS,
            jitter_ns: 0,
            bandwidth_bits_per_second: BANDWIDTH_DEFAULT_BITS_PER_SECOND,
        };
        let default_link = self.link_parameters(
            "network",
            [
                raw.one_way.as_ref(),
                raw.jitter.as_ref(),
                raw.bandwidth.as_ref(),
            ],
            defaults,
        )?;
        let compression = match &raw.compression {
            Some(value) => self.fraction("network.compression", value, false)?,
            None => 1.0,
        };
        let links = self.links(&raw.link, default_link)?;
        Ok(Network {
            default_link,
            compression,
            links,
        })
    }

    /// `one_way`, `jitter` and `bandwidth` of `[network]` or a `[[network.link]]`.
    fn link_parameters(
        &self,
        table: &str,
        [one_way, jitter, bandwidth]: [Option<&RawValue>; 3],
        defaults: LinkParameters,
    ) -> Resolved<LinkParameters> {
        let duration = |key: &str, value: &RawValue| self.duration(key, value);
        Ok(LinkParameters {
            one_way_ns: self.optional(
                &format!("{table}.one_way"),
                one_way,
                defaults.one_way_ns,
                duration,
            )?,
            jitter_ns: self.optional(
                &format!("{table}.jitter"),
                jitter,
                defaults.jitter_ns,
                duration,
            )?,
            bandwidth_bits_per_second: self.optional(
                &format!("{table}.bandwidth"),
                bandwidth,
                defaults.bandwidth_bits_per_second,
                |key, value| self.positive(key, value, &BANDWIDTH),
            )?,
        })
    }

    fn links(
        &self,
        raw: &[serde_spanned::Spanned<RawLink>],
        defaults: LinkParameters,
    ) -> Resolved<Vec<Link>> {
        let mut pairs: BTreeMap<[InstanceId; 2], usize> = BTreeMap::new();
        let mut links = Vec::with_capacity(raw.len());
        for (index, link) in raw.iter().enumerate() {
            let table = format!("network.link {}", index + 1);
            let link = link.get_ref();
            let between = self.pair(&format!("{table}: between"), &link.between)?;
            let mut pair = between;
            pair.sort();
            let line = Location::of_offset(self.source, link.between.span().start).line;
            if let Some(first_line) = pairs.insert(pair, line) {
                return Err(self.error(
                    link.between.span(),
                    Problem::Duplicate {
                        key: format!("{table}: between"),
                        name: format!(
                            "{} - {}",
                            link.between.get_ref()[0].get_ref(),
                            link.between.get_ref()[1].get_ref()
                        ),
                        first_line,
                        what: "links (one [[network.link]] per pair)",
                    },
                ));
            }
            let values = [
                link.one_way.as_ref(),
                link.jitter.as_ref(),
                link.bandwidth.as_ref(),
            ];
            let parameters = self.link_parameters(&table, values, defaults)?;
            links.push(Link {
                between,
                parameters,
            });
        }
        Ok(links)
    }

    fn disk(&self, raw: Option<&RawDisk>) -> Resolved<Disk> {
        let empty = RawDisk::default();
        let raw = raw.unwrap_or(&empty);
        let duration = |key: &str, value: &RawValue| self.duration(key, value);
        let throughput = |key: &str, value: &RawValue| self.positive(key, value, &THROUGHPUT);
        Ok(Disk {
            flush_ns: self.optional(
                "disk.flush",
                raw.flush.as_ref(),
                FLUSH_DEFAULT_NS,
                duration,
            )?,
            flush_jitter_ns: self.optional(
                "disk.flush_jitter",
                raw.flush_jitter.as_ref(),
                0,
                duration,
            )?,
            throughput_bytes_per_second: self.optional(
                "disk.throughput",
                raw.throughput.as_ref(),
                THROUGHPUT_DEFAULT_BYTES_PER_SECOND,
                throughput,
            )?,
            redo_rate_bytes_per_second: self.optional(
                "disk.redo_rate",
                raw.redo_rate.as_ref(),
                REDO_RATE_DEFAULT_BYTES_PER_SECOND,
                throughput,
            )?,
        })
    }

    fn workload(&self, raw: &RawWorkload) -> Resolved<Workload> {
        let start = match &raw.start {
            Some(start) => self.word(
                "workload.start",
                start,
                WORKLOAD_STARTS,
                "after_setup, at_start",
            )?,
            None => WorkloadStart::AfterSetup,
        };
        let arrivals = self.arrivals(raw)?;
        let [log_bytes_min, log_bytes_max] = match &raw.log_bytes {
            Some(value) => self.log_bytes(value)?,
            None => LOG_BYTES_DEFAULT,
        };
        Ok(Workload {
            start,
            arrivals,
            log_bytes_min,
            log_bytes_max,
        })
    }

    fn arrivals(&self, raw: &RawWorkload) -> Resolved<Arrivals> {
        match (&raw.rate, &raw.clients) {
            (Some(_), Some(clients)) => Err(self.rule(
                clients.span(),
                "workload.clients",
                "use `rate` (open loop) or `clients` (closed loop), not both",
            )),
            (rate, None) => {
                if let Some(think) = &raw.think {
                    let remedy = if rate.is_some() {
                        "remove it, or use `clients` instead of `rate`"
                    } else {
                        "without `clients` the workload is an open loop (rate = 2000 by \
                         default); remove it, or set `clients`"
                    };
                    return Err(self.rule(
                        think.span(),
                        "workload.think",
                        format!("applies only to a closed loop (`clients`); {remedy}"),
                    ));
                }
                let transactions_per_second = match rate {
                    Some(rate) => self.rate(rate)?,
                    None => RATE_DEFAULT,
                };
                Ok(Arrivals::OpenLoop {
                    transactions_per_second,
                })
            }
            (None, Some(clients)) => {
                let clients =
                    self.integer("workload.clients", clients, 1..=i64::from(CLIENTS_MAX))?;
                Ok(Arrivals::ClosedLoop {
                    clients: u32::try_from(clients).unwrap_or(1),
                    think_ns: self.optional(
                        "workload.think",
                        raw.think.as_ref(),
                        0,
                        |key, v| self.duration(key, v),
                    )?,
                })
            }
        }
    }

    fn rate(&self, value: &RawValue) -> Resolved<f64> {
        let key = "workload.rate";
        #[allow(clippy::cast_precision_loss)] // bounded to 10 million just below
        let rate = match value.get_ref() {
            Value::Integer(rate) => *rate as f64,
            Value::Float(rate) => *rate,
            other => {
                return Err(self.error(
                    value.span(),
                    Problem::WrongType {
                        key: key.to_string(),
                        expected: "a number of transactions per second, e.g. 2000",
                        written: written(other),
                    },
                ))
            }
        };
        if !(rate > 0.0 && rate <= RATE_MAX) {
            return Err(self.out_of_range(
                value.span(),
                key,
                written(value.get_ref()),
                "greater than 0 and at most 10000000 transactions per second",
            ));
        }
        Ok(rate)
    }

    fn log_bytes(&self, value: &RawValue) -> Resolved<[u64; 2]> {
        let key = "workload.log_bytes";
        let shape = || {
            self.rule(
                value.span(),
                key,
                "needs [least, most] bytes of log per transaction, e.g. [200, 4000] or \
                 [\"1KiB\", \"4KiB\"]",
            )
        };
        let Some([least, most]) = value
            .get_ref()
            .as_array()
            .map(Vec::as_slice)
            .and_then(|a| <&[Value; 2]>::try_from(a).ok())
        else {
            return Err(shape());
        };
        let bytes = |element: &Value| -> Resolved<u64> {
            match element {
                Value::Integer(bytes) => u64::try_from(*bytes).map_err(|_| shape()),
                Value::String(text) => parse_size(text).map_err(|reason| {
                    self.error(
                        value.span(),
                        Problem::Quantity {
                            key: key.to_string(),
                            written: written(element),
                            reason,
                        },
                    )
                }),
                _ => Err(shape()),
            }
        };
        let (least, most) = (bytes(least)?, bytes(most)?);
        if least == 0 || least > most {
            return Err(self.out_of_range(
                value.span(),
                key,
                written(value.get_ref()),
                "[least, most] with 1 <= least <= most",
            ));
        }
        if most > TRANSACTION_LOG_BYTES_MAX {
            // A run holds a principal's unflushed log in memory, up to a bounded buffer.
            return Err(self.out_of_range(
                value.span(),
                key,
                written(value.get_ref()),
                "at most 128MiB of log per transaction (the simulator buffers unflushed log in \
                 a bounded memory of 256 MiB)",
            ));
        }
        Ok([least, most])
    }

    fn steps(&self, raw: &[serde_spanned::Spanned<RawStep>]) -> Resolved<Vec<Step>> {
        raw.iter()
            .enumerate()
            .map(|(index, step)| self.step(index + 1, step.get_ref()))
            .collect()
    }

    fn step(&self, number: usize, raw: &RawStep) -> Resolved<Step> {
        let key = |field: &str| format!("step {number}: {field}");
        let on = self.instance(&key("on"), &raw.on)?;
        let at_ns = raw
            .at
            .as_ref()
            .map(|at| self.duration(&key("at"), at))
            .transpose()?;
        let expect_error = raw
            .expect_error
            .as_ref()
            .map(|error| self.sql_error_number(&key("expect_error"), error))
            .transpose()?;
        let statements = mirror_setup::parse_batch(raw.sql.get_ref())
            .map_err(|error| self.sql_error(number, &raw.sql, error))?;
        Ok(Step {
            number,
            on,
            sql: raw.sql.get_ref().clone(),
            statements,
            at_ns,
            expect_error,
        })
    }

    fn sql_error_number(&self, key: &str, value: &serde_spanned::Spanned<i64>) -> Resolved<u32> {
        let number = self.integer(key, value, 1..=SQL_ERROR_MAX)?;
        Ok(u32::try_from(number).unwrap_or(u32::MAX))
    }

    /// Points at the character of the file where the SQL stops making sense.
    fn sql_error(
        &self,
        step: usize,
        sql: &serde_spanned::Spanned<String>,
        error: mirror_setup::ParseError,
    ) -> ScenarioError {
        let span = sql.span();
        let literal = self.source.get(span.clone()).unwrap_or("");
        let offset = span.start + offset_of_character(literal, error.column);
        self.error(
            offset..offset,
            Problem::Sql {
                step,
                sql_column: error.column,
                message: error.message,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::units::format_duration;

    #[test]
    fn misspelt_keys_get_a_suggestion() {
        let message = explain_toml_message(
            "unknown field `durration`, expected one of `name`, `duration`, `seed`",
            "",
            None,
        );
        assert!(message.contains("did you mean `duration`?"), "{message}");
        let message = explain_toml_message("unknown field `zzzz`, expected `name`", "", None);
        assert!(!message.contains("did you mean"), "{message}");
        assert!(message.contains("remove it"), "{message}");
    }

    #[test]
    fn type_names_read_as_a_scenario_writes_them() {
        let source = "seed = \"8\"\n";
        let message = explain_toml_message(
            "invalid type: string \"8\", expected i64",
            source,
            Some(7..10),
        );
        assert_eq!(message, "seed: expected a whole number, found \"8\"");
        let message =
            explain_toml_message("invalid type: string \"8\", expected i64", source, None);
        assert_eq!(message, "expected a whole number, found \"8\"");
    }

    #[test]
    fn keys_are_named_from_the_text_around_a_value() {
        let source = "seed = 1\n[[step]]\non = 1\n[[step]]\nexpect_error = \"x\"\n\
                      [expect]\nfailovers = { automatic = \"x\" }\n\
                      step_errors = [{ step = 1, error = \"x\" }]\n";
        let key = |needle: &str, nth: usize| {
            let offset = source.match_indices(needle).nth(nth).unwrap().0;
            key_at(source, offset)
        };
        assert_eq!(key("1", 0), "seed");
        assert_eq!(key("\"x\"", 0), "step 2: expect_error");
        assert_eq!(key("\"x\"", 1), "expect.failovers.automatic");
        assert_eq!(key("\"x\"", 2), "expect.step_errors.error");
        // Garbage offsets never panic.
        let _ = key_at(source, source.len() + 10);
        let _ = key_at("é", 1);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("durration", "duration"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn a_sql_error_points_at_its_character_in_the_file() {
        let source = "name = 1\nsql = \"CREATE LOGIN [CORP\\\\svc-beta] FROM WINDOZE\"\n";
        let start = source.find("\"CREATE").unwrap();
        let end = source.rfind('"').unwrap() + 1;
        let sql = serde_spanned::Spanned::new(start..end, "unused".to_string());
        let resolver = Resolver {
            source,
            file: Path::new("sims/x.toml"),
            names: BTreeMap::new(),
        };
        // Column 35 of the SQL is the W of WINDOZE; the file has an escaped backslash before it.
        let error = mirror_setup::ParseError {
            column: 35,
            message: "expected WINDOWS or CERTIFICATE".to_string(),
        };
        let message = resolver.sql_error(5, &sql, error).to_string();
        let column = source.lines().nth(1).unwrap().find("WINDOZE").unwrap() + 1;
        assert_eq!(
            message,
            format!(
                "sims/x.toml:2:{column}: step 5: sql does not parse at column 35 of the statement \
                 text: expected WINDOWS or CERTIFICATE; see spec/scenario.md, \"The statements \
                 understood\""
            )
        );
    }

    #[test]
    fn thirty_days_reads_as_hours() {
        assert_eq!(format_duration(DURATION_MAX_NS), "720h");
    }
}
