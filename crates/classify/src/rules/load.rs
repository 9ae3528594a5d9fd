//! Loading rules files: YAML to compiled [`Rule`]s, and the merge of a user file over the
//! embedded defaults.

use std::path::Path;
use std::sync::Arc;

use cel::Env;
use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::cost::compile_checked;
use super::eval::new_env;
use super::{
    BANNED_RULE, DEFAULTS_ORIGIN, DEFAULTS_YAML, Origin, Rule, RuleSet, RulesError, Stage,
};

/// Stack of the thread that parses and compiles rules files.
const LOAD_STACK: usize = 256 << 20;

pub(super) struct Parsed {
    rules: Vec<Rule>,
    disable: Vec<(String, usize)>,
}

pub(super) fn yaml_err(file: &str, node: &MarkedYaml<'_>, reason: impl Into<String>) -> RulesError {
    RulesError::Yaml {
        file: file.to_string(),
        line: node.span.start.line(),
        col: node.span.start.col() + 1,
        reason: reason.into(),
    }
}

pub(super) fn scalar_str<'a>(node: &'a MarkedYaml<'_>) -> Option<std::borrow::Cow<'a, str>> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(std::borrow::Cow::Borrowed(s.as_ref())),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string().into()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string().into()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string().into()),
        _ => None,
    }
}

pub(super) fn need_str(
    file: &str,
    node: &MarkedYaml<'_>,
    what: &str,
) -> Result<String, RulesError> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        _ => Err(yaml_err(file, node, format!("{what} must be a string"))),
    }
}

pub(super) fn str_list(
    file: &str,
    node: &MarkedYaml<'_>,
    what: &str,
) -> Result<Vec<String>, RulesError> {
    match &node.data {
        YamlData::Sequence(items) => items.iter().map(|i| need_str(file, i, what)).collect(),
        _ => Ok(vec![need_str(file, node, what)?]),
    }
}

pub(super) fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Parses and compiles a rules file on a thread with a large stack: the CEL parser recurses
/// deeply (debug builds need about 100 KB per nested bracket), and loading happens once.
pub(super) fn parse_file(text: &str, file: &str, origin: Origin) -> Result<Parsed, RulesError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("rules-load".into())
            .stack_size(LOAD_STACK)
            .spawn_scoped(scope, || parse_file_inner(text, file, origin))
            .map_err(|e| RulesError::Io {
                file: file.to_string(),
                reason: format!("cannot start the loader thread: {e}"),
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(RulesError::Io {
                    file: file.to_string(),
                    reason: "the rules loader panicked".into(),
                })
            })
    })
}

pub(super) fn parse_file_inner(
    text: &str,
    file: &str,
    origin: Origin,
) -> Result<Parsed, RulesError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| RulesError::Yaml {
        file: file.to_string(),
        line: e.marker().line(),
        col: e.marker().col() + 1,
        reason: e.info().to_string(),
    })?;
    let mut out = Parsed {
        rules: Vec::new(),
        disable: Vec::new(),
    };
    let Some(doc) = docs.first() else {
        return Ok(out);
    };
    if docs.len() > 1 {
        return Err(yaml_err(file, &docs[1], "one YAML document expected"));
    }
    let file_arc: Arc<str> = Arc::from(file);
    let list = match &doc.data {
        YamlData::Value(Scalar::Null) => return Ok(out),
        YamlData::Sequence(_) => Some(doc),
        YamlData::Mapping(m) => {
            let mut list = None;
            for (k, v) in m.iter() {
                match scalar_str(k).as_deref() {
                    Some("rules") => list = Some(v),
                    Some("disable") => {
                        let names = match &v.data {
                            YamlData::Sequence(items) => items.as_slice(),
                            _ => {
                                return Err(yaml_err(
                                    file,
                                    v,
                                    "`disable` must be a list of rule names",
                                ));
                            }
                        };
                        for n in names {
                            out.disable
                                .push((need_str(file, n, "a rule name")?, n.span.start.line()));
                        }
                    }
                    _ => {
                        return Err(yaml_err(
                            file,
                            k,
                            "unknown top-level key (expected `rules` or `disable`)",
                        ));
                    }
                }
            }
            list
        }
        _ => {
            return Err(yaml_err(
                file,
                doc,
                "expected a list of rules or a mapping with `rules`",
            ));
        }
    };
    let Some(list) = list else { return Ok(out) };
    let items = match &list.data {
        YamlData::Sequence(items) => items.as_slice(),
        YamlData::Value(Scalar::Null) => &[],
        _ => return Err(yaml_err(file, list, "`rules` must be a list")),
    };
    let env = new_env();
    for item in items {
        let rule = parse_rule(&env, item, file, &file_arc, origin)?;
        if out.rules.iter().any(|r| r.name == rule.name) {
            return Err(RulesError::Rule {
                file: file.to_string(),
                line: rule.line,
                rule: rule.name,
                reason: "a rule with this name is already defined in this file".into(),
            });
        }
        out.rules.push(rule);
    }
    Ok(out)
}

