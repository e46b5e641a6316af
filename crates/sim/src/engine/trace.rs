//! The timeline (`--trace FILE`): a Chrome trace-event JSON file (opens in Perfetto or
//! chrome://tracing) with one track per instance: when it served, its states and roles, and the
//! faults, steps and failovers, as instants (a step on the instance it ran on, the faults on
//! a track of their own). Built from the few events that change the
//! session's shape (never one per transaction), so it stays small whatever the run's length.

use std::io::Write;
use std::path::Path;

use mirror_protocol::Nanos;

/// Events the timeline keeps.
pub const KEPT: [&str; 9] = [
    "role",
    "state",
    "serving",
    "not_serving",
    "failover",
    "fault",
    "step",
    "fork",
    "dbm_state_change",
];

/// One kept event.
#[derive(Clone, Debug)]
pub struct Mark {
    /// When.
    pub t: Nanos,
    /// Which instance (`None`: the run as a whole).
    pub instance: Option<String>,
    /// The event name.
    pub event: String,
    /// Its fields.
    pub fields: serde_json::Value,
}

/// Writes the timeline of `marks` to `path`; `names` are the instances in scenario order.
pub fn write(path: &Path, names: &[String], marks: &[Mark], end: Nanos) -> std::io::Result<()> {
    let tid = |instance: &Option<String>| {
        instance
            .as_ref()
            .and_then(|i| names.iter().position(|n| n == i))
            .map_or(0, |p| p + 1)
    };
    let mut events = Vec::new();
    for (i, name) in names.iter().enumerate() {
        events.push(serde_json::json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": i + 1, "args": {"name": name}}));
    }
    events.push(serde_json::json!({"ph": "M", "name": "thread_name", "pid": 1, "tid": 0, "args": {"name": "faults"}}));
    let mut open: Vec<Option<u64>> = vec![None; names.len() + 1];
    for m in marks {
        let t = tid(&m.instance);
        let ts = m.t as f64 / 1000.0;
        match m.event.as_str() {
            "serving" => {
                open[t] = Some(m.t);
                let name = format!("serving (role sequence {})", m.fields["role_sequence"]);
                events.push(serde_json::json!({"ph": "B", "name": name, "pid": 1, "tid": t, "ts": ts, "args": m.fields}));
            }
            "not_serving" if open[t].take().is_some() => {
                events.push(
                    serde_json::json!({"ph": "E", "pid": 1, "tid": t, "ts": ts, "args": m.fields}),
                );
            }
            _ => {
                let name = match m
                    .fields
                    .get("state")
                    .or_else(|| m.fields.get("kind"))
                    .or_else(|| m.fields.get("name"))
                {
                    Some(v) => format!("{} {}", m.event, v.as_str().unwrap_or_default()),
                    None => m.event.clone(),
                };
                events.push(serde_json::json!({"ph": "i", "s": "t", "name": name, "pid": 1, "tid": t, "ts": ts, "args": m.fields}));
            }
        }
    }
    for (t, o) in open.iter().enumerate() {
        if o.is_some() {
            events.push(
                serde_json::json!({"ph": "E", "pid": 1, "tid": t, "ts": end as f64 / 1000.0}),
            );
        }
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer(
        &mut file,
        &serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"}),
    )?;
    file.flush()
}
