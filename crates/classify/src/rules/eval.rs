//! Evaluation: the CEL environment (with `matches` on patterns compiled once), and the
//! post-fetch, pre-fetch and retention passes over a [`RuleSet`].

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelString, CelUInt};
use cel::common::value::{CowVal, Val};
use cel::{Context, Env, ExecutionError, Value};
use regex::{Regex, RegexBuilder};

use super::banned::has_banned_keyword;
use super::vars::{Derived, PostVars, PreVars, s};
use super::{BANNED_RULE, PrefetchFacts, Rule, RuleSet, Stage, TorrentFacts, Verdict};

pub(super) static REGEX_CACHE: LazyLock<RwLock<HashMap<String, Arc<Regex>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));
pub(super) const REGEX_CACHE_MAX: usize = 4096;

pub(super) fn compile_regex(pattern: &str) -> Result<Arc<Regex>, String> {
    if let Some(r) = REGEX_CACHE
        .read()
        .ok()
        .and_then(|c| c.get(pattern).cloned())
    {
        return Ok(r);
    }
    let re = RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("invalid regex '{pattern}': {e}"))?;
    let re = Arc::new(re);
    if let Ok(mut c) = REGEX_CACHE.write()
        && c.len() < REGEX_CACHE_MAX
    {
        c.insert(pattern.to_string(), Arc::clone(&re));
    }
    Ok(re)
}

pub(super) fn matches(this: &CelString<'_>, re: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    let re = compile_regex(re.inner()).map_err(|m| ExecutionError::function_error("matches", m))?;
    Ok(CelBool::from(re.is_match(this.inner())))
}

pub(super) fn new_env() -> Arc<Env> {
    let mut env = Env::stdlib();
    // The stdlib's `matches` (regex feature) compiles its pattern on every call; ours uses the
    // patterns compiled at load.
    cel::add_member_overload!(env, fn matches: (CelString<'_>, CelString<'_>) -> Result<CelBool>)
        .expect("matches overload");
    cel::add_overload!(env, fn matches: (CelString<'_>, CelString<'_>) -> Result<CelBool>)
        .expect("matches overload");
    Arc::new(env)
}

/// An attribute value as text: strings as they are, numbers in decimal, lists joined with
/// `,`; empty strings, zero, false, null and empty lists are "not set".
pub(super) fn attribute_text(v: &dyn Val) -> Option<String> {
    if let Some(s) = v.downcast_ref::<CelString<'_>>() {
        return (!s.inner().is_empty()).then(|| s.inner().to_string());
    }
    if let Some(n) = v.downcast_ref::<CelInt>() {
        return (*n.inner() != 0).then(|| n.inner().to_string());
    }
    if let Some(n) = v.downcast_ref::<CelUInt>() {
        return (*n.inner() != 0).then(|| n.inner().to_string());
    }
    if let Some(n) = v.downcast_ref::<CelDouble>() {
        return (*n.inner() != 0.0).then(|| n.inner().to_string());
    }
    if let Some(x) = v.downcast_ref::<CelBool>() {
        return x.inner().then(|| "true".to_string());
    }
    if let Some(l) = v.downcast_ref::<CelList<'_>>() {
        let parts: Vec<String> = l
            .inner()
            .iter()
            .filter_map(|e| attribute_text(e.as_ref()))
            .collect();
        return (!parts.is_empty()).then(|| parts.join(","));
    }
    None
}

pub(super) fn truth(r: Result<CowVal<'_, '_>, ExecutionError>) -> Result<bool, String> {
    match r {
        Ok(v) => v
            .downcast_ref::<CelBool>()
            .map(|b| *b.inner())
            .ok_or_else(|| format!("not a bool: {}", v.get_type().name())),
        Err(e) => Err(e.to_string()),
    }
}

impl RuleSet {
    pub(super) fn active(&self, stage: Stage) -> impl Iterator<Item = &Rule> {
        self.rules
            .iter()
            .filter(move |r| r.enabled && r.stage == stage)
    }

    /// Post-fetch: runs the banned-keyword check, then every enabled post-fetch rule in
    /// order. The first rule that sets a content type wins (later type-only rules are
    /// skipped); tags accumulate; the first rule to set an attribute wins; a `drop` stops
    /// evaluation. A rule whose evaluation fails does not fire (see [`Verdict::errors`]).
    pub fn classify(&self, facts: &TorrentFacts) -> Verdict {
        let mut v = Verdict::default();
        if has_banned_keyword(facts) {
            v.drop = Some(BANNED_RULE.to_string());
            v.fired.push(BANNED_RULE.to_string());
            v.content_type = Some("unknown".into());
            return v;
        }
        let d = Derived::new(facts, None);
        let vars = PostVars::new(&d);
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.set_variable_resolver(&vars);
        for r in self.active(Stage::PostFetch) {
            if r.only_type && v.content_type.is_some() {
                continue;
            }
            match truth(Value::resolve_val(r.when.expression(), &ctx)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    v.errors.push(format!("{}: {e}", r.name));
                    continue;
                }
            }
            v.fired.push(r.name.clone());
            if r.drop {
                v.drop = Some(r.name.clone());
                break;
            }
            if let Some(t) = &r.content_type
                && v.content_type.is_none()
            {
                v.content_type = Some(t.clone());
                let _ = vars.content_type.set(s(t.clone()));
            }
            for t in &r.tags {
                if !v.tags.contains(t) {
                    v.tags.push(t.clone());
                }
            }
            for (k, _, prog) in &r.set {
                if v.attributes.contains_key(k) {
                    continue;
                }
                match Value::resolve_val(prog.expression(), &ctx) {
                    Ok(val) => {
                        if let Some(text) = attribute_text(val.as_ref()) {
                            v.attributes.insert(k.clone(), text);
                        }
                    }
                    Err(e) => v.errors.push(format!("{} (set {k}): {e}", r.name)),
                }
            }
        }
        if v.content_type.is_none() {
            v.content_type = Some("unknown".into());
        }
        v
    }

    /// Pre-fetch: the name of the first enabled pre-fetch rule that drops this infohash.
    pub fn prefetch(&self, facts: &PrefetchFacts) -> Option<String> {
        let mut rules = self.active(Stage::PreFetch).filter(|r| r.drop).peekable();
        rules.peek()?;
        let vars = PreVars::new(facts);
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.set_variable_resolver(&vars);
        rules
            .find(|r| truth(Value::resolve_val(r.when.expression(), &ctx)) == Ok(true))
            .map(|r| r.name.clone())
    }

    /// Retention: `Err(rule name)` from the first enabled retention rule that drops this
    /// torrent, `Ok(())` if it is kept. `seeders`: from the scrape, if known.
    pub fn keep(
        &self,
        facts: &TorrentFacts,
        content_type: &str,
        seeders: Option<u32>,
    ) -> Result<(), String> {
        let mut rules = self.active(Stage::Retention).filter(|r| r.drop).peekable();
        if rules.peek().is_none() {
            return Ok(());
        }
        let d = Derived::new(facts, Some(seeders.map_or(-1, i64::from)));
        let vars = PostVars::new(&d);
        let _ = vars.content_type.set(s(content_type));
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.set_variable_resolver(&vars);
        match rules.find(|r| truth(Value::resolve_val(r.when.expression(), &ctx)) == Ok(true)) {
            Some(r) => Err(r.name.clone()),
            None => Ok(()),
        }
    }

    /// Whether any enabled rule runs at `stage` (a caller can skip building facts if not).
    pub fn has_stage(&self, stage: Stage) -> bool {
        self.active(stage).next().is_some()
    }
}