pub(super) fn parse_rule(
    env: &Arc<Env>,
    item: &MarkedYaml<'_>,
    file: &str,
    file_arc: &Arc<str>,
    origin: Origin,
) -> Result<Rule, RulesError> {
    let YamlData::Mapping(m) = &item.data else {
        return Err(yaml_err(
            file,
            item,
            "a rule must be a mapping with name, stage, when, actions",
        ));
    };
    let line = item.span.start.line();
    let mut name = None;
    let mut stage = None;
    let mut when = None;
    let mut enabled = true;
    let mut actions = None;
    for (k, v) in m.iter() {
        match scalar_str(k).as_deref() {
            Some("name") => name = Some(need_str(file, v, "`name`")?),
            Some("stage") => stage = Some(v),
            Some("when") => when = Some(v),
            Some("enabled") => match &v.data {
                YamlData::Value(Scalar::Boolean(b)) => enabled = *b,
                _ => return Err(yaml_err(file, v, "`enabled` must be true or false")),
            },
            Some("actions") => actions = Some(v),
            Some(other) => {
                return Err(yaml_err(
                    file,
                    k,
                    format!(
                        "unknown rule key `{other}` (expected name, stage, when, enabled, actions)"
                    ),
                ));
            }
            None => return Err(yaml_err(file, k, "rule keys must be strings")),
        }
    }
    let name = name.ok_or_else(|| yaml_err(file, item, "rule without a `name`"))?;
    let rule_err = |line: usize, reason: String| RulesError::Rule {
        file: file.to_string(),
        line,
        rule: name.clone(),
        reason,
    };
    if !is_ident(&name) {
        return Err(rule_err(
            line,
            "a name is 1-64 of a-z, 0-9, `_`, `-`".into(),
        ));
    }
    let stage_node = stage.ok_or_else(|| rule_err(line, "missing `stage`".into()))?;
    let stage_s = need_str(file, stage_node, "`stage`")?;
    let stage = Stage::parse(&stage_s).ok_or_else(|| {
        rule_err(
            stage_node.span.start.line(),
            format!("unknown stage `{stage_s}` (expected pre_fetch, post_fetch or retention)"),
        )
    })?;
    let when_node = when.ok_or_else(|| rule_err(line, "missing `when`".into()))?;
    let when_src = need_str(file, when_node, "`when`")?;
    let when_line = when_node.span.start.line();
    let when_prog = compile_checked(env, &when_src, stage, true, file, when_line, &name)?;

    let mut rule = Rule {
        name: name.clone(),
        stage,
        when_src,
        when: when_prog,
        drop: false,
        content_type: None,
        tags: Vec::new(),
        set: Vec::new(),
        origin,
        file: Arc::clone(file_arc),
        line,
        enabled,
        only_type: false,
    };
    let actions = actions.ok_or_else(|| rule_err(line, "missing `actions`".into()))?;
    let YamlData::Mapping(am) = &actions.data else {
        return Err(yaml_err(file, actions, "`actions` must be a mapping"));
    };
    for (k, v) in am.iter() {
        let key = scalar_str(k).unwrap_or_default().into_owned();
        let kline = k.span.start.line();
        if key != "drop" && stage != Stage::PostFetch {
            return Err(rule_err(
                kline,
                format!("action `{key}` is not allowed at stage {stage} (only `drop`)"),
            ));
        }
        match key.as_str() {
            "drop" => match &v.data {
                YamlData::Value(Scalar::Boolean(b)) => rule.drop = *b,
                _ => return Err(yaml_err(file, v, "`drop` must be true or false")),
            },
            "set_content_type" => {
                let t = need_str(file, v, "`set_content_type`")?;
                if !is_ident(&t) {
                    return Err(rule_err(
                        kline,
                        format!("bad content type `{t}` (a-z, 0-9, _, -)"),
                    ));
                }
                rule.content_type = Some(t);
            }
            "add_tag" => {
                for t in str_list(file, v, "a tag")? {
                    if !is_ident(&t) {
                        return Err(rule_err(kline, format!("bad tag `{t}` (a-z, 0-9, _, -)")));
                    }
                    rule.tags.push(t);
                }
            }
            "set" => {
                let YamlData::Mapping(sm) = &v.data else {
                    return Err(yaml_err(
                        file,
                        v,
                        "`set` must be a mapping of attribute: CEL expression",
                    ));
                };
                for (sk, sv) in sm.iter() {
                    let attr = need_str(file, sk, "an attribute name")?;
                    if !is_ident(&attr) {
                        return Err(rule_err(kline, format!("bad attribute name `{attr}`")));
                    }
                    let src = scalar_str(sv)
                        .ok_or_else(|| {
                            yaml_err(file, sv, "an attribute value is a CEL expression")
                        })?
                        .into_owned();
                    let prog = compile_checked(
                        env,
                        &src,
                        stage,
                        false,
                        file,
                        sv.span.start.line(),
                        &name,
                    )?;
                    rule.set.push((attr, src, prog));
                }
            }
            other => {
                return Err(rule_err(
                    kline,
                    format!(
                        "unknown action `{other}` (expected drop, set_content_type, add_tag, set)"
                    ),
                ));
            }
        }
    }
    if !rule.drop && rule.content_type.is_none() && rule.tags.is_empty() && rule.set.is_empty() {
        return Err(rule_err(line, "a rule needs at least one action".into()));
    }
    rule.only_type = !rule.drop && rule.tags.is_empty() && rule.set.is_empty();
    Ok(rule)
}

