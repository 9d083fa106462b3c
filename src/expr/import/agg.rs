//! The aggregates of a grouped feed: how the rows of one group fold into a slot.

use super::check::origin;
use super::eval::{boolean, num, Ctx, Expr};
use super::{EvalError, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Sum,
    Min,
    Max,
    First,
    Last,
    Count,
    Any,
    All,
    /// A row-level value used outside an aggregate: it must be the same in every row of a group.
    Same,
}

impl AggFunc {
    pub(super) fn by_name(name: &str) -> Option<AggFunc> {
        Some(match name {
            "sum" => AggFunc::Sum,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "first" => AggFunc::First,
            "last" => AggFunc::Last,
            "count" => AggFunc::Count,
            "any" => AggFunc::Any,
            "all" => AggFunc::All,
            _ => return None,
        })
    }
}

/// One aggregate of a grouped feed: a row-level expression and how rows combine.
#[derive(Debug, Clone)]
pub struct SlotDef {
    pub func: AggFunc,
    pub arg: Option<Expr>,
}

impl SlotDef {
    /// Folds one row into a slot; `state` is `None` before the group's first row.
    pub fn update(
        &self,
        state: &mut Option<Value<'static>>,
        cx: &Ctx<'_>,
    ) -> Result<(), EvalError> {
        let v = match &self.arg {
            Some(arg) => arg.eval(cx)?,
            None => Value::Null(None),
        };
        match self.func {
            AggFunc::Count => {
                let n = match state {
                    Some(Value::Num(n)) => *n,
                    _ => 0.0,
                };
                *state = Some(Value::Num(n + 1.0));
            }
            AggFunc::Sum => {
                let x = num(v, "a number")?;
                let prev = match state {
                    Some(Value::Num(n)) => *n,
                    _ => 0.0,
                };
                *state = Some(Value::Num(prev + x));
            }
            AggFunc::Min | AggFunc::Max => {
                if let Value::Null(o) = v {
                    return Err(EvalError::empty(o, "a value to compare"));
                }
                let better = match (&*state, &v) {
                    (None, _) => true,
                    (Some(Value::Num(p)), Value::Num(x)) => {
                        if self.func == AggFunc::Min {
                            x < p
                        } else {
                            x > p
                        }
                    }
                    (Some(Value::Time(p)), Value::Time(x)) => {
                        if self.func == AggFunc::Min {
                            x < p
                        } else {
                            x > p
                        }
                    }
                    _ => return Err(EvalError::internal("min/max over mixed types")),
                };
                if better {
                    *state = Some(v.into_owned());
                }
            }
            AggFunc::First => {
                if state.is_none() {
                    *state = Some(v.into_owned());
                }
            }
            AggFunc::Last => *state = Some(v.into_owned()),
            AggFunc::Any | AggFunc::All => {
                let b = boolean(v)?;
                let prev = match state {
                    Some(Value::Bool(p)) => Some(*p),
                    _ => None,
                };
                let next = match (self.func, prev) {
                    (_, None) => b,
                    (AggFunc::Any, Some(p)) => p || b,
                    (_, Some(p)) => p && b,
                };
                *state = Some(Value::Bool(next));
            }
            AggFunc::Same => match &*state {
                None => *state = Some(v.into_owned()),
                Some(prev) if *prev == v => {}
                Some(prev) => {
                    let column = match (&v, &self.arg) {
                        (Value::Null(o), _) => *o,
                        (_, Some(arg)) => origin(arg),
                        _ => None,
                    };
                    return Err(EvalError::new(
                        column,
                        format!(
                            "{v} here but {prev} in the group's first row: a value outside sum()/min()/first()/... must be the same in every row of a group"
                        ),
                    ));
                }
            },
        }
        Ok(())
    }
}
