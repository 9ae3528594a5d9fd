//! Load-time checks of an expression: size, variables of its stage, worst-case cost, literal
//! regexes, and one evaluation on sample inputs (see "Cost bound" in the [module doc](super)).

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use cel::common::types::CelString;
use cel::common::value::CowVal;
use cel::{Context, Env, ExecutionError, IdedExpr, Program, Value};

use super::eval::compile_regex;
use super::vars::{
    Derived, ELEMENT_SIZE, PostVars, PreVars, TYPE_IDENTS, VAR_BOUNDS, VAR_STAGES, var_of,
};
use super::{
    MAX_BRACKETS, MAX_COST, MAX_DEPTH, MAX_EXPR_LEN, MAX_FILES, MAX_NODES, PrefetchFacts,
    RulesError, Stage, TorrentFacts, VARIABLES,
};

pub(super) struct Estimate {
    cost: u64,
    size: u64,
}

pub(super) struct Checker<'a> {
    stage: Stage,
    nodes: usize,
    depth: usize,
    scope: Vec<(&'a str, u64)>,
}

impl<'a> Checker<'a> {
    fn walk(&mut self, e: &'a IdedExpr) -> Result<Estimate, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "expression nested too deeply (more than {MAX_DEPTH} levels): split it"
            ));
        }
        let r = self.walk_node(e);
        self.depth -= 1;
        r
    }

    fn walk_node(&mut self, e: &'a IdedExpr) -> Result<Estimate, String> {
        use cel::common::ast::{EntryExpr, Expr};
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(format!(
                "expression too large (more than {MAX_NODES} nodes): split it into several rules"
            ));
        }
        Ok(match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => Estimate { cost: 1, size: 1 },
            Expr::Ident(name) => {
                let size = if let Some((_, s)) = self.scope.iter().rev().find(|(n, _)| n == name) {
                    *s
                } else if let Some(v) = var_of(name) {
                    if VAR_STAGES[v as usize] & self.stage.bit() == 0 {
                        return Err(format!(
                            "variable `{name}` is not available at stage {}",
                            self.stage
                        ));
                    }
                    VAR_BOUNDS[v as usize]
                } else if TYPE_IDENTS.contains(&name.as_str()) {
                    1
                } else {
                    return Err(format!(
                        "unknown variable `{name}` at stage {} (known: {})",
                        self.stage,
                        known_vars(self.stage).join(", ")
                    ));
                };
                Estimate { cost: 1, size }
            }
            Expr::Select(s) => {
                let o = self.walk(&s.operand)?;
                Estimate {
                    cost: o.cost + 1,
                    size: 1,
                }
            }
            Expr::List(l) => {
                let mut cost = 1;
                for el in &l.elements {
                    cost += self.walk(el)?.cost;
                }
                Estimate {
                    cost,
                    size: l.elements.len().max(1) as u64,
                }
            }
            Expr::Map(m) => {
                let mut cost = 1;
                for en in &m.entries {
                    if let EntryExpr::MapEntry(me) = &en.expr {
                        cost += self.walk(&me.key)?.cost + self.walk(&me.value)?.cost;
                    }
                }
                Estimate {
                    cost,
                    size: m.entries.len().max(1) as u64,
                }
            }
            Expr::Struct(_) => return Err("struct literals are not supported".into()),
            Expr::Call(c) => {
                if c.func_name == "matches" {
                    let pat = if c.target.is_some() {
                        c.args.first()
                    } else {
                        c.args.get(1)
                    };
                    match pat.map(|p| &p.expr) {
                        Some(Expr::Literal(cel::common::ast::LiteralValue::String(s))) => {
                            compile_regex(s.inner())?;
                        }
                        _ => {
                            return Err(
                                "matches() needs a string literal pattern (compiled once at load)"
                                    .into(),
                            );
                        }
                    }
                }
                let mut cost = 1;
                let mut sizes = Vec::with_capacity(c.args.len() + 1);
                if let Some(t) = &c.target {
                    let t = self.walk(t)?;
                    cost += t.cost;
                    sizes.push(t.size);
                }
                for a in &c.args {
                    let a = self.walk(a)?;
                    cost += a.cost;
                    sizes.push(a.size);
                }
                let max = sizes.iter().copied().max().unwrap_or(1);
                match c.func_name.as_str() {
                    "@in" => {
                        cost += sizes.last().copied().unwrap_or(1);
                        Estimate { cost, size: 1 }
                    }
                    "_+_" => {
                        let sum: u64 = sizes.iter().sum();
                        Estimate {
                            cost: cost + sum,
                            size: sum,
                        }
                    }
                    "_==_" | "_!=_" => Estimate {
                        cost: cost + max,
                        size: 1,
                    },
                    "size" | "_<_" | "_<=_" | "_>_" | "_>=_" | "_&&_" | "_||_" | "!_" => {
                        Estimate { cost, size: 1 }
                    }
                    _ => Estimate { cost, size: max },
                }
            }
            Expr::Comprehension(c) => {
                let range = self.walk(&c.iter_range)?;
                let init = self.walk(&c.accu_init)?;
                let mark = self.scope.len();
                let element = if range.size > 1 { ELEMENT_SIZE } else { 1 };
                self.scope.push((c.iter_var.as_str(), element));
                if let Some(v2) = &c.iter_var2 {
                    self.scope.push((v2.as_str(), element));
                }
                // map()/filter() append in place (cel-go's optimisation, also in cel-rust):
                // the accumulator costs one step per element.
                self.scope.push((c.accu_var.as_str(), 1));
                let cond = self.walk(&c.loop_cond)?;
                let step = self.walk(&c.loop_step)?;
                self.scope.truncate(mark);
                self.scope.push((c.accu_var.as_str(), range.size));
                let result = self.walk(&c.result)?;
                self.scope.truncate(mark);
                let body = range.size.saturating_mul(cond.cost + step.cost + 1);
                Estimate {
                    cost: range.cost + init.cost + body + result.cost,
                    size: range.size,
                }
            }
        })
    }
}

