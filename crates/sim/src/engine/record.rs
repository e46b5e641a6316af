//! The event stream (`--events FILE`, spec/cli.md): one JSON object per line, in simulated-time
//! order, each with `t_us`, `instance` and `event`.

use std::fs::File;
use std::io::{BufWriter, Write};

use mirror_protocol::Nanos;

/// Where events go, if anywhere.
pub struct Recorder {
    out: Option<BufWriter<File>>,
    error: Option<String>,
}

impl Recorder {
    /// No event stream.
    pub fn off() -> Self {
        Self {
            out: None,
            error: None,
        }
    }

    /// An event stream written to `file`.
    pub fn to_file(file: File) -> Self {
        Self {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            error: None,
        }
    }

    /// Whether events are written (callers skip building them otherwise).
    pub fn enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Writes one event.
    pub fn write(
        &mut self,
        t: Nanos,
        instance: Option<&str>,
        event: &str,
        fields: serde_json::Value,
    ) {
        let Some(out) = self.out.as_mut() else { return };
        let mut object = serde_json::Map::new();
        object.insert("t_us".into(), serde_json::json!(t / 1000));
        object.insert(
            "instance".into(),
            instance.map_or(serde_json::Value::Null, |i| serde_json::json!(i)),
        );
        object.insert("event".into(), serde_json::json!(event));
        if let serde_json::Value::Object(more) = fields {
            object.extend(more);
        }
        let line = serde_json::Value::Object(object);
        if let Err(e) = serde_json::to_writer(&mut *out, &line)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
        {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }

    /// Flushes the file; returns the first write error, if any.
    pub fn finish(&mut self) -> Option<String> {
        if let Some(out) = self.out.as_mut() {
            if let Err(e) = out.flush() {
                self.error.get_or_insert_with(|| e.to_string());
            }
        }
        self.error.clone()
    }
}
