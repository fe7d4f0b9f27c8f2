//! Installed schedulers: the root-owned directories they are found in, and asking a
//! scheduler binary about itself (`--version`, `--help`, `--check-args`).

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::config::valid_name;

/// The directories searched for schedulers after the loader's own directory, set at build time
/// (`SCX_SCHED_DIRS`, colon-separated) for layouts that keep them elsewhere; `/usr/sbin` otherwise.
pub const BUILD_DIRS: &str = match option_env!("SCX_SCHED_DIRS") {
    Some(dirs) => dirs,
    None => "/usr/sbin",
};

/// For tests only: replaces [`BUILD_DIRS`]. Ignored when the loader runs as a systemd service,
/// and every directory and binary must still be owned by root (or the user running the loader)
/// and writable by nobody else.
pub const TEST_DIRS_ENV: &str = "SCX_LOADER_TEST_SCHED_DIRS";

/// How long a scheduler gets to answer `--version`, `--help` or `--check-args`.
const QUERY_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a scheduler cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error("{origin}: scheduler {name} is not installed (looked in {dirs}): choose one of: {installed}")]
    NotInstalled {
        name: String,
        origin: String,
        dirs: String,
        installed: String,
    },
    #[error("{path} {problem}: {fix}", path = .path.display())]
    Unsafe {
        path: PathBuf,
        problem: String,
        fix: String,
    },
    #[error("no scheduler is configured ({path} sets no SCX_SCHEDULER): add SCX_SCHEDULER=<name> (installed: {installed}) or run `scx-loader set <name>`", path = .path.display())]
    NoneConfigured { path: PathBuf, installed: String },
    #[error("{origin}: {name} rejected the flags {flags}: {message}: {fix} (see `{name} --help`)")]
    FlagsRejected {
        name: String,
        origin: String,
        flags: String,
        message: String,
        fix: &'static str,
    },
    #[error("{origin}: {name} has no profile {profile} (its profiles: {has}): {fix}")]
    ProfileMissing {
        name: String,
        origin: String,
        profile: String,
        has: String,
        fix: String,
    },
    #[error("{origin}: no installed scheduler offers the profile {profile} (installed: {installed}): set SCX_SCHEDULER and one of its profiles (`scx-loader list` shows them)")]
    NoSchedulerForProfile {
        profile: String,
        origin: String,
        installed: String,
    },
    #[error("running {path}: {source}", path = .path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} did not answer {what} within {secs} s", path = .path.display())]
    Timeout {
        path: PathBuf,
        what: String,
        secs: u64,
    },
}

impl SchedError {
    pub fn exit_code(&self) -> u8 {
        use crate::codes;
        match self {
            SchedError::NotInstalled { .. } => codes::BAD_SCHEDULER,
            SchedError::Unsafe { .. } => codes::BAD_SCHEDULER,
            SchedError::NoneConfigured { .. } => codes::NO_SCHEDULER,
            SchedError::FlagsRejected { .. } => codes::BAD_FLAGS,
            SchedError::ProfileMissing { .. } | SchedError::NoSchedulerForProfile { .. } => {
                codes::BAD_PROFILE
            }
            SchedError::Spawn { .. } | SchedError::Timeout { .. } => codes::FAILURE,
        }
    }
}

/// An installed scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub name: String,
    pub path: PathBuf,
}

/// The scheduler directories in effect.
#[derive(Debug, Clone)]
pub struct Dirs {
    dirs: Vec<PathBuf>,
    euid: u32,
}