/// The deepest nesting of `(`, `[` and `{` outside string literals.
pub(super) fn bracket_depth(src: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in src.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    max
}

pub(super) fn known_vars(stage: Stage) -> Vec<&'static str> {
    VARIABLES
        .iter()
        .enumerate()
        .filter(|(i, _)| VAR_STAGES[*i] & stage.bit() != 0)
        .map(|(_, v)| v.name)
        .collect()
}

/// Compiles `src`, checks it against `stage`'s variables and the cost bound, and evaluates it
/// on sample inputs so type errors surface at load. `boolean`: must evaluate to a bool.
pub(super) fn compile_checked(
    env: &Arc<Env>,
    src: &str,
    stage: Stage,
    boolean: bool,
    file: &str,
    line: usize,
    rule: &str,
) -> Result<Program, RulesError> {
    let rule_err = |reason: String| RulesError::Rule {
        file: file.to_string(),
        line,
        rule: rule.to_string(),
        reason,
    };
    if src.len() > MAX_EXPR_LEN {
        return Err(rule_err(format!(
            "expression too long ({} bytes, at most {MAX_EXPR_LEN})",
            src.len()
        )));
    }
    if bracket_depth(src) > MAX_BRACKETS {
        return Err(rule_err(format!(
            "brackets nested too deeply (more than {MAX_BRACKETS} levels)"
        )));
    }
    let program = env.compile(src).map_err(|e| {
        let (msg, l) = match e.errors.first() {
            Some(pe) => (
                format!("{} (at column {})", pe.msg, pe.pos.1.max(1)),
                (pe.pos.0.max(1) - 1) as usize,
            ),
            None => (e.to_string(), 0),
        };
        RulesError::Cel {
            file: file.to_string(),
            line: line + l,
            rule: rule.to_string(),
            message: msg,
        }
    })?;
    let mut checker = Checker {
        stage,
        nodes: 0,
        depth: 0,
        scope: Vec::new(),
    };
    let est = checker.walk(program.expression()).map_err(rule_err)?;
    if est.cost > MAX_COST {
        return Err(rule_err(format!(
            "too costly: estimated {} steps in the worst case, at most {MAX_COST} \
             (files is capped at {MAX_FILES}: a comprehension inside a comprehension over \
             files costs their product)",
            est.cost
        )));
    }
    // Sample evaluation: type errors (no such overload, undeclared reference, wrong type)
    // are errors whatever the input; data-dependent ones (missing map key, division by zero)
    // are not.
    for sample in samples() {
        let result = match stage {
            Stage::PreFetch => {
                let vars = PreVars::new(&sample.pre);
                let mut ctx = Context::with_env(Arc::clone(env));
                ctx.set_variable_resolver(&vars);
                Value::resolve_val(program.expression(), &ctx).map(|v| kind_of(&v))
            }
            _ => {
                let d = Derived::new(&sample.facts, Some(-1));
                let vars = PostVars::new(&d);
                if stage == Stage::Retention {
                    let _ = vars
                        .content_type
                        .set(Box::new(CelString::from("movie".to_string())));
                }
                let mut ctx = Context::with_env(Arc::clone(env));
                ctx.set_variable_resolver(&vars);
                Value::resolve_val(program.expression(), &ctx).map(|v| kind_of(&v))
            }
        };
        match result {
            Ok(kind) if boolean && kind != "bool" => {
                return Err(rule_err(format!(
                    "`when` must evaluate to a bool, not {kind}"
                )));
            }
            Ok(_) => {}
            Err(
                e @ (ExecutionError::UndeclaredReference(_)
                | ExecutionError::NoSuchOverload(_)
                | ExecutionError::UnexpectedType { .. }
                | ExecutionError::UnsupportedBinaryOperator(..)
                | ExecutionError::InvalidArgumentCount { .. }
                | ExecutionError::NotSupportedAsMethod { .. }
                | ExecutionError::FunctionError { .. }),
            ) => {
                return Err(RulesError::Cel {
                    file: file.to_string(),
                    line,
                    rule: rule.to_string(),
                    message: e.to_string(),
                });
            }
            Err(_) => {}
        }
    }
    Ok(program)
}

pub(super) fn kind_of(v: &CowVal<'_, '_>) -> String {
    v.get_type().name().to_string()
}

pub(super) struct Sample {
    facts: TorrentFacts,
    pre: PrefetchFacts,
}

pub(super) fn samples() -> &'static [Sample] {
    static S: LazyLock<Vec<Sample>> = LazyLock::new(|| {
        vec![
            Sample {
                facts: TorrentFacts::new(
                    "Some.Show.S01E02.1080p.WEB-DL.x264-GRP",
                    vec![
                        (
                            "Some.Show.S01E02.1080p.WEB-DL.x264-GRP.mkv".into(),
                            1_500_000_000,
                        ),
                        ("Subs/English.srt".into(), 50_000),
                    ],
                ),
                pre: PrefetchFacts {
                    info_hash_hex: "0123456789abcdef0123456789abcdef01234567".into(),
                    source_ip: Some(IpAddr::from([127, 0, 0, 1])),
                    times_seen: 3,
                    peers: Some(10),
                    seeders: Some(5),
                    leechers: Some(2),
                },
            },
            Sample {
                facts: TorrentFacts::default(),
                pre: PrefetchFacts::default(),
            },
        ]
    });
    &S
}
