//! The scenario file as TOML gives it, before any value is resolved: the keys of
//! spec/scenario.md and nothing else (`deny_unknown_fields`), each value with its span so that
//! every later error can name a line and column. Values with units, comparisons and words are
//! kept as written ([`toml::Value`] or strings) and judged in `validate`, where the key is known
//! and the message can say what to write instead.

use serde::Deserialize;
use serde_spanned::Spanned;
use toml::Value;

/// A value kept as written, with its span.
pub type RawValue = Spanned<Value>;

/// A pair of instance names: `between = ["alpha", "beta"]`.
pub type RawPair = Spanned<Vec<Spanned<String>>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub seed: Option<Spanned<i64>>,
    pub duration: RawValue,
    #[serde(default)]
    pub instance: Vec<Spanned<RawInstance>>,
    pub database: Spanned<RawDatabase>,
    #[serde(default)]
    pub step: Vec<Spanned<RawStep>>,
    pub network: Option<RawNetwork>,
    pub disk: Option<RawDisk>,
    pub workload: Option<Spanned<RawWorkload>>,
    #[serde(default)]
    pub fault: Vec<Spanned<RawFault>>,
    pub expect: Option<RawExpect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    pub name: Spanned<String>,
    /// Default `<name>.corp.example` (spec/scenario.md shows alpha at alpha.corp.example).
    pub host: Option<Spanned<String>>,
    /// Default `CORP\svc-<name>` (spec/scenario.md shows alpha running as CORP\svc-alpha).
    pub service_account: Option<Spanned<String>>,
    pub edition: Option<Spanned<String>>,
    pub redo_threads: Option<Spanned<i64>>,
    pub cpus: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// Default "Sales", the name spec/scenario.md shows.
    pub name: Option<Spanned<String>>,
    /// Default: the first `[[instance]]` (every example of spec/scenario.md puts it there).
    pub on: Option<Spanned<String>>,
    pub recovery_model: Option<Spanned<String>>,
    /// Default "20GiB", the size spec/scenario.md shows.
    pub size: Option<RawValue>,
    pub log_size: Option<RawValue>,
    pub log_backup_interval: Option<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub on: Spanned<String>,
    pub sql: Spanned<String>,
    pub at: Option<RawValue>,
    pub expect_error: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub one_way: Option<RawValue>,
    pub jitter: Option<RawValue>,
    pub bandwidth: Option<RawValue>,
    pub compression: Option<RawValue>,
    #[serde(default)]
    pub link: Vec<Spanned<RawLink>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    pub between: RawPair,
    pub one_way: Option<RawValue>,
    pub jitter: Option<RawValue>,
    pub bandwidth: Option<RawValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDisk {
    pub flush: Option<RawValue>,
    pub flush_jitter: Option<RawValue>,
    pub throughput: Option<RawValue>,
    pub redo_rate: Option<RawValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkload {
    pub start: Option<Spanned<String>>,
    /// With neither `rate` nor `clients`: an open loop at 2000/s, the rate spec/scenario.md shows.
    pub rate: Option<RawValue>,
    pub clients: Option<Spanned<i64>>,
    pub think: Option<RawValue>,
    pub log_bytes: Option<RawValue>,
}

/// Every field any kind takes; which ones a kind needs or allows is judged in `validate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    pub at: RawValue,
    pub kind: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub between: Option<RawPair>,
    pub one_way: Option<Spanned<bool>>,
    pub rate: Option<RawValue>,
    pub latency: Option<RawValue>,
    pub flush: Option<RawValue>,
    pub drift: Option<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub principal: Option<Spanned<String>>,
    pub mirror: Option<Spanned<String>>,
    pub state: Option<Spanned<String>>,
    pub role_sequence: Option<RawValue>,
    pub lost_acknowledged: Option<RawValue>,
    pub split_brain: Option<bool>,
    pub failovers: Option<RawFailovers>,
    pub step_errors: Option<Vec<Spanned<RawStepError>>>,
    pub commit_latency_p99: Option<RawValue>,
    pub unavailable: Option<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFailovers {
    pub automatic: Option<RawValue>,
    pub manual: Option<RawValue>,
    pub forced: Option<RawValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStepError {
    pub step: Spanned<i64>,
    pub error: Spanned<i64>,
}

/// The keys whose values are tables (`[key]` or `key = { ... }`), and those whose values are
/// arrays of tables (`[[key]]`), by where they sit. The reader would also take a table written
/// as an array of its values in field order, which the spec does not allow and which would
/// silently give each value to whichever key sits at its position.
const TABLES: [(&[&str], &str); 6] = [
    (&[], "database"),
    (&[], "network"),
    (&[], "disk"),
    (&[], "workload"),
    (&[], "expect"),
    (&["expect"], "failovers"),
];
const ARRAYS_OF_TABLES: [(&[&str], &str); 5] = [
    (&[], "instance"),
    (&[], "step"),
    (&[], "fault"),
    (&["network"], "link"),
    (&["expect"], "step_errors"),
];

/// Where a table of the format is written as an array: the span of the value, the key's
/// dotted name, and whether it is an entry of an array of tables. `None` when every table is
/// one, or when the text is not TOML at all (the typed reader reports that).
pub fn misplaced_table(source: &str) -> Option<(std::ops::Range<usize>, String, bool)> {
    use toml::de::{DeTable, DeValue};
    let document = DeTable::parse(source).ok()?;
    let table_at = |path: &[&str]| -> Option<&DeTable<'_>> {
        let mut table = document.get_ref();
        for key in path {
            match table.get(*key).map(|v| v.get_ref()) {
                Some(DeValue::Table(t)) => table = t,
                _ => return None,
            }
        }
        Some(table)
    };
    let dotted = |path: &[&str], key: &str| {
        path.iter()
            .copied()
            .chain(std::iter::once(key))
            .collect::<Vec<_>>()
            .join(".")
    };
    for (path, key) in TABLES {
        let value = table_at(path).and_then(|t| t.get(key));
        if let Some(value) = value.filter(|v| matches!(v.get_ref(), DeValue::Array(_))) {
            return Some((value.span(), dotted(path, key), false));
        }
    }
    for (path, key) in ARRAYS_OF_TABLES {
        let Some(value) = table_at(path).and_then(|t| t.get(key)) else {
            continue;
        };
        if let DeValue::Array(items) = value.get_ref() {
            if let Some(item) = items
                .iter()
                .find(|item| matches!(item.get_ref(), DeValue::Array(_)))
            {
                return Some((item.span(), dotted(path, key), true));
            }
        }
    }
    None
}
