//! Integration tests of the scx-loader command line: help, `--generate`, `list`, `check` and
//! `set` against fake schedulers, and the one-line errors with their exit codes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary directory with fake schedulers and a configuration file.
struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(tag: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("scx-loader-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sbin")).expect("create fixture");
        for d in [&dir, &dir.join("sbin")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let f = Fixture { dir };
        f.scheduler("scx_good", "A good test scheduler");
        f.scheduler("scx_other", "Another test scheduler");
        f
    }

    fn scheduler(&self, name: &str, about: &str) {
        let path = self.dir.join("sbin").join(name);
        let body = format!(
            r#"#!/bin/sh
case "$1" in
  --version) echo "{name} 9.9.9"; exit 0 ;;
  --help) echo "{about}"; echo; echo "Usage: {name}"; exit 0 ;;
  --check-args) shift
    for a in "$@"; do
      [ "$a" = --bad ] && {{ echo "error: unexpected argument '--bad' found" >&2; exit 2; }}
    done
    exit 0 ;;
esac
exit 1
"#
        );
        std::fs::write(&path, body).expect("write scheduler");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn config(&self, text: &str) -> PathBuf {
        let path = self.dir.join("scx");
        std::fs::write(&path, text).expect("write config");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_scx-loader"))
            .args(args)
            .env("SCX_LOADER_TEST_SCHED_DIRS", self.dir.join("sbin"))
            .env_remove("JOURNAL_STREAM")
            .env_remove("INVOCATION_ID")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("SCX_SCHEDULER_OVERRIDE")
            .env_remove("SCX_FLAGS_OVERRIDE")
            .output()
            .expect("run scx-loader")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn help_and_generate() {
    let f = Fixture::new("help");
    let out = f.run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in ["run", "check", "status", "list", "set"] {
        assert!(help.contains(cmd), "{help}");
    }
    let out = f.run(&["--generate", "man"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains(".TH scx-loader"));
    for shell in ["complete-bash", "complete-zsh", "complete-fish"] {
        let out = f.run(&["--generate", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(text(&out.stdout).contains("scx-loader"), "{shell}");
    }
    let out = f.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_shows_versions_and_descriptions() {
    let f = Fixture::new("list");
    let out = f.run(&["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.contains("scx_good"), "{listing}");
    assert!(listing.contains("9.9.9"), "{listing}");
    assert!(listing.contains("A good test scheduler"), "{listing}");
    let out = f.run(&["list", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json[0]["name"], "scx_good");
    assert_eq!(json[0]["version"], "9.9.9");
}

/// Each bad configuration makes `run` exit with its own code and one error line (before the
/// kernel is looked at), and `check` shows the same message.
#[test]
fn config_errors_are_one_line_with_distinct_codes() {
    let f = Fixture::new("errors");
    let cases: &[(&str, i32, &str)] = &[
        (
            "SCX_SCHEDUER=scx_good\n",
            22,
            "scx:1: unknown key SCX_SCHEDUER: did you mean SCX_SCHEDULER?",
        ),
        (
            "SCX_SCHEDULER='scx_good\n",
            21,
            "scx:1: unbalanced single quote",
        ),
        (
            "SCX_SCHEDULER=scx_nope\n",
            24,
            "scheduler scx_nope is not installed",
        ),
        ("SCX_SCHEDULER=/bin/sh\n", 24, "\"/bin/sh\" is a path"),
        (
            "SCX_SCHEDULER=scx_good\nSCX_FLAGS='--bad'\n",
            25,
            "scx_good rejected the flags \"--bad\": unexpected argument '--bad' found",
        ),
        ("# nothing\n", 26, "no scheduler is configured"),
    ];
    for (config, code, message) in cases {
        let path = f.config(config);
        let out = f.run(&["run", "--config", path_str(&path)]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{config}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{config}: {stderr}");
        assert!(stderr.contains(message), "{config}: {stderr}");
        let out = f.run(&["check", "--config", path_str(&path)]);
        assert_ne!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains(message), "{config}");
    }
    let path = f.config("SCX_SCHEDULER=scx_good\n");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = f.run(&["run", "--config", path_str(&path)]);
    assert!(text(&out.stderr).contains("is writable by everyone (mode 0666)"));
    assert_eq!(out.status.code(), Some(23));
    let missing = f.dir.join("missing");
    let out = f.run(&["status", "--config", path_str(&missing), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(json["config_error"]
        .as_str()
        .expect("error text")
        .contains("cannot read the configuration"));
}

#[test]
fn run_refuses_a_bad_config_before_touching_the_kernel() {
    let f = Fixture::new("run");
    let path = f.config("SCX_FLAGZ=1\nSCX_SCHEDULER=scx_good\n");
    let out = f.run(&["run", "--config", path_str(&path)]);
    assert_eq!(out.status.code(), Some(22));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.trim(),
        format!(
            "scx-loader: error: {}:1: unknown key SCX_FLAGZ: did you mean SCX_FLAGS?",
            path.display()
        )
    );
}

#[test]
fn set_rewrites_in_place_and_validates() {
    let f = Fixture::new("set");
    let path = f.config("# keep this\nSCX_SCHEDULER=scx_good # old\nOTHER=1\n");
    let out = f.run(&[
        "set",
        "scx_other",
        "--flags",
        "-x 'a b'",
        "--no-reload",
        "--config",
        path_str(&path),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        "# keep this\nSCX_SCHEDULER=scx_other\nOTHER=1\nSCX_FLAGS='-x '\\''a b'\\'''\n"
    );
    let out = f.run(&[
        "set",
        "scx_other",
        "--flags",
        "--bad",
        "--no-reload",
        "--config",
        path_str(&path),
    ]);
    assert_eq!(out.status.code(), Some(25));
    let out = f.run(&[
        "set",
        "scx_missing",
        "--no-reload",
        "--config",
        path_str(&path),
    ]);
    assert_eq!(out.status.code(), Some(24));
    assert!(text(&out.stderr).contains("choose one of: scx_good, scx_other"));
    let out = f.run(&["check", "--config", path_str(&path)]);
    assert!(
        text(&out.stdout).contains("scheduler  scx_other"),
        "{}",
        text(&out.stdout)
    );
}