/// Whether this process runs as (or under) a systemd service.
pub fn under_systemd() -> bool {
    ["INVOCATION_ID", "NOTIFY_SOCKET", "JOURNAL_STREAM"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

impl Dirs {
    /// The directory the loader's executable is in (the schedulers are installed beside it:
    /// `/usr/sbin` from the .deb, `/snap/scx/<revision>/usr/sbin` in the snap), then
    /// [`BUILD_DIRS`]; or the test override when it is allowed. Returns a warning when an
    /// override was present but ignored.
    pub fn from_env() -> (Dirs, Option<String>) {
        let euid = crate::config::euid();
        let own = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        let installed = Dirs::with_own(own, BUILD_DIRS, euid);
        match std::env::var(TEST_DIRS_ENV) {
            Ok(dirs) if !dirs.is_empty() => {
                if under_systemd() {
                    let warning = format!(
                        "ignoring {TEST_DIRS_ENV} (a test setting) under systemd; using {}",
                        installed.describe()
                    );
                    (installed, Some(warning))
                } else {
                    (Dirs::parse(&dirs, euid), None)
                }
            }
            _ => (installed, None),
        }
    }

    /// `own` first (when given), then the directories of `list`, each once.
    fn with_own(own: Option<PathBuf>, list: &str, euid: u32) -> Dirs {
        let mut dirs = Dirs::parse(list, euid);
        if let Some(own) = own.filter(|d| d.is_absolute()) {
            dirs.dirs.retain(|d| *d != own);
            dirs.dirs.insert(0, own);
        }
        dirs
    }

    pub(crate) fn parse(list: &str, euid: u32) -> Dirs {
        Dirs {
            dirs: list
                .split(':')
                .filter(|d| d.starts_with('/'))
                .map(PathBuf::from)
                .collect(),
            euid,
        }
    }

    /// The directories, joined for messages.
    pub fn describe(&self) -> String {
        self.dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Every scheduler found, by name; the first directory wins for a name found twice.
    pub fn list(&self) -> Vec<Installed> {
        let mut found: Vec<Installed> = Vec::new();
        for dir in &self.dirs {
            if self.check_owner(dir, true).is_err() {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| valid_name(n))
                .collect();
            names.sort();
            for name in names {
                if found.iter().any(|i| i.name == name) {
                    continue;
                }
                let path = dir.join(&name);
                if self.check_binary(&path).is_ok() {
                    found.push(Installed { name, path });
                }
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found
    }

    /// The installed names, joined for messages.
    pub fn names(&self) -> String {
        let names: Vec<String> = self.list().into_iter().map(|i| i.name).collect();
        if names.is_empty() {
            format!("none installed in {}", self.describe())
        } else {
            names.join(", ")
        }
    }

    /// The binary of scheduler `name` (already checked with [`valid_name`](crate::config::valid_name)).
    pub fn resolve(&self, name: &str, origin: &str) -> Result<PathBuf, SchedError> {
        if valid_name(name) {
            for dir in &self.dirs {
                let path = dir.join(name);
                if std::fs::symlink_metadata(&path).is_err() {
                    continue;
                }
                self.check_owner(dir, true)?;
                self.check_binary(&path)?;
                return Ok(path);
            }
        }
        Err(SchedError::NotInstalled {
            name: name.to_string(),
            origin: origin.to_string(),
            dirs: self.describe(),
            installed: self.names(),
        })
    }

    fn check_binary(&self, path: &Path) -> Result<(), SchedError> {
        let meta = std::fs::metadata(path).map_err(|e| SchedError::Unsafe {
            path: path.to_path_buf(),
            problem: format!("cannot be inspected ({e})"),
            fix: "reinstall the scheduler".into(),
        })?;
        if !meta.is_file() || meta.mode() & 0o111 == 0 {
            return Err(SchedError::Unsafe {
                path: path.to_path_buf(),
                problem: "is not an executable file".into(),
                fix: "reinstall the scheduler".into(),
            });
        }
        self.check_owner(path, false)
    }

    fn check_owner(&self, path: &Path, is_dir: bool) -> Result<(), SchedError> {
        let meta = std::fs::metadata(path).map_err(|e| SchedError::Unsafe {
            path: path.to_path_buf(),
            problem: format!("cannot be inspected ({e})"),
            fix: "check the scheduler directory".into(),
        })?;
        if meta.uid() != 0 && meta.uid() != self.euid {
            return Err(SchedError::Unsafe {
                path: path.to_path_buf(),
                problem: format!("is owned by uid {}, not by root", meta.uid()),
                fix: format!("run chown root: {}", path.display()),
            });
        }
        let sticky_dir = is_dir && meta.mode() & 0o1000 != 0;
        if meta.mode() & 0o022 != 0 && !sticky_dir {
            return Err(SchedError::Unsafe {
                path: path.to_path_buf(),
                problem: format!(
                    "is writable by users other than root (mode {:04o})",
                    meta.mode() & 0o7777
                ),
                fix: format!("run chmod go-w {}", path.display()),
            });
        }
        Ok(())
    }
}

/// What a finished helper run printed and how it ended.
#[derive(Debug)]
pub struct Answer {
    pub status: ExitStatus,
    pub output: String,
}

/// The non-empty, trimmed lines a scheduler prints for a query of its own (`--version`,
/// `--help`, `--list-profiles`), or None if it fails or does not answer.
pub fn answer_lines(path: &Path, flag: &str) -> Option<Vec<String>> {
    let answer = query(path, &[flag.to_string()], flag).ok()?;
    answer.status.success().then(|| {
        answer
            .output
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    })
}

/// Runs `path args…` with no input, collecting stdout and stderr, within [`QUERY_TIMEOUT`].
pub fn query(path: &Path, args: &[String], what: &str) -> Result<Answer, SchedError> {
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .spawn()
        .map_err(|source| SchedError::Spawn {
            path: path.to_path_buf(),
            source,
        })?;
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    })
    .collect();
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < QUERY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SchedError::Timeout {
                    path: path.to_path_buf(),
                    what: what.to_string(),
                    secs: QUERY_TIMEOUT.as_secs(),
                });
            }
        }
    };
    let mut output = String::new();
    for r in readers {
        if let Ok(buf) = r.join() {
            output.push_str(&String::from_utf8_lossy(&buf));
        }
    }
    Ok(Answer { status, output })
}

