//! Rules: merging over the defaults, load errors with file:line, the built-in banned keywords,
//! attributes, pre-fetch and retention, and the cost bound.

use classify::rules::{
    BANNED_RULE, MAX_COST, Origin, PrefetchFacts, RuleSet, RulesError, Stage, TorrentFacts,
};
use std::net::IpAddr;
use std::time::Instant;

fn movie() -> TorrentFacts {
    TorrentFacts::new(
        "Dune.Part.Two.2024.2160p.WEB-DL.DDP5.1.Atmos.DV.HDR.H.265-FLUX",
        vec![
            (
                "Dune.Part.Two.2024.2160p.WEB-DL.DDP5.1.Atmos.DV.HDR.H.265-FLUX.mkv".into(),
                24_000_000_000,
            ),
            ("Subs/English.srt".into(), 90_000),
        ],
    )
}

fn episode() -> TorrentFacts {
    TorrentFacts::new(
        "Dark.S02E03.GERMAN.1080p.WEBRip.x265-GROUP",
        vec![(
            "Dark.S02E03.GERMAN.1080p.WEBRip.x265-GROUP.mkv".into(),
            1_200_000_000,
        )],
    )
}

fn user(text: &str) -> Result<RuleSet, RulesError> {
    RuleSet::merged(Some((text, "my-rules.yaml")))
}