impl RuleSet {
    /// The defaults merged with the user file at `user`, if any: a user rule with a default's
    /// name replaces it in place; new user rules run before the defaults, in file order;
    /// `disable: [names]` and `enabled: false` turn rules off. Naming [`BANNED_RULE`], or
    /// disabling a rule that does not exist, is an error.
    pub fn load(user: Option<&Path>) -> Result<Self, RulesError> {
        match user {
            None => Self::merged(None),
            Some(path) => {
                let file = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|e| RulesError::Io {
                    file: file.clone(),
                    reason: e.to_string(),
                })?;
                Self::merged(Some((&text, &file)))
            }
        }
    }

    /// The defaults merged with `user` = (YAML text, file name for messages), as
    /// [`RuleSet::load`].
    pub fn merged(user: Option<(&str, &str)>) -> Result<Self, RulesError> {
        let defaults = parse_file(DEFAULTS_YAML, DEFAULTS_ORIGIN, Origin::Default)?;
        let mut rules = defaults.rules;
        let Some((text, file)) = user else {
            return Ok(Self {
                env: new_env(),
                rules,
            });
        };
        let user = parse_file(text, file, Origin::User)?;
        let mut new_rules = Vec::new();
        for mut r in user.rules {
            if r.name == BANNED_RULE {
                return Err(RulesError::Rule {
                    file: file.to_string(),
                    line: r.line,
                    rule: r.name,
                    reason: "this rule is built in and cannot be replaced".into(),
                });
            }
            match rules.iter_mut().find(|d| d.name == r.name) {
                Some(d) => {
                    r.origin = Origin::Replaced;
                    *d = r;
                }
                None => new_rules.push(r),
            }
        }
        new_rules.append(&mut rules);
        let mut rules = new_rules;
        for (name, line) in user.disable {
            if name == BANNED_RULE {
                return Err(RulesError::Rule {
                    file: file.to_string(),
                    line,
                    rule: name,
                    reason: "this rule is built in and cannot be disabled".into(),
                });
            }
            match rules.iter_mut().find(|r| r.name == name) {
                Some(r) => r.enabled = false,
                None => {
                    return Err(RulesError::Rule {
                        file: file.to_string(),
                        line,
                        rule: name,
                        reason: "`disable` names no rule".into(),
                    });
                }
            }
        }
        Ok(Self {
            env: new_env(),
            rules,
        })
    }

    /// Only the rules in `text` (no defaults; the banned-keyword rule still applies).
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Self, RulesError> {
        let parsed = parse_file(text, origin, Origin::User)?;
        if let Some(r) = parsed.rules.iter().find(|r| r.name == BANNED_RULE) {
            return Err(RulesError::Rule {
                file: origin.to_string(),
                line: r.line,
                rule: r.name.clone(),
                reason: "this rule is built in and cannot be replaced".into(),
            });
        }
        let mut rules = parsed.rules;
        for (name, line) in parsed.disable {
            match rules.iter_mut().find(|r| r.name == name) {
                Some(r) => r.enabled = false,
                None => {
                    return Err(RulesError::Rule {
                        file: origin.to_string(),
                        line,
                        rule: name,
                        reason: "`disable` names no rule".into(),
                    });
                }
            }
        }
        Ok(Self {
            env: new_env(),
            rules,
        })
    }
}
