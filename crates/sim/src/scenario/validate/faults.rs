//! `[[fault]]`: each kind takes its own fields (spec/scenario.md, "Faults"); a field another
//! kind takes is an error at that field, a missing one an error at `kind`.

use super::*;

impl Resolver<'_> {
    pub(super) fn faults(&self, raw: &[serde_spanned::Spanned<RawFault>]) -> Resolved<Vec<Fault>> {
        raw.iter()
            .enumerate()
            .map(|(index, fault)| self.fault(index + 1, fault.get_ref()))
            .collect()
    }

    fn fault(&self, number: usize, raw: &RawFault) -> Resolved<Fault> {
        let at_ns = self.duration(&format!("fault {number}: at"), &raw.at)?;
        // Case and spaces do not matter, as for every other word of the format.
        let lowered = raw.kind.get_ref().trim().to_ascii_lowercase();
        let kind_name = lowered.as_str();
        let fields = FaultFields {
            resolver: self,
            raw,
            number,
            kind: kind_name,
        };
        let kind = match kind_name {
            "crash" => FaultKind::Crash {
                target: fields.only_target()?,
            },
            "power_off" => FaultKind::PowerOff {
                target: fields.only_target()?,
            },
            "restart" => FaultKind::Restart {
                target: fields.only_target()?,
            },
            "pause" => FaultKind::Pause {
                target: fields.only_target()?,
            },
            "resume" => FaultKind::Resume {
                target: fields.only_target()?,
            },
            "disk_full" => FaultKind::DiskFull {
                target: fields.only_target()?,
            },
            "corrupt_page" => FaultKind::CorruptPage {
                target: fields.only_target()?,
            },
            "partition" => fields.partition()?,
            "loss" => fields.loss()?,
            "slow_link" => fields.slow_link()?,
            "slow_disk" => fields.slow_disk()?,
            "clock_skew" => fields.clock_skew()?,
            "heal" => fields.heal()?,
            _ => {
                return Err(self.error(
                    raw.kind.span(),
                    Problem::UnknownWord {
                        key: format!("fault {number}: kind"),
                        written: raw.kind.get_ref().clone(),
                        choices: FAULT_KINDS,
                    },
                ))
            }
        };
        Ok(Fault { at_ns, kind })
    }
}

/// The fields of one `[[fault]]`, judged against what its kind takes.
struct FaultFields<'r, 'a> {
    resolver: &'r Resolver<'a>,
    raw: &'r RawFault,
    number: usize,
    kind: &'r str,
}

impl FaultFields<'_, '_> {
    fn key(&self, field: &str) -> String {
        format!("fault {} ({}): {field}", self.number, self.kind)
    }

    /// The fields present, with their spans, for the "does not apply" check.
    fn present(&self) -> Vec<(&'static str, Span)> {
        let raw = self.raw;
        [
            ("target", raw.target.as_ref().map(|v| v.span())),
            ("between", raw.between.as_ref().map(|v| v.span())),
            ("one_way", raw.one_way.as_ref().map(|v| v.span())),
            ("rate", raw.rate.as_ref().map(|v| v.span())),
            ("latency", raw.latency.as_ref().map(|v| v.span())),
            ("flush", raw.flush.as_ref().map(|v| v.span())),
            ("drift", raw.drift.as_ref().map(|v| v.span())),
        ]
        .into_iter()
        .filter_map(|(field, span)| span.map(|span| (field, span)))
        .collect()
    }