fn err(text: &str) -> String {
    match user(text) {
        Ok(_) => panic!("should not load: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_classify_and_set_attributes() {
    let rules = RuleSet::load(None).unwrap();
    let v = rules.classify(&movie());
    assert_eq!(v.content_type(), "movie");
    assert_eq!(v.drop, None);
    assert!(v.tags.contains(&"4k".to_string()), "{:?}", v.tags);
    assert!(v.tags.contains(&"hdr".to_string()), "{:?}", v.tags);
    assert_eq!(v.attributes["resolution"], "2160p");
    assert_eq!(v.attributes["year"], "2024");
    assert_eq!(v.attributes["video_codec"], "h265");
    assert_eq!(v.attributes["source"], "web-dl");
    assert_eq!(v.attributes["group"], "FLUX");
    assert!(!v.attributes.contains_key("season"));
    assert!(v.errors.is_empty(), "{:?}", v.errors);

    let v = rules.classify(&episode());
    assert_eq!(v.content_type(), "tv_show");
    assert_eq!(v.attributes["season"], "2");
    assert_eq!(v.attributes["episode"], "3");
    assert_eq!(v.attributes["languages"], "de");
    assert!(v.tags.contains(&"hd".to_string()));
    assert!(
        v.fired.contains(&"tv-episode-marker".to_string()),
        "{:?}",
        v.fired
    );

    let v = rules.classify(&TorrentFacts::new(
        "random stuff",
        vec![("a.xyz".into(), 10)],
    ));
    assert_eq!(v.content_type(), "unknown");
    assert_eq!(v.content_type, Some("unknown".into()));
}

#[test]
fn a_user_rule_with_a_default_name_replaces_it_in_place() {
    let rules = user(
        r#"
- name: movie-video
  stage: post_fetch
  when: share.video > 0.5
  actions:
    set_content_type: film
"#,
    )
    .unwrap();
    assert_eq!(rules.classify(&movie()).content_type(), "film");
    // The series rules still come first.
    assert_eq!(rules.classify(&episode()).content_type(), "tv_show");
    let info = rules.rules();
    let r = info.iter().find(|r| r.name == "movie-video").unwrap();
    assert_eq!(r.origin, Origin::Replaced);
    assert_eq!(r.file, "my-rules.yaml");
    let default_pos = RuleSet::load(None)
        .unwrap()
        .rules()
        .iter()
        .position(|r| r.name == "movie-video");
    assert_eq!(
        info.iter().position(|r| r.name == "movie-video"),
        default_pos
    );
}

#[test]
fn new_user_rules_run_before_the_defaults() {
    let rules = user(
        r#"
rules:
  - name: anime
    stage: post_fetch
    when: group == 'SubsPlease'
    actions:
      set_content_type: anime
      add_tag: [fansub, subbed]
"#,
    )
    .unwrap();
    let t = TorrentFacts::new(
        "[SubsPlease] Sousou no Frieren - 05 (1080p) [F2D0B1A3].mkv",
        vec![(
            "[SubsPlease] Sousou no Frieren - 05 (1080p) [F2D0B1A3].mkv".into(),
            1_400_000_000,
        )],
    );
    let v = rules.classify(&t);
    assert_eq!(v.content_type(), "anime");
    assert_eq!(v.tags[..2], ["fansub".to_string(), "subbed".to_string()]);
    assert_eq!(v.fired[0], "anime");
    let info = rules.rules();
    assert_eq!(info[0].name, BANNED_RULE);
    assert_eq!(info[1].name, "anime");
    assert_eq!(info[1].origin, Origin::User);
}

#[test]
fn defaults_can_be_disabled_by_name_or_flag() {
    let rules = user("disable: [movie-video, tag-4k]\n").unwrap();
    let v = rules.classify(&movie());
    assert_eq!(v.content_type(), "unknown");
    assert!(!v.tags.contains(&"4k".to_string()));
    assert!(
        rules
            .rules()
            .iter()
            .any(|r| r.name == "movie-video" && !r.enabled)
    );

    let rules = user(
        r#"
- name: movie-video
  stage: post_fetch
  enabled: false
  when: "true"
  actions:
    set_content_type: movie
"#,
    )
    .unwrap();
    assert_eq!(rules.classify(&movie()).content_type(), "unknown");

    // A typo in `disable` is an error, not a silent no-op.
    assert_eq!(
        err("disable:\n  - movie-vdeo\n"),
        "my-rules.yaml:2: rule `movie-vdeo`: `disable` names no rule"
    );
}

#[test]
fn bad_yaml_reports_file_line_and_column() {
    let e = err("rules:\n  - name: x\n    stage: [post_fetch\n");
    assert!(e.starts_with("my-rules.yaml:"), "{e}");
    assert!(
        e.split(':').nth(1).unwrap().parse::<usize>().unwrap() >= 3,
        "{e}"
    );
    assert_eq!(
        err("- name: x\n  stage: post_fetch\n  when: 'true'\n  actoins: {drop: true}\n"),
        "my-rules.yaml:4:3: unknown rule key `actoins` (expected name, stage, when, enabled, actions)"
    );
    assert_eq!(
        err("foo: 1\n"),
        "my-rules.yaml:1:1: unknown top-level key (expected `rules` or `disable`)"
    );
    assert_eq!(
        err("- 3\n"),
        "my-rules.yaml:1:3: a rule must be a mapping with name, stage, when, actions"
    );
}

#[test]
fn bad_cel_reports_file_line_rule_and_cel_message() {
    let e = err(
        "# my rules\n- name: broken\n  stage: post_fetch\n  when: total_size > > 3\n  actions: {drop: true}\n",
    );
    assert!(
        e.starts_with("my-rules.yaml:4: rule `broken`: CEL error: "),
        "{e}"
    );
    // A multi-line expression: the line of the error inside it.
    let e = err(
        "- name: multi\n  stage: post_fetch\n  when: >\n    total_size > 3 &&\n\n    name ==\n",
    );
    assert!(e.starts_with("my-rules.yaml:"), "{e}");
    assert!(e.contains("rule `multi`: CEL error:"), "{e}");
    // Type errors are found by the sample evaluation at load.
    let e =
        err("- name: typed\n  stage: post_fetch\n  when: year > 'x'\n  actions: {drop: true}\n");
    assert_eq!(
        e,
        "my-rules.yaml:3: rule `typed`: CEL error: found no matching overload for '_>_' applied to '(int, string)'"
    );
    let e =
        err("- name: nobool\n  stage: post_fetch\n  when: total_size\n  actions: {drop: true}\n");
    assert_eq!(
        e,
        "my-rules.yaml:3: rule `nobool`: `when` must evaluate to a bool, not int"
    );
    let e = err("- name: fn\n  stage: post_fetch\n  when: nosuch(name)\n  actions: {drop: true}\n");
    assert!(
        e.starts_with("my-rules.yaml:3: rule `fn`: CEL error: "),
        "{e}"
    );
}

#[test]
fn unknown_variables_stages_and_actions_are_errors() {
    let e = err("- name: v\n  stage: post_fetch\n  when: sise > 3\n  actions: {drop: true}\n");
    assert!(
        e.starts_with(
            "my-rules.yaml:3: rule `v`: unknown variable `sise` at stage post_fetch (known: name, "
        ),
        "{e}"
    );
    let e = err("- name: v\n  stage: pre_fetch\n  when: total_size > 3\n  actions: {drop: true}\n");
    assert_eq!(
        e,
        "my-rules.yaml:3: rule `v`: variable `total_size` is not available at stage pre_fetch"
    );
    let e = err("- name: s\n  stage: postfetch\n  when: 'true'\n  actions: {drop: true}\n");
    assert_eq!(
        e,
        "my-rules.yaml:2: rule `s`: unknown stage `postfetch` (expected pre_fetch, post_fetch or retention)"
    );
    let e =
        err("- name: a\n  stage: post_fetch\n  when: 'true'\n  actions:\n    set_type: movie\n");
    assert_eq!(
        e,
        "my-rules.yaml:5: rule `a`: unknown action `set_type` (expected drop, set_content_type, add_tag, set)"
    );
    let e = err("- name: a\n  stage: retention\n  when: 'true'\n  actions:\n    add_tag: x\n");
    assert_eq!(
        e,
        "my-rules.yaml:5: rule `a`: action `add_tag` is not allowed at stage retention (only `drop`)"
    );
    let e = err("- name: a\n  stage: post_fetch\n  when: 'true'\n  actions: {}\n");
    assert_eq!(
        e,
        "my-rules.yaml:1: rule `a`: a rule needs at least one action"
    );
    let e = err(
        "- name: a\n  stage: post_fetch\n  when: 'true'\n  actions: {drop: true}\n- name: a\n  stage: post_fetch\n  when: 'true'\n  actions: {drop: true}\n",
    );
    assert_eq!(
        e,
        "my-rules.yaml:5: rule `a`: a rule with this name is already defined in this file"
    );
    let e = err(
        "- name: m\n  stage: post_fetch\n  when: name.matches(group)\n  actions: {drop: true}\n",
    );
    assert_eq!(
        e,
        "my-rules.yaml:3: rule `m`: matches() needs a string literal pattern (compiled once at load)"
    );
    let e =
        err("- name: m\n  stage: post_fetch\n  when: name.matches('(')\n  actions: {drop: true}\n");
    assert!(
        e.starts_with("my-rules.yaml:3: rule `m`: invalid regex '(': "),
        "{e}"
    );
}

#[test]
fn a_missing_rules_file_is_an_error() {
    let e = RuleSet::load(Some(std::path::Path::new("/nonexistent/rules.yaml"))).unwrap_err();
    assert!(
        e.to_string().starts_with("/nonexistent/rules.yaml: "),
        "{e}"
    );
}

#[test]
fn rules_load_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(
        &path,
        "- name: big\n  stage: post_fetch\n  when: total_size > 10 * GB\n  actions: {add_tag: big}\n",
    )
    .unwrap();
    let rules = RuleSet::load(Some(&path)).unwrap();
    assert!(rules.classify(&movie()).tags.contains(&"big".to_string()));
    assert!(!rules.classify(&episode()).tags.contains(&"big".to_string()));
}

#[test]
fn banned_keywords_drop_in_names_and_paths_whole_words_only() {
    let rules = RuleSet::load(None).unwrap();
    let hit = |name: &str, path: &str| {
        rules
            .classify(&TorrentFacts::new(name, vec![(path.into(), 1000)]))
            .drop
    };
    assert_eq!(
        hit("something PTHC video", "a.mp4"),
        Some(BANNED_RULE.into())
    );
    assert_eq!(
        hit("folder", "dir/x-pthc-y/a.mp4"),
        Some(BANNED_RULE.into())
    );
    assert_eq!(hit("R@ygold collection", "a.avi"), Some(BANNED_RULE.into()));
    assert_eq!(hit("Hussyfan", "a.avi"), Some(BANNED_RULE.into()));
    // Not inside other words.
    assert_eq!(hit("apthcx", "a.mp4"), None);
    assert_eq!(hit("Ray Gold - Live", "a.mp3"), None);
    let v = rules.classify(&TorrentFacts::new("x pthc", vec![("a.mkv".into(), 1)]));
    assert_eq!(v.fired, vec![BANNED_RULE.to_string()]);
    assert_eq!(v.content_type(), "unknown");
}

#[test]
fn banned_keywords_cannot_be_disabled_or_replaced() {
    assert_eq!(
        err(&format!("disable: [{BANNED_RULE}]\n")),
        format!(
            "my-rules.yaml:1: rule `{BANNED_RULE}`: this rule is built in and cannot be disabled"
        )
    );
    assert_eq!(
        err(&format!(
            "- name: {BANNED_RULE}\n  stage: post_fetch\n  when: 'false'\n  actions: {{drop: true}}\n"
        )),
        format!(
            "my-rules.yaml:1: rule `{BANNED_RULE}`: this rule is built in and cannot be replaced"
        )
    );
    // Even an empty rule set drops them.
    let rules = RuleSet::from_yaml_str("", "empty.yaml").unwrap();
    let v = rules.classify(&TorrentFacts::new("qqaazz", vec![]));
    assert_eq!(v.drop.as_deref(), Some(BANNED_RULE));
}

#[test]
fn post_fetch_drop_stops_evaluation() {
    let rules = user(
        r#"
- name: no-cams
  stage: post_fetch
  when: source == 'cam' || source == 'telesync'
  actions: {drop: true}
"#,
    )
    .unwrap();
    let v = rules.classify(&TorrentFacts::new(
        "Barbie.2023.HDCAM.x264",
        vec![("Barbie.2023.HDCAM.x264.mp4".into(), 1_300_000_000)],
    ));
    assert_eq!(v.drop.as_deref(), Some("no-cams"));
    assert_eq!(v.fired, vec!["no-cams".to_string()]);
    assert!(v.tags.is_empty());
}

#[test]
fn runtime_errors_do_not_fire_and_are_reported() {
    let rules = RuleSet::from_yaml_str(
        "- name: mkv-size\n  stage: post_fetch\n  when: ext_sizes['mkv'] > 0\n  actions: {add_tag: mkv}\n",
        "t.yaml",
    )
    .unwrap();
    let v = rules.classify(&TorrentFacts::new("x", vec![("a.mp4".into(), 5)]));
    assert!(v.tags.is_empty());
    assert_eq!(v.errors.len(), 1, "{:?}", v.errors);
    assert!(v.errors[0].starts_with("mkv-size: "), "{:?}", v.errors);
    assert_eq!(rules.classify(&movie()).tags, vec!["mkv".to_string()]);
}

#[test]
fn set_takes_cel_expressions_and_the_first_setter_wins() {
    let rules = RuleSet::from_yaml_str(
        r#"
- name: first
  stage: post_fetch
  when: "true"
  actions:
    set: {size_gb: "total_size / GB", kind: "'film'", empty: "''", langs: languages, yes: "true"}
- name: second
  stage: post_fetch
  when: "true"
  actions:
    set: {kind: "'other'"}
"#,
        "t.yaml",
    )
    .unwrap();
    let v = rules.classify(&movie());
    assert_eq!(v.attributes["size_gb"], "22");
    assert_eq!(v.attributes["kind"], "film");
    assert_eq!(v.attributes["yes"], "true");
    assert!(!v.attributes.contains_key("empty"));
    assert!(!v.attributes.contains_key("langs"));
    assert_eq!(v.fired, vec!["first".to_string(), "second".to_string()]);
}

#[test]
fn prefetch_rules_see_what_the_dht_told() {
    let rules = RuleSet::from_yaml_str(
        r#"
- name: dead
  stage: pre_fetch
  when: peers == 0 && seeders <= 0
  actions: {drop: true}
- name: noisy-node
  stage: pre_fetch
  when: source_ip.startsWith('10.') || info_hash.startsWith('0000') || times_seen > 100
  actions: {drop: true}
"#,
        "pre.yaml",
    )
    .unwrap();
    assert!(rules.has_stage(Stage::PreFetch));
    let mut p = PrefetchFacts {
        info_hash_hex: "ABCDEF0123456789abcdef0123456789abcdef01".into(),
        source_ip: Some(IpAddr::from([192, 0, 2, 1])),
        times_seen: 1,
        peers: Some(3),
        seeders: None,
        leechers: None,
    };
    assert_eq!(rules.prefetch(&p), None);
    p.peers = Some(0);
    assert_eq!(rules.prefetch(&p).as_deref(), Some("dead"));
    p.peers = None;
    p.source_ip = Some(IpAddr::from([10, 1, 2, 3]));
    assert_eq!(rules.prefetch(&p).as_deref(), Some("noisy-node"));
    p.source_ip = None;
    p.info_hash_hex = "0000".repeat(10);
    assert_eq!(rules.prefetch(&p).as_deref(), Some("noisy-node"));
    // The defaults' pre-fetch example is disabled.
    assert_eq!(RuleSet::load(None).unwrap().prefetch(&p), None);
}

#[test]
fn retention_rules_decide_what_is_kept() {
    let rules = user(
        r#"
- name: retention-min-size
  stage: retention
  when: total_size < 100 * MB
  actions: {drop: true}
- name: keep-types
  stage: retention
  when: "!(content_type in ['movie', 'tv_show'])"
  actions: {drop: true}
- name: min-seeders
  stage: retention
  when: seeders >= 0 && seeders < 2
  actions: {drop: true}
- name: short-names
  stage: retention
  when: size(name) < 4
  actions: {drop: true}
"#,
    )
    .unwrap();
    assert_eq!(rules.keep(&movie(), "movie", Some(10)), Ok(()));
    assert_eq!(rules.keep(&movie(), "movie", None), Ok(()));
    assert_eq!(
        rules.keep(&movie(), "music", None),
        Err("keep-types".into())
    );
    assert_eq!(
        rules.keep(&movie(), "movie", Some(1)),
        Err("min-seeders".into())
    );
    let small = TorrentFacts::new("small thing", vec![("a.mkv".into(), 1000)]);
    assert_eq!(
        rules.keep(&small, "movie", None),
        Err("retention-min-size".into())
    );
    let short = TorrentFacts::new("abc", vec![("a.mkv".into(), 1 << 30)]);
    assert_eq!(rules.keep(&short, "movie", None), Err("short-names".into()));
    // With the defaults alone, everything is kept.
    assert_eq!(
        RuleSet::load(None)
            .unwrap()
            .keep(&small, "unknown", Some(0)),
        Ok(())
    );
}

fn thousand_files() -> TorrentFacts {
    TorrentFacts::new(
        "big",
        (0..1500)
            .map(|i| (format!("dir{}/file{i:05}.jpg", i % 7), 1000 + i as u64))
            .collect(),
    )
}

#[test]
fn a_pathological_expression_fails_to_load_with_a_clear_message() {
    let e = err(
        "- name: quadratic\n  stage: post_fetch\n  when: files.all(f, files.all(g, f.size >= g.size))\n  actions: {drop: true}\n",
    );
    assert!(
        e.starts_with("my-rules.yaml:3: rule `quadratic`: too costly: estimated "),
        "{e}"
    );
    assert!(e.contains(&format!("at most {MAX_COST}")), "{e}");
    // Also through a membership test inside a loop, and list concatenation blow-up.
    let e = err(
        "- name: q2\n  stage: post_fetch\n  when: files.exists(f, f in files)\n  actions: {drop: true}\n",
    );
    assert!(e.contains("too costly"), "{e}");
    let big = format!("size({}) > 0", vec!["files"; 25].join(" + "));
    let e = err(&format!(
        "- name: q3\n  stage: post_fetch\n  when: {big}\n  actions: {{drop: true}}\n"
    ));
    assert!(e.contains("too costly"), "{e}");
    // Too large an expression.
    let long = vec!["total_size > 1"; 200].join(" && ");
    let e = err(&format!(
        "- name: long\n  stage: post_fetch\n  when: {long}\n  actions: {{drop: true}}\n"
    ));
    assert!(e.contains("expression too large"), "{e}");
    let e = err(&format!(
        "- name: long\n  stage: post_fetch\n  when: \"{}\"\n  actions: {{drop: true}}\n",
        "1 + ".repeat(1100) + "1 > 0"
    ));
    assert!(e.contains("expression too long"), "{e}");
}

#[test]
fn the_costliest_allowed_expressions_evaluate_quickly() {
    // Single comprehensions over the 1,000 exposed files, a membership test inside one over
    // a small list, and the largest allowed list concatenation.
    let rules = RuleSet::from_yaml_str(
        r#"
- name: scan
  stage: post_fetch
  when: >-
    files.all(f, f.size >= 0 && f.path.contains('/') && f.ext in ['jpg', 'png', 'gif'])
    && files.exists(f, f.path.matches('file0149[0-9]')) == false
    && size(files.filter(f, f.size > 1500).map(f, f.path)) > 0
  actions: {add_tag: scanned}
- name: concat
  stage: post_fetch
  when: size(files + files + files + files + files + files + files + files) == 8000
  actions: {add_tag: concat}
"#,
        "cost.yaml",
    )
    .unwrap();
    let t = thousand_files();
    rules.classify(&t); // warm up
    let start = Instant::now();
    let v = rules.classify(&t);
    let took = start.elapsed();
    assert!(v.errors.is_empty(), "{:?}", v.errors);
    assert_eq!(v.tags, vec!["scanned".to_string(), "concat".to_string()]);
    println!("worst allowed rules over 1,000 files: {took:?}");
    // Generous for debug builds on a loaded CI machine; release takes a few milliseconds.
    assert!(took.as_millis() < 2000, "took {took:?}");
}

#[test]
fn every_variable_is_documented_in_docs_rules_md() {
    let doc = include_str!("../../../docs/rules.md");
    for v in classify::rules::VARIABLES {
        assert!(
            doc.contains(&format!("`{}`", v.name)),
            "docs/rules.md does not mention `{}`",
            v.name
        );
    }
}

#[test]
fn the_example_file_in_docs_rules_md_loads() {
    let doc = include_str!("../../../docs/rules.md");
    let start = doc.find("```yaml\ndisable:").expect("example") + "```yaml\n".len();
    let end = start + doc[start..].find("```").expect("end of example");
    let rules = user(&doc[start..end]).expect("the documented example loads");
    let names: Vec<String> = rules.rules().into_iter().map(|r| r.name).collect();
    assert_eq!(names[..3], [BANNED_RULE, "no-cams", "anime"]);
}

#[test]
fn deeply_nested_expressions_are_refused_not_a_stack_overflow() {
    let rule = |when: &str| {
        format!(
            "- name: deep\n  stage: post_fetch\n  when: \"{when}\"\n  actions: {{drop: true}}\n"
        )
    };
    let parens = format!("{}true{}", "(".repeat(1500), ")".repeat(1500));
    assert_eq!(
        err(&rule(&parens)),
        "my-rules.yaml:3: rule `deep`: brackets nested too deeply (more than 24 levels)"
    );
    // Brackets inside strings do not count.
    let quoted = format!("name != '{}'", "(".repeat(100));
    assert!(user(&rule(&quoted)).is_ok());
    // Long operator chains and nested conditionals parse (on the loader's large stack) and
    // are refused by depth or size.
    let plus = format!("{}1 > 0", "1+".repeat(2000));
    let e = err(&rule(&plus));
    assert!(e.starts_with("my-rules.yaml:3: rule `deep`: "), "{e}");
    let plus = format!("{}1 > 0", "1+".repeat(40));
    let e = err(&rule(&plus));
    assert!(
        e.starts_with("my-rules.yaml:3: rule `deep`: expression nested too deeply"),
        "{e}"
    );
    let ternary = format!("{}true{}", "true ? (".repeat(20), ") : false".repeat(20));
    assert!(user(&rule(&ternary)).is_ok());
    let ternary = format!("{}true", "false ? true : ".repeat(250));
    let e = err(&rule(&ternary));
    assert!(e.starts_with("my-rules.yaml:3: rule `deep`: "), "{e}");
    // The parser folds a chain of negations: harmless.
    let nots = format!("{}true", "!".repeat(3000));
    assert!(user(&rule(&nots)).is_ok());

    // The deepest accepted expression evaluates on a 2 MiB stack (tokio's default for
    // workers), even in a debug build.
    let deepest = format!("size(name) > {}0", "1+".repeat(28));
    let rules = RuleSet::from_yaml_str(&rule(&deepest), "d.yaml").unwrap();
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || rules.classify(&movie()).drop)
        .unwrap();
    assert_eq!(handle.join().unwrap().as_deref(), Some("deep"));
}

