//! The configuration layers and their error messages.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::values::{host_port, size_from};
use super::*;

/// The default routers (the `bootstrap` knob's default).
const DEFAULT_BOOTSTRAP: [&str; 3] = [
    "dht.transmissionbt.com:6881",
    "router.bittorrent.com:6881",
    "router.utorrent.com:6881",
];

/// A size as a flag value: the `max_metadata_size` knob's parser.
fn parse_size(s: &str) -> Result<u64, String> {
    size_from(Raw::Str(s))
        .ok_or_else(|| format!("expected {}", knob("max_metadata_size").unwrap().expected))
}

/// An `--http` value: the `http` knob's parser.
fn parse_http(s: &str) -> Result<Option<std::net::SocketAddr>, String> {
    values::http_from(Raw::Str(s))
        .ok_or_else(|| format!("expected {}", knob("http").unwrap().expected))
}

/// A temporary directory removed on drop (no tempfile dependency in this crate).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "bitagent-config-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Write `text` to `rel` (creating parent directories) and return its path.
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An environment with exactly these variables.
fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

/// Load with a config file containing `text` (via --config) and the given environment.
fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = TempDir::new();
    let path = dir.write("config.toml", text);
    let overrides = Overrides {
        config: Some(path),
        data_dir: Some(dir.0.join("data")),
        ..Overrides::default()
    };
    load(&overrides, &env_of(env))
}