    /// Rejects any field the kind does not take, naming the ones it does.
    fn allow_only(&self, allowed: &[&str]) -> Resolved<()> {
        match self
            .present()
            .into_iter()
            .find(|(field, _)| !allowed.contains(field))
        {
            Some((field, span)) => Err(self.resolver.rule(
                span,
                &self.key(field),
                format!(
                    "does not apply to a {} fault, which takes: at, kind, {}; remove it",
                    self.kind,
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    fn missing(&self, field: &str, example: &str) -> ScenarioError {
        self.resolver.rule(
            self.raw.kind.span(),
            &self.key(field),
            format!(
                "a {} fault needs `{field}`, e.g. {field} = {example}",
                self.kind
            ),
        )
    }

    fn target(&self) -> Resolved<InstanceId> {
        let target = self
            .raw
            .target
            .as_ref()
            .ok_or_else(|| self.missing("target", "\"alpha\""))?;
        self.resolver.instance(&self.key("target"), target)
    }

    fn between(&self) -> Resolved<[InstanceId; 2]> {
        let between = self
            .raw
            .between
            .as_ref()
            .ok_or_else(|| self.missing("between", "[\"alpha\", \"beta\"]"))?;
        self.resolver.pair(&self.key("between"), between)
    }

    fn value(&self, field: &str, value: Option<&RawValue>, example: &str) -> Resolved<RawValue> {
        value.cloned().ok_or_else(|| self.missing(field, example))
    }

    fn one_way(&self) -> bool {
        self.raw
            .one_way
            .as_ref()
            .is_some_and(|one_way| *one_way.get_ref())
    }

    fn only_target(&self) -> Resolved<InstanceId> {
        self.allow_only(&["target"])?;
        self.target()
    }

    fn partition(&self) -> Resolved<FaultKind> {
        self.allow_only(&["between", "one_way"])?;
        Ok(FaultKind::Partition {
            between: self.between()?,
            one_way: self.one_way(),
        })
    }

    fn loss(&self) -> Resolved<FaultKind> {
        self.allow_only(&["between", "rate"])?;
        let between = match &self.raw.between {
            Some(between) => Some(self.resolver.pair(&self.key("between"), between)?),
            None => None,
        };
        let rate = self.value("rate", self.raw.rate.as_ref(), "0.01")?;
        Ok(FaultKind::Loss {
            between,
            rate: self.resolver.fraction(&self.key("rate"), &rate, true)?,
        })
    }

    fn slow_link(&self) -> Resolved<FaultKind> {
        self.allow_only(&["between", "latency", "one_way"])?;
        let between = self.between()?;
        let latency = self.value("latency", self.raw.latency.as_ref(), "\"50ms\"")?;
        Ok(FaultKind::SlowLink {
            between,
            latency_ns: self.resolver.duration(&self.key("latency"), &latency)?,
            one_way: self.one_way(),
        })
    }

    fn slow_disk(&self) -> Resolved<FaultKind> {
        self.allow_only(&["target", "flush"])?;
        let target = self.target()?;
        let flush = self.value("flush", self.raw.flush.as_ref(), "\"20ms\"")?;
        Ok(FaultKind::SlowDisk {
            target,
            flush_ns: self.resolver.duration(&self.key("flush"), &flush)?,
        })
    }

    fn clock_skew(&self) -> Resolved<FaultKind> {
        self.allow_only(&["target", "drift"])?;
        let target = self.target()?;
        let drift = self.value("drift", self.raw.drift.as_ref(), "\"+2%\"")?;
        Ok(FaultKind::ClockSkew {
            target,
            drift_ppm: self.drift(&drift)?,
        })
    }

    fn drift(&self, value: &RawValue) -> Resolved<i64> {
        let key = self.key("drift");
        let resolver = self.resolver;
        let text = match value.get_ref() {
            Value::String(text) => text.clone(),
            Value::Integer(number) => number.to_string(),
            // A bare fraction (the fault table says "by this fraction"): 0.02 is "+2%", not
            // the "+0.02%" the plain missing unit suggested.
            Value::Float(number) if number.is_finite() && number.abs() <= 1.0 => {
                let percent = (number * 100.0 * 1e6).round() / 1e6;
                let sign = if percent < 0.0 { "" } else { "+" };
                return Err(resolver.error(
                    value.span(),
                    Problem::Quantity {
                        key,
                        written: written(value.get_ref()),
                        reason: UnitError::MissingUnit {
                            example: format!("{sign}{percent}%"),
                            other: None,
                        },
                    },
                ));
            }
            Value::Float(number) => number.to_string(),
            other => {
                return Err(resolver.error(
                    value.span(),
                    Problem::WrongType {
                        key,
                        expected: "a signed percentage, e.g. \"+2%\" or \"-0.5%\"",
                        written: written(other),
                    },
                ))
            }
        };
        let drift_ppm = parse_drift_ppm(&text).map_err(|reason| {
            resolver.error(
                value.span(),
                Problem::Quantity {
                    key: key.clone(),
                    written: written(value.get_ref()),
                    reason,
                },
            )
        })?;
        // The clock must keep running forward, and at most twice as fast as true time.
        if !(-1_000_000 < drift_ppm && drift_ppm <= 1_000_000) {
            return Err(resolver.out_of_range(
                value.span(),
                &key,
                written(value.get_ref()),
                "greater than -100% and at most +100%",
            ));
        }
        Ok(drift_ppm)
    }

    fn heal(&self) -> Resolved<FaultKind> {
        self.allow_only(&["target", "between"])?;
        let scope = match (&self.raw.target, &self.raw.between) {
            (Some(_), Some(between)) => {
                return Err(self.resolver.rule(
                    between.span(),
                    &self.key("between"),
                    "a heal takes `target` or `between`, not both; write two heal faults",
                ))
            }
            (Some(_), None) => HealScope::Instance(self.target()?),
            (None, Some(_)) => HealScope::Link(self.between()?),
            (None, None) => HealScope::Everything,
        };
        Ok(FaultKind::Heal { scope })
    }
}