// ---------------------------------------------------------------------------------------------
// The revision recorded as `classified_rev`.

/// The revision of the embedded defaults. It changes only when a default rule (or the banned
/// keyword list, or the canonical text's format) changes; then every store reclassifies once.
/// Update it together with `defaults.yaml`, never on a toolchain upgrade.
const DEFAULTS_REV: &str = "59c0623cde46be88";

#[test]
fn the_rules_rev_of_the_defaults_is_pinned() {
    assert_eq!(RuleSet::load(None).unwrap().rev(), DEFAULTS_REV);
}

#[test]
fn the_rules_rev_is_sha256_of_the_canonical_text() {
    let rules = RuleSet::load(None).unwrap();
    let text = rules.canonical_text();
    assert!(
        text.starts_with("bitagent-rules 1\nbanned pthc\n"),
        "{text}"
    );
    assert!(
        text.contains("\nrule movie-video\nstage post_fetch\nenabled true\n"),
        "{text}"
    );
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(rules.rev(), hex);
    // Two loads of the same files: the same revision.
    assert_eq!(RuleSet::load(None).unwrap().rev(), rules.rev());
}

#[test]
fn the_rules_rev_changes_with_a_rule_but_not_with_the_file_name_or_lines() {
    let user = "rules:\n  - name: big\n    stage: post_fetch\n    when: total_size > 100 * GB\n    actions: {add_tag: big}\n";
    let a = RuleSet::merged(Some((user, "a.yaml"))).unwrap();
    // The same rules from another file, lower down in it: same revision (the old Debug hash
    // held file names and line numbers, so moving a file forced a full reclassify).
    let b = RuleSet::merged(Some((&format!("# moved\n\n{user}"), "/etc/b.yaml"))).unwrap();
    assert_eq!(a.rev(), b.rev());
    assert_ne!(a.rev(), RuleSet::load(None).unwrap().rev());
    // A changed expression, action, or enabled flag changes it.
    for changed in [
        user.replace("100 * GB", "200 * GB"),
        user.replace("add_tag: big", "add_tag: huge"),
        format!("{user}disable: [movie-video]\n"),
    ] {
        let c = RuleSet::merged(Some((&changed, "a.yaml"))).unwrap();
        assert_ne!(c.rev(), a.rev(), "{changed}");
    }
}