/// The `(line, column, reason)` of a file error, or a panic.
fn file_error(result: Result<Settings, ConfigError>) -> (usize, usize, String) {
    match result {
        Err(ConfigError::File {
            line,
            column,
            reason,
            ..
        }) => (line, column, reason),
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn defaults_under_xdg_data_home() {
    let s = load(
        &Overrides::default(),
        &env_of(&[("XDG_DATA_HOME", "/x/data")]),
    )
    .unwrap();
    assert_eq!(s, Settings::defaults(PathBuf::from("/x/data/bitagent")));
    assert_eq!(s.http, Some("127.0.0.1:3333".parse().unwrap()));
    assert_eq!(s.bind, "0.0.0.0:6881".parse().unwrap());
    assert_eq!(s.scaling_factor, 1);
    assert_eq!(s.peer_port, 3334);
    assert_eq!(s.max_metadata_size, 10 * 1024 * 1024);
    assert_eq!(s.bootstrap, DEFAULT_BOOTSTRAP);
}

#[test]
fn data_dir_falls_back_to_home_then_errors() {
    let env = env_of(&[("HOME", "/home/u")]);
    let s = load(&Overrides::default(), &env).unwrap();
    assert_eq!(s.data_dir, PathBuf::from("/home/u/.local/share/bitagent"));

    // A relative XDG_DATA_HOME is ignored, per the XDG spec; an empty one too.
    let env = env_of(&[("HOME", "/home/u"), ("XDG_DATA_HOME", "rel")]);
    let s = load(&Overrides::default(), &env).unwrap();
    assert_eq!(s.data_dir, PathBuf::from("/home/u/.local/share/bitagent"));

    let err = load(&Overrides::default(), &env_of(&[("XDG_DATA_HOME", "")])).unwrap_err();
    assert!(matches!(err, ConfigError::NoDataDir));
    assert!(err.to_string().contains("--data-dir"), "{err}");

    // BITAGENT_DATA_DIR and --data-dir each suffice, and the flag wins.
    let env = env_of(&[("BITAGENT_DATA_DIR", "/env/dir")]);
    assert_eq!(
        load(&Overrides::default(), &env).unwrap().data_dir,
        PathBuf::from("/env/dir")
    );
    let flags = Overrides {
        data_dir: Some(PathBuf::from("/flag/dir")),
        ..Overrides::default()
    };
    assert_eq!(
        load(&flags, &env).unwrap().data_dir,
        PathBuf::from("/flag/dir")
    );
}

#[test]
fn precedence_file_then_env_then_flag() {
    let text = "scaling_factor = 2\npeer_port = 4000\nstatus = \"log\"\nfile_cap = 10\n";
    let s = load_text(text, &[]).unwrap();
    assert_eq!(
        (s.scaling_factor, s.peer_port, s.status, s.file_cap),
        (2, 4000, Status::Log, 10)
    );

    let env = [
        ("DHT_SCALING_FACTOR", "3"),
        ("BITAGENT_PEER_PORT", "5000"),
        ("BITAGENT_STATUS", "off"),
    ];
    let s = load_text(text, &env).unwrap();
    assert_eq!(
        (s.scaling_factor, s.peer_port, s.status, s.file_cap),
        (3, 5000, Status::Off, 10)
    );

    let dir = TempDir::new();
    let flags = Overrides {
        config: Some(dir.write("c.toml", text)),
        data_dir: Some(dir.0.clone()),
        flags: KnobFlags::default()
            .set("scaling_factor", &["4"])
            .set("status", &["line"]),
    };
    let s = load(&flags, &env_of(&env)).unwrap();
    assert_eq!(
        (s.scaling_factor, s.peer_port, s.status, s.file_cap),
        (4, 5000, Status::Line, 10)
    );
    assert_eq!(s.config_file.as_deref(), flags.config.as_deref());
}

#[test]
fn every_env_variable_applies() {
    let env = [
        ("BITAGENT_HTTP", "off"),
        ("BITAGENT_BIND", "127.0.0.1:7000"),
        ("BITAGENT_BOOTSTRAP", "a.example:1, [::1]:2,,"),
        ("BITAGENT_SAMPLE_THRESHOLD", "0"),
        ("BITAGENT_MAX_METADATA_SIZE", "512KiB"),
        ("BITAGENT_FILE_CAP", "7"),
        ("DHT_SCALING_FACTOR", "100"),
        ("BITAGENT_PEER_PORT", "65535"),
        ("BITAGENT_STATUS", "LINE"),
        // Empty values are ignored.
        ("BITAGENT_DATA_DIR", ""),
    ];
    let s = load_text("", &env).unwrap();
    assert_eq!(s.http, None);
    assert_eq!(s.bind, "127.0.0.1:7000".parse().unwrap());
    assert_eq!(s.bootstrap, ["a.example:1", "[::1]:2"]);
    assert_eq!(s.sample_threshold, 0);
    assert_eq!(s.max_metadata_size, 512 * 1024);
    assert_eq!(s.file_cap, 7);
    assert_eq!(s.scaling_factor, 100);
    assert_eq!(s.peer_port, 65535);
    assert_eq!(s.status, Status::Line);
    assert!(s.data_dir.ends_with("data"));
}

#[test]
fn bad_env_value_names_the_variable() {
    let err = load_text("", &[("DHT_SCALING_FACTOR", "abc")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "environment variable DHT_SCALING_FACTOR=\"abc\": expected an integer from 1 to 100"
    );
    for (name, value) in [
        ("DHT_SCALING_FACTOR", "0"),
        ("BITAGENT_PEER_PORT", "0"),
        ("BITAGENT_PEER_PORT", "70000"),
        ("BITAGENT_HTTP", "localhost"),
        ("BITAGENT_BOOTSTRAP", "router.example"),
        ("BITAGENT_BOOTSTRAP", "router.example:0"),
        ("BITAGENT_MAX_METADATA_SIZE", "10MB"),
        ("BITAGENT_MAX_METADATA_SIZE", "2GiB"),
        ("BITAGENT_STATUS", "loud"),
    ] {
        match load_text("", &[(name, value)]) {
            Err(ConfigError::Env {
                name: n, value: v, ..
            }) => {
                assert_eq!((n, v.as_str()), (name, value));
            }
            other => panic!("{name}={value}: {other:?}"),
        }
    }
}

#[test]
fn bad_flag_value_names_the_flag() {
    let flags = Overrides {
        data_dir: Some(PathBuf::from("/d")),
        flags: KnobFlags::default().set("scaling_factor", &["0"]),
        ..Overrides::default()
    };
    let err = load(&flags, &env_of(&[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--scaling-factor 0: expected an integer from 1 to 100"
    );

    let flags = Overrides {
        data_dir: Some(PathBuf::from("/d")),
        flags: KnobFlags::default().set("bootstrap", &["ok.example:1", "nope"]),
        ..Overrides::default()
    };
    let err = load(&flags, &env_of(&[])).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("--bootstrap nope: expected HOST:PORT"),
        "{err}"
    );

    // An empty --bootstrap list (clap's "not given") keeps the lower layers.
    let flags = Overrides {
        data_dir: Some(PathBuf::from("/d")),
        flags: KnobFlags::default()
            .set("bootstrap", &[])
            .set("connect_timeout_secs", &["0.5"]),
        ..Overrides::default()
    };
    let s = load(&flags, &env_of(&[])).unwrap();
    assert_eq!(s.bootstrap, DEFAULT_BOOTSTRAP);
    assert_eq!(s.connect_timeout_secs, 0.5);
}

#[test]
fn unknown_key_is_an_error_with_its_line() {
    let (line, column, reason) =
        file_error(load_text("peer_port = 1\n\n  scaling_facter = 2\n", &[]));
    assert_eq!((line, column), (3, 3));
    assert_eq!(
        reason,
        "unknown key `scaling_facter`; did you mean `scaling_factor`?"
    );

    let (line, _, reason) = file_error(load_text("[server]\nport = 1\n", &[]));
    assert_eq!(line, 1);
    assert!(
        reason.starts_with("unknown key `server`; known keys: data_dir, http"),
        "{reason}"
    );
}

#[test]
fn out_of_range_value_points_at_its_key() {
    let dir = TempDir::new();
    let path = dir.write(
        "config.toml",
        "# comment\nbind = \"0.0.0.0:1\"\nscaling_factor = 0\n",
    );
    let overrides = Overrides {
        config: Some(path.clone()),
        data_dir: Some(dir.0.clone()),
        ..Overrides::default()
    };
    let err = load(&overrides, &env_of(&[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3:1: scaling_factor must be an integer from 1 to 100, got 0",
            path.display()
        )
    );

    let (line, _, reason) = file_error(load_text("status = 3\n", &[]));
    assert_eq!(line, 1);
    assert_eq!(
        reason,
        "status must be one of \"auto\", \"line\", \"log\" or \"off\", got 3"
    );

    let (line, _, reason) = file_error(load_text("\nbootstrap = [\"a:1\", \"b\"]\n", &[]));
    assert_eq!(line, 2);
    assert!(
        reason.starts_with("bootstrap must be one or more HOST:PORT"),
        "{reason}"
    );

    let (_, _, reason) = file_error(load_text("max_metadata_size = \"10 GiB\"\n", &[]));
    assert!(
        reason.starts_with("max_metadata_size must be a size"),
        "{reason}"
    );
    let (_, _, reason) = file_error(load_text("fetch_timeout_secs = -1\n", &[]));
    assert!(reason.contains("got -1"), "{reason}");
    let (_, _, reason) = file_error(load_text("http = { a = 1 }\n", &[]));
    assert!(reason.ends_with("got a table"), "{reason}");
}

#[test]
fn bad_toml_syntax_has_line_and_column() {
    let (line, column, reason) = file_error(load_text("peer_port = 1\nfile_cap = = 3\n", &[]));
    assert_eq!(line, 2);
    assert!(column > 1, "column {column}");
    assert!(reason.starts_with("invalid TOML: "), "{reason}");

    let (line, _, reason) = file_error(load_text("peer_port = 1\npeer_port = 2\n", &[]));
    assert_eq!(line, 2);
    assert_eq!(reason, "invalid TOML: duplicate key `peer_port`");
}

#[test]
fn file_values_of_every_kind() {
    let text = r#"
        data_dir = "rel/data"
        http = "off"
        bind = "[::]:6882"
        bootstrap = ["localhost:6881"]
        max_metadata_size = 1048576
        connect_timeout_secs = 2
        fetch_timeout_secs = 12.5
        starvation_nodes = 0
        starvation_after_secs = 5
        stall_after_secs = 0
        status_interval_secs = 1
    "#;
    let dir = TempDir::new();
    let path = dir.write("etc/config.toml", text);
    let overrides = Overrides {
        config: Some(path),
        ..Overrides::default()
    };
    let s = load(&overrides, &env_of(&[])).unwrap();
    // Relative to the file's directory; no XDG needed once the file names a data dir.
    assert_eq!(s.data_dir, dir.0.join("etc/rel/data"));
    assert_eq!(s.http, None);
    assert_eq!(s.bind, "[::]:6882".parse().unwrap());
    assert_eq!(s.bootstrap, ["localhost:6881"]);
    assert_eq!(s.max_metadata_size, 1 << 20);
    assert_eq!((s.connect_timeout_secs, s.fetch_timeout_secs), (2.0, 12.5));
    assert_eq!((s.starvation_nodes, s.starvation_after_secs), (0, 5));
    assert_eq!((s.stall_after_secs, s.status_interval_secs), (0, 1));

    assert_eq!(load_text("http = \"\"\n", &[]).unwrap().http, None);
    assert_eq!(load_text("http = false\n", &[]).unwrap().http, None);
    assert_eq!(
        load_text("http = \"0.0.0.0:80\"\n", &[]).unwrap().http,
        Some("0.0.0.0:80".parse().unwrap())
    );
}

#[test]
fn missing_config_file_is_an_error() {
    let dir = TempDir::new();
    let missing = dir.0.join("nope.toml");
    let flags = Overrides {
        config: Some(missing.clone()),
        data_dir: Some(dir.0.clone()),
        ..Overrides::default()
    };
    let err = load(&flags, &env_of(&[])).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, ConfigError::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    );
    assert!(
        msg.contains(&missing.display().to_string()) && msg.contains("--config"),
        "{msg}"
    );

    let env = env_of(&[("BITAGENT_CONFIG", missing.to_str().unwrap())]);
    let flags = Overrides {
        data_dir: Some(dir.0.clone()),
        ..Overrides::default()
    };
    let msg = load(&flags, &env).unwrap_err().to_string();
    assert!(msg.contains("BITAGENT_CONFIG"), "{msg}");
}

#[test]
fn config_file_search_order() {
    let dir = TempDir::new();
    let root = dir.0.to_str().unwrap().to_string();
    let data_home = format!("{root}/data");
    let config_home = format!("{root}/config");

    // Nothing anywhere: defaults, no file.
    let env = env_of(&[
        ("XDG_DATA_HOME", &data_home),
        ("XDG_CONFIG_HOME", &config_home),
    ]);
    let s = load(&Overrides::default(), &env).unwrap();
    assert_eq!(s.config_file, None);

    // The XDG config dir.
    let xdg = dir.write("config/bitagent/config.toml", "scaling_factor = 2\n");
    assert_eq!(load(&Overrides::default(), &env).unwrap().scaling_factor, 2);

    // $HOME/.config when XDG_CONFIG_HOME is unset.
    dir.write("home/.config/bitagent/config.toml", "scaling_factor = 5\n");
    let home_env = env_of(&[("HOME", &format!("{root}/home"))]);
    let s = load(&Overrides::default(), &home_env).unwrap();
    assert_eq!(s.scaling_factor, 5);
    assert_eq!(s.data_dir, dir.0.join("home/.local/share/bitagent"));

    // The data dir beats the XDG config dir.
    let in_data = dir.write("data/bitagent/config.toml", "scaling_factor = 3\n");
    let s = load(&Overrides::default(), &env).unwrap();
    assert_eq!((s.scaling_factor, s.config_file), (3, Some(in_data)));

    // BITAGENT_CONFIG beats both; --config beats it.
    let env_file = dir.write("env.toml", "scaling_factor = 4\n");
    let env = env_of(&[
        ("XDG_DATA_HOME", &data_home),
        ("BITAGENT_CONFIG", env_file.to_str().unwrap()),
    ]);
    assert_eq!(load(&Overrides::default(), &env).unwrap().scaling_factor, 4);
    let flags = Overrides {
        config: Some(xdg),
        ..Overrides::default()
    };
    assert_eq!(load(&flags, &env).unwrap().scaling_factor, 2);
}

#[test]
fn sizes_and_http_parsers() {
    assert_eq!(parse_size("1"), Ok(1));
    assert_eq!(parse_size("300 B"), Ok(300));
    assert_eq!(parse_size("512KiB"), Ok(512 << 10));
    assert_eq!(parse_size("10mib"), Ok(10 << 20));
    assert_eq!(parse_size("1GiB"), Ok(1 << 30));
    for bad in [
        "0",
        "",
        "KiB",
        "1.5MiB",
        "10MB",
        "2GiB",
        "-1",
        "99999999999999999999GiB",
    ] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
    assert_eq!(parse_http("off"), Ok(None));
    assert_eq!(parse_http("OFF"), Ok(None));
    assert_eq!(parse_http(""), Ok(None));
    assert_eq!(
        parse_http("127.0.0.1:80"),
        Ok(Some("127.0.0.1:80".parse().unwrap()))
    );
    assert!(parse_http("localhost:80").is_err());
    assert_eq!("Log".parse::<Status>(), Ok(Status::Log));
    assert!("x".parse::<Status>().is_err());
}

#[test]
fn host_port_validation() {
    for ok in [
        "a:1",
        "router.utorrent.com:6881",
        "1.2.3.4:65535",
        "[::1]:6881",
    ] {
        assert_eq!(host_port(ok).as_deref(), Some(ok));
    }
    for bad in [
        "a",
        ":1",
        "a:0",
        "a:65536",
        "a:x",
        "::1:6881",
        "[::1:6881",
        "[x]:1",
        "a b:1",
    ] {
        assert_eq!(host_port(bad), None, "{bad}");
    }
}

#[test]
fn documented_defaults_parse_to_the_defaults() {
    let text = &documented_defaults();
    let s = load_text(text, &[]).unwrap();
    let expected = Settings {
        config_file: s.config_file.clone(),
        ..Settings::defaults(s.data_dir.clone())
    };
    assert_eq!(s, expected);
    // Every key is listed: all set, except data_dir (platform-dependent), commented out.
    for knob in KNOBS {
        let line = if knob.key == "data_dir" {
            format!("\n# {} = ", knob.key)
        } else {
            format!("\n{} = ", knob.key)
        };
        assert!(
            text.contains(&line),
            "{} missing from the example",
            knob.key
        );
        if let Some(env) = knob.env {
            assert!(text.contains(env), "{env} missing from the example");
        }
        assert!(
            text.contains(knob.flag),
            "{} missing from the example",
            knob.flag
        );
    }
}

#[test]
fn settings_serialize_for_stats() {
    let s = Settings::defaults(PathBuf::from("/d"));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["http"], "127.0.0.1:3333");
    assert_eq!(json["status"], "auto");
    assert_eq!(json["data_dir"], "/d");
    assert_eq!(json["config_file"], serde_json::Value::Null);
}

/// The README's configuration table is rendered from the knob table, so it cannot drift. After
/// changing a knob, regenerate it with
/// `BITAGENT_BLESS=1 cargo test -p bitagent readme_configuration_table`.
#[test]
fn readme_configuration_table_is_the_knob_table() {
    const BEGIN: &str =
        "<!-- config knobs: begin (generated from crates/bitagent/src/config/knobs.rs) -->\n";
    const END: &str = "<!-- config knobs: end -->";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README.md has the config knobs begin marker")
        + BEGIN.len();
    let end = start
        + readme[start..]
            .find(END)
            .expect("README.md has the config knobs end marker");
    let table = knobs::readme_table();
    if std::env::var_os("BITAGENT_BLESS").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert!(
        readme[start..end] == table,
        "README.md's configuration table differs from the knob table in \
         crates/bitagent/src/config/knobs.rs; regenerate it with \
         `BITAGENT_BLESS=1 cargo test -p bitagent readme_configuration_table`\n\
         expected:\n{table}"
    );
    // Every knob has its row.
    for k in KNOBS {
        assert!(table.contains(&format!("| `{}` |", k.key)), "{}", k.key);
    }
}

/// Every knob but `data_dir` (global, on `Cli`) is a flag of `bitagent run`, named, described
/// and validated by its table entry; a flag's value wins over the environment.
#[test]
fn every_knob_is_a_run_flag() {
    use clap::{Args as _, FromArgMatches as _};

    let cmd = KnobFlags::augment_args(clap::Command::new("run"));
    for k in KNOBS {
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(k.flag.trim_start_matches("--")));
        if k.key == "data_dir" {
            assert!(arg.is_none(), "--data-dir is global, not a run flag");
            continue;
        }
        let arg = arg.unwrap_or_else(|| panic!("{} has no run flag {}", k.key, k.flag));
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        assert!(help.starts_with(&k.meaning()), "{}: {help}", k.key);
    }

    let matches = cmd
        .clone()
        .try_get_matches_from([
            "run",
            "--max-db-size",
            "20GiB",
            "--blocklist",
            "a,b.txt",
            "--blocklist",
            "c.txt",
        ])
        .unwrap();
    let flags = KnobFlags::from_arg_matches(&matches).unwrap();
    let overrides = Overrides {
        data_dir: Some(PathBuf::from("/d")),
        flags,
        ..Overrides::default()
    };
    let env = env_of(&[("BITAGENT_MAX_DB_SIZE", "1GiB")]);
    let s = load(&overrides, &env).unwrap();
    assert_eq!(s.max_db_size, Some(20 << 30));
    // A repeated flag is one item each: a comma inside a path is kept.
    assert_eq!(
        s.blocklist,
        [PathBuf::from("a,b.txt"), PathBuf::from("c.txt")]
    );
    assert!(
        cmd.try_get_matches_from(["run", "--max-db-size", "1KiB"])
            .unwrap_err()
            .to_string()
            .contains("expected \"off\", or a size of at least 1 MiB")
    );
}