/// The line of a scheduler's output that states its error, without the `name: error: ` prefix.
pub fn error_line(name: &str, output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .find(|l| l.contains("error:"))
        .or(lines.first())
        .copied()
        .unwrap_or("no message");
    let line = line.strip_prefix(&format!("{name}: ")).unwrap_or(line);
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

/// Asks the scheduler whether it accepts `flags` (`--check-args`), without attaching anything.
/// Returns a warning when the scheduler cannot validate flags (an old binary).
pub fn check_flags(
    name: &str,
    path: &Path,
    flags: &[String],
    origin: &str,
) -> Result<Option<String>, SchedError> {
    let mut args = vec!["--check-args".to_string()];
    args.extend(flags.iter().cloned());
    let answer = query(path, &args, "--check-args")?;
    if answer.status.success() {
        return Ok(None);
    }
    let message = error_line(name, &answer.output);
    if message.contains("--check-args") {
        return Ok(Some(format!(
            "{name} cannot validate flags (no --check-args); starting it unchecked"
        )));
    }
    Err(SchedError::FlagsRejected {
        name: name.to_string(),
        origin: origin.to_string(),
        flags: if flags.is_empty() {
            "(none)".to_string()
        } else {
            format!("\"{}\"", crate::config::join_words(flags))
        },
        message,
        fix: if origin.starts_with(crate::config::BUS_ORIGIN) {
            "pass arguments it accepts"
        } else {
            "fix SCX_FLAGS"
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn names() {
        assert!(valid_name("scx_rustland"));
        assert!(valid_name("scx_a1_b"));
        for bad in [
            "scx_",
            "scx-loader",
            "scx_A",
            "/usr/sbin/scx_a",
            "scx_a;b",
            "bash",
            "scx_a b",
            "",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn own_directory_comes_first_and_once() {
        let d = Dirs::with_own(Some(PathBuf::from("/usr/sbin")), "/opt/x:/usr/sbin", 0);
        assert_eq!(d.describe(), "/usr/sbin:/opt/x");
        let d = Dirs::with_own(Some(PathBuf::from("/snap/scx/7/usr/sbin")), "/usr/sbin", 0);
        assert_eq!(d.describe(), "/snap/scx/7/usr/sbin:/usr/sbin");
        let d = Dirs::with_own(Some(PathBuf::from("relative")), "/usr/sbin", 0);
        assert_eq!(d.describe(), "/usr/sbin");
    }

    #[test]
    fn error_lines_lose_their_prefixes() {
        assert_eq!(
            error_line(
                "scx_a",
                "error: unexpected argument '--x' found\n\n  tip: …\n"
            ),
            "unexpected argument '--x' found"
        );
        assert_eq!(
            error_line("scx_a", "scx_a: error: invalid option: too small\n"),
            "invalid option: too small"
        );
        assert_eq!(error_line("scx_a", ""), "no message");
    }

    pub(crate) fn fake_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scx-loader-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    pub(crate) fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn lists_resolves_and_refuses_writable_binaries() {
        let dir = fake_dir("list");
        script(&dir, "scx_good", "exit 0", 0o755);
        script(&dir, "scx_open", "exit 0", 0o777);
        script(&dir, "not_a_sched", "exit 0", 0o755);
        script(&dir, "scx_noexec", "exit 0", 0o644);
        let dirs = Dirs::parse(dir.to_str().unwrap(), crate::config::euid());
        let names: Vec<String> = dirs.list().into_iter().map(|i| i.name).collect();
        assert_eq!(names, vec!["scx_good"]);
        assert_eq!(
            dirs.resolve("scx_good", "test").unwrap(),
            dir.join("scx_good")
        );
        let err = dirs.resolve("scx_open", "test").unwrap_err();
        assert!(
            err.to_string()
                .contains("writable by users other than root"),
            "{err}"
        );
        let err = dirs.resolve("scx_missing", "cfg:1").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cfg:1: scheduler scx_missing is not installed"),
            "{err}"
        );
        assert!(
            err.to_string().ends_with("choose one of: scx_good"),
            "{err}"
        );
        assert!(dirs.resolve("../bin/sh", "t").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn flags_are_checked_by_the_scheduler() {
        let dir = fake_dir("flags");
        let path = script(
            &dir,
            "scx_fake",
            r#"[ "$1" = --check-args ] || exit 9
shift
[ "$1" = --bad ] && { echo "error: unexpected argument '--bad' found" >&2; echo >&2; echo "Usage: x" >&2; exit 2; }
exit 0"#,
            0o755,
        );
        assert!(
            check_flags("scx_fake", &path, &["-s".into(), "1".into()], "cfg:2")
                .unwrap()
                .is_none()
        );
        let err = check_flags("scx_fake", &path, &["--bad".into()], "cfg:2").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cfg:2: scx_fake rejected the flags \"--bad\": unexpected argument '--bad' found: fix SCX_FLAGS (see `scx_fake --help`)"
        );
        assert_eq!(err.exit_code(), crate::codes::BAD_FLAGS);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
