//! Writes a resolved [`Scenario`] back as a scenario file, every default spelt out and every
//! value in canonical units: what `sim validate` prints. The text parses back to the same
//! scenario (a test holds it to that).

use std::fmt::Write;

use super::{
    model::{
        Arrivals, Expectations, Fault, FaultKind, HealScope, InstanceId, LinkParameters,
        RoleHolder, Scenario, WorkloadStart,
    },
    units::{
        format_bandwidth, format_drift, format_duration, format_size, format_throughput,
        Comparison, Measure,
    },
};

/// The scenario as a TOML scenario file, with every default filled in.
pub fn to_toml(scenario: &Scenario) -> String {
    let mut text = String::new();
    let writer = Writer {
        scenario,
        text: &mut text,
    };
    writer.write_all();
    text
}

struct Writer<'a> {
    scenario: &'a Scenario,
    text: &'a mut String,
}

/// A TOML string, quoted and escaped.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

impl Writer<'_> {
    fn write_all(mut self) {
        self.top_level();
        self.database();
        self.instances();
        self.network();
        self.disk();
        self.workload();
        self.steps();
        self.faults();
        self.expect(&self.scenario.expect);
    }

    fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    fn key(&mut self, key: &str, value: impl AsRef<str>) {
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "{key} = {}", value.as_ref());
    }

    fn name(&self, id: InstanceId) -> String {
        quote(self.scenario.instance_name(id))
    }

    fn pair(&self, [a, b]: [InstanceId; 2]) -> String {
        format!("[{}, {}]", self.name(a), self.name(b))
    }

    fn top_level(&mut self) {
        let scenario = self.scenario;
        self.key("name", quote(&scenario.name));
        self.key("description", quote(&scenario.description));
        self.key("seed", scenario.seed.to_string());
        self.key("duration", quote(&format_duration(scenario.duration_ns)));
    }

    fn database(&mut self) {
        let database = &self.scenario.database;
        self.line("\n[database]");
        self.key("name", quote(&database.name));
        self.key("on", self.name(database.on));
        self.key("recovery_model", quote(database.recovery_model.as_str()));
        self.key("size", quote(&format_size(database.size_bytes)));
        self.key("log_size", quote(&format_size(database.log_size_bytes)));
        let interval = database
            .log_backup_interval_ns
            .map_or_else(|| "none".to_string(), format_duration);
        self.key("log_backup_interval", quote(&interval));
    }

    fn instances(&mut self) {
        for instance in &self.scenario.instances {
            self.line("\n[[instance]]");
            self.key("name", quote(&instance.name));
            self.key("host", quote(&instance.host));
            self.key("service_account", quote(&instance.service_account));
            self.key("edition", quote(instance.edition.as_str()));
            self.key("cpus", instance.cpus.to_string());
            self.key("redo_threads", instance.redo_threads.to_string());
        }
    }

    fn link_parameters(&mut self, parameters: &LinkParameters) {
        self.key("one_way", quote(&format_duration(parameters.one_way_ns)));
        self.key("jitter", quote(&format_duration(parameters.jitter_ns)));
        let bandwidth = format_bandwidth(parameters.bandwidth_bits_per_second);
        self.key("bandwidth", quote(&bandwidth));
    }

    fn network(&mut self) {
        let network = &self.scenario.network;
        self.line("\n[network]");
        self.link_parameters(&network.default_link);
        self.key("compression", format!("{:?}", network.compression));
        for link in &network.links {
            self.line("\n[[network.link]]");
            self.key("between", self.pair(link.between));
            self.link_parameters(&link.parameters);
        }
    }

    fn disk(&mut self) {
        let disk = &self.scenario.disk;
        self.line("\n[disk]");
        self.key("flush", quote(&format_duration(disk.flush_ns)));
        self.key(
            "flush_jitter",
            quote(&format_duration(disk.flush_jitter_ns)),
        );
        let throughput = format_throughput(disk.throughput_bytes_per_second);
        self.key("throughput", quote(&throughput));
        let redo_rate = format_throughput(disk.redo_rate_bytes_per_second);
        self.key("redo_rate", quote(&redo_rate));
    }

    fn workload(&mut self) {
        let Some(workload) = &self.scenario.workload else {
            self.line("\n# no [workload]: no client transactions");
            return;
        };
        self.line("\n[workload]");
        let start = match workload.start {
            WorkloadStart::AfterSetup => "after_setup",
            WorkloadStart::AtStart => "at_start",
        };
        self.key("start", quote(start));
        match workload.arrivals {
            Arrivals::OpenLoop {
                transactions_per_second,
            } => self.key("rate", format!("{transactions_per_second:?}")),
            Arrivals::ClosedLoop { clients, think_ns } => {
                self.key("clients", clients.to_string());
                self.key("think", quote(&format_duration(think_ns)));
            }
        }
        let log_bytes = format!("[{}, {}]", workload.log_bytes_min, workload.log_bytes_max);
        self.key("log_bytes", log_bytes);
    }

    fn steps(&mut self) {
        for step in &self.scenario.steps {
            self.line(format!("\n[[step]]  # {}", step.number));
            self.key("on", self.name(step.on));
            self.key("sql", quote(&step.sql));
            if let Some(at_ns) = step.at_ns {
                self.key("at", quote(&format_duration(at_ns)));
            }
            if let Some(error) = step.expect_error {
                self.key("expect_error", error.to_string());
            }
        }
    }

    fn faults(&mut self) {
        for fault in &self.scenario.faults {
            self.line("\n[[fault]]");
            self.fault(fault);
        }
    }

    fn fault(&mut self, fault: &Fault) {
        self.key("at", quote(&format_duration(fault.at_ns)));
        self.key("kind", quote(fault.kind.name()));
        match fault.kind {
            FaultKind::Crash { target }
            | FaultKind::PowerOff { target }
            | FaultKind::Restart { target }
            | FaultKind::Pause { target }
            | FaultKind::Resume { target }
            | FaultKind::DiskFull { target }
            | FaultKind::CorruptPage { target } => self.key("target", self.name(target)),
            FaultKind::Partition { between, one_way } => {
                self.key("between", self.pair(between));
                self.key("one_way", one_way.to_string());
            }
            FaultKind::Loss { between, rate } => {
                if let Some(between) = between {
                    self.key("between", self.pair(between));
                }
                self.key("rate", format!("{rate:?}"));
            }
            FaultKind::SlowLink {
                between,
                latency_ns,
                one_way,
            } => {
                self.key("between", self.pair(between));
                self.key("latency", quote(&format_duration(latency_ns)));
                self.key("one_way", one_way.to_string());
            }
            FaultKind::SlowDisk { target, flush_ns } => {
                self.key("target", self.name(target));
                self.key("flush", quote(&format_duration(flush_ns)));
            }
            FaultKind::ClockSkew { target, drift_ppm } => {
                self.key("target", self.name(target));
                self.key("drift", quote(&format_drift(drift_ppm)));
            }
            FaultKind::Heal { scope } => match scope {
                HealScope::Everything => {}
                HealScope::Instance(target) => self.key("target", self.name(target)),
                HealScope::Link(between) => self.key("between", self.pair(between)),
            },
        }
    }

    fn holder(&self, holder: RoleHolder) -> String {
        match holder {
            RoleHolder::Nobody => quote("none"),
            RoleHolder::Instance(id) => self.name(id),
        }
    }

    fn expect(&mut self, expect: &Expectations) {
        self.line("\n[expect]");
        if let Some(principal) = expect.principal {
            self.key("principal", self.holder(principal));
        }
        if let Some(mirror) = expect.mirror {
            self.key("mirror", self.holder(mirror));
        }
        if let Some(state) = expect.state {
            self.key("state", quote(state.as_str()));
        }
        self.comparison("role_sequence", expect.role_sequence, Measure::Count);
        self.comparison(
            "lost_acknowledged",
            expect.lost_acknowledged,
            Measure::Count,
        );
        if let Some(split_brain) = expect.split_brain {
            self.key("split_brain", split_brain.to_string());
        }
        self.failovers(expect);
        if let Some(allowed) = &expect.step_errors {
            let entries: Vec<String> = allowed
                .iter()
                .map(|entry| format!("{{ step = {}, error = {} }}", entry.step, entry.error))
                .collect();
            self.key("step_errors", format!("[{}]", entries.join(", ")));
        }
        let p99 = expect.commit_latency_p99;
        self.comparison("commit_latency_p99", p99, Measure::Duration);
        self.comparison("unavailable", expect.unavailable, Measure::Duration);
    }

    fn failovers(&mut self, expect: &Expectations) {
        let failovers = expect.failovers;
        let entries: Vec<String> = [
            ("automatic", failovers.automatic),
            ("manual", failovers.manual),
            ("forced", failovers.forced),
        ]
        .into_iter()
        .filter_map(|(kind, comparison)| {
            comparison.map(|comparison| {
                format!("{kind} = {}", comparison_value(comparison, Measure::Count))
            })
        })
        .collect();
        if !entries.is_empty() {
            self.key("failovers", format!("{{ {} }}", entries.join(", ")));
        }
    }

    fn comparison(&mut self, key: &str, comparison: Option<Comparison>, measure: Measure) {
        if let Some(comparison) = comparison {
            self.key(key, comparison_value(comparison, measure));
        }
    }
}

/// A count that must be equal stays a bare number; anything else is a quoted comparison.
fn comparison_value(comparison: Comparison, measure: Measure) -> String {
    match (comparison, measure) {
        (Comparison::Equal(value), Measure::Count) => value.to_string(),
        _ => quote(&comparison.describe(measure)),
    }
}
