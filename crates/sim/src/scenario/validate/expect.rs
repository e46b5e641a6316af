//! `[expect]`: names, states, comparisons and the allowed step errors.

use super::*;

impl Resolver<'_> {
    pub(super) fn expectations(&self, raw: &RawExpect, steps: usize) -> Resolved<Expectations> {
        let holder = |key: &str, value: &Option<serde_spanned::Spanned<String>>| {
            value
                .as_ref()
                .map(|name| self.role_holder(key, name))
                .transpose()
        };
        let count = |key: &str, value: &Option<RawValue>| {
            value
                .as_ref()
                .map(|value| self.comparison(key, value, Measure::Count))
                .transpose()
        };
        let duration = |key: &str, value: &Option<RawValue>| {
            value
                .as_ref()
                .map(|value| self.comparison(key, value, Measure::Duration))
                .transpose()
        };
        let failovers = match &raw.failovers {
            Some(failovers) => FailoverExpectations {
                automatic: count("expect.failovers.automatic", &failovers.automatic)?,
                manual: count("expect.failovers.manual", &failovers.manual)?,
                forced: count("expect.failovers.forced", &failovers.forced)?,
            },
            None => FailoverExpectations::default(),
        };
        Ok(Expectations {
            principal: holder("expect.principal", &raw.principal)?,
            mirror: holder("expect.mirror", &raw.mirror)?,
            state: raw
                .state
                .as_ref()
                .map(|state| self.session_state(state))
                .transpose()?,
            role_sequence: count("expect.role_sequence", &raw.role_sequence)?,
            lost_acknowledged: count("expect.lost_acknowledged", &raw.lost_acknowledged)?,
            split_brain: raw.split_brain,
            failovers,
            step_errors: raw
                .step_errors
                .as_ref()
                .map(|errors| self.allowed_step_errors(errors, steps))
                .transpose()?,
            commit_latency_p99: duration("expect.commit_latency_p99", &raw.commit_latency_p99)?,
            unavailable: duration("expect.unavailable", &raw.unavailable)?,
        })
    }

    fn session_state(&self, value: &serde_spanned::Spanned<String>) -> Resolved<SessionState> {
        let lower = value.get_ref().trim().to_ascii_lowercase();
        SessionState::ALL
            .into_iter()
            .find(|state| state.as_str() == lower)
            .ok_or_else(|| {
                self.error(
                    value.span(),
                    Problem::UnknownWord {
                        key: "expect.state".to_string(),
                        written: value.get_ref().clone(),
                        choices: "synchronized, synchronizing, suspended, disconnected, \
                                  pending_failover, none",
                    },
                )
            })
    }

    fn comparison(&self, key: &str, value: &RawValue, measure: Measure) -> Resolved<Comparison> {
        let comparison_error = |reason| {
            self.error(
                value.span(),
                Problem::Comparison {
                    key: key.to_string(),
                    written: written(value.get_ref()),
                    reason,
                },
            )
        };
        match (value.get_ref(), measure) {
            (Value::String(text), _) => Comparison::parse(text, measure).map_err(comparison_error),
            (Value::Integer(number), Measure::Count) => {
                u64::try_from(*number).map(Comparison::Equal).map_err(|_| {
                    comparison_error(crate::scenario::units::ComparisonError::Operand(
                        UnitError::Negative,
                    ))
                })
            }
            // `unavailable = 0`: zero is zero in every unit, and the spec's "a numeric key takes
            // a number (must be equal)" reads naturally so; it was refused ("needs a unit").
            (Value::Integer(0), Measure::Duration) => Ok(Comparison::Equal(0)),
            // Any other bare number for a duration: the parser says which unit to add.
            (Value::Integer(_) | Value::Float(_), Measure::Duration) => {
                self.duration(key, value).map(Comparison::Equal)
            }
            (other, _) => Err(self.error(
                value.span(),
                Problem::WrongType {
                    key: key.to_string(),
                    expected: match measure {
                        Measure::Count => "a whole number or a comparison, e.g. 0 or \"> 0\"",
                        Measure::Duration => "a comparison with a unit, e.g. \"< 5ms\"",
                    },
                    written: written(other),
                },
            )),
        }
    }

    fn allowed_step_errors(
        &self,
        raw: &[serde_spanned::Spanned<crate::scenario::raw::RawStepError>],
        steps: usize,
    ) -> Resolved<Vec<AllowedStepError>> {
        raw.iter()
            .map(|entry| {
                let entry = entry.get_ref();
                let last_step = i64::try_from(steps).unwrap_or(i64::MAX);
                if steps == 0 {
                    return Err(self.rule(
                        entry.step.span(),
                        "expect.step_errors",
                        "names a step, but the scenario has no [[step]]",
                    ));
                }
                let step = self.integer("expect.step_errors: step", &entry.step, 1..=last_step)?;
                let error = self.sql_error_number("expect.step_errors: error", &entry.error)?;
                Ok(AllowedStepError {
                    step: usize::try_from(step).unwrap_or(0),
                    error,
                })
            })
            .collect()
    }
}
