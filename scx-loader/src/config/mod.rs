//! The loader's configuration (`/etc/default/scx`): the keys it knows, overrides from the
//! environment, and the typed [`Config`] the service and the CLI act on. The file's syntax,
//! shell words, file safety and its location live in the submodules.

mod paths;
mod safety;
mod syntax;
mod words;

use std::fmt;
use std::path::{Path, PathBuf};

pub use paths::{default_path, service_unit};
use safety::read_error;
pub use safety::{check_file_safety, euid};
pub use syntax::{parse, rewrite};
pub use words::{join_words, quote, split_words};

use crate::suggest::closest;

pub const KEY_SCHEDULER: &str = "SCX_SCHEDULER";
pub const KEY_FLAGS: &str = "SCX_FLAGS";
pub const KEY_FALLBACK: &str = "SCX_FALLBACK_SCHEDULER";
pub const KEY_PROFILE: &str = "SCX_PROFILE";
pub const ENV_SCHEDULER_OVERRIDE: &str = "SCX_SCHEDULER_OVERRIDE";
pub const ENV_FLAGS_OVERRIDE: &str = "SCX_FLAGS_OVERRIDE";
pub const ENV_PROFILE_OVERRIDE: &str = "SCX_PROFILE_OVERRIDE";

/// Keys the file may set.
pub const FILE_KEYS: &[&str] = &[KEY_SCHEDULER, KEY_FLAGS, KEY_FALLBACK, KEY_PROFILE];
/// Keys only the environment may set (`systemctl set-environment`).
pub const ENV_KEYS: &[&str] = &[
    ENV_SCHEDULER_OVERRIDE,
    ENV_FLAGS_OVERRIDE,
    ENV_PROFILE_OVERRIDE,
];

/// The profile names of the schedulers' `--profile` (scx_core's `profile::NAMES`): a scheduler
/// offers some of them, and `scx_NAME --list-profiles` says which.
pub const PROFILES: &[&str] = &["gaming", "lowlatency", "server", "powersave", "hpc"];
/// `SCX_PROFILE=auto`: the loader picks one of [`PROFILES`] from the machine's power state.
pub const AUTO: &str = "auto";

/// How a setting made by a bus call names its origin in messages.
pub const BUS_ORIGIN: &str = "D-Bus call";

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    File {
        path: PathBuf,
        line: usize,
    },
    Env(&'static str),
    /// `scx-loader set` or another command line.
    CommandLine,
    /// A method called on the bus.
    Bus(&'static str),
    Unset,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::CommandLine => f.write_str("command line"),
            Origin::Bus(method) => write!(f, "{BUS_ORIGIN} {method}"),
            Origin::Unset => f.write_str("default"),
        }
    }
}

/// A configured value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub value: String,
    pub origin: Origin,
}

/// Everything wrong with a configuration, each rendered as one line: where, what, how to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the configuration ({error}): {fix}", path = .path.display())]
    Read {
        path: PathBuf,
        fix: String,
        error: std::io::Error,
    },
    #[error("{path} {problem}: {fix}", path = .path.display())]
    Insecure {
        path: PathBuf,
        problem: String,
        fix: String,
    },
    #[error("{path}:{line}: {problem}: {fix}", path = .path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        problem: String,
        fix: String,
    },
    #[error("{path}:{line}: unknown key {key}: {fix}", path = .path.display())]
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
        fix: String,
    },
    #[error("{origin}: {problem}: {fix}")]
    BadValue {
        origin: Origin,
        problem: String,
        fix: String,
    },
    #[error("{origin}: unknown profile {value:?}: {fix}")]
    UnknownProfile {
        origin: Origin,
        value: String,
        fix: String,
    },
}

impl ConfigError {
    /// The loader's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        use crate::codes;
        match self {
            ConfigError::Read { .. } => codes::CONFIG_UNREADABLE,
            ConfigError::Insecure { .. } => codes::CONFIG_INSECURE,
            ConfigError::Syntax { .. } => codes::CONFIG_SYNTAX,
            ConfigError::UnknownKey { .. } => codes::CONFIG_UNKNOWN_KEY,
            ConfigError::BadValue { .. } => codes::BAD_SCHEDULER,
            ConfigError::UnknownProfile { .. } => codes::BAD_PROFILE,
        }
    }
}

/// The configuration the loader acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub path: PathBuf,
    pub scheduler: Option<Setting>,
    /// `SCX_FLAGS` as written (for messages) and split into arguments.
    pub flags: Setting,
    pub flag_words: Vec<String>,
    pub fallback: Option<Setting>,
    /// `SCX_PROFILE`: one of [`PROFILES`] or [`AUTO`], or None for the scheduler's own defaults.
    pub profile: Option<Setting>,
    /// Lines that were ignored, for a warning each.
    pub warnings: Vec<String>,
}

impl Config {
    /// The scheduler's arguments: `--profile NAME` for `SCX_PROFILE`, then `SCX_FLAGS`, whose
    /// options override the profile's.
    /// With `auto` the profile is the service's choice: [`Config::arguments_with`].
    pub fn arguments(&self) -> Vec<String> {
        let profile = self.profile.as_ref().map(|p| p.value.as_str());
        self.arguments_with(profile.filter(|p| *p != AUTO))
    }

    /// The scheduler's arguments with `profile` in place of `SCX_PROFILE`.
    pub fn arguments_with(&self, profile: Option<&str>) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(p) = profile {
            args.extend(["--profile".to_string(), p.to_string()]);
        }
        args.extend(self.flag_words.iter().cloned());
        args
    }

    /// Whether `SCX_PROFILE=auto`.
    pub fn is_auto(&self) -> bool {
        self.profile.as_ref().is_some_and(|p| p.value == AUTO)
    }

    /// Reads, checks and interprets the file; `env` supplies the override variables.
    pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        check_file_safety(path, euid())?;
        let text = std::fs::read_to_string(path).map_err(|source| read_error(path, source))?;
        Config::from_text(path, &text, env)
    }

    /// Interprets file text (already read and checked).
    pub fn from_text(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let assignments = parse(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: e.line,
            problem: e.problem,
            fix: e.fix,
        })?;
        let mut config = Config {
            path: path.to_path_buf(),
            scheduler: None,
            flags: Setting {
                value: String::new(),
                origin: Origin::Unset,
            },
            flag_words: Vec::new(),
            fallback: None,
            profile: None,
            warnings: Vec::new(),
        };
        for a in &assignments {
            let origin = Origin::File {
                path: path.to_path_buf(),
                line: a.first_line,
            };
            let setting = Setting {
                value: a.value.clone(),
                origin,
            };
            match a.key.as_str() {
                KEY_SCHEDULER => config.scheduler = non_empty(setting),
                KEY_FLAGS => config.flags = setting,
                KEY_FALLBACK => config.fallback = non_empty(setting),
                KEY_PROFILE => config.profile = non_empty(setting),
                key if ENV_KEYS.contains(&key) => {
                    let file_key = key.strip_suffix("_OVERRIDE").unwrap_or(key);
                    return Err(ConfigError::UnknownKey {
                        path: path.to_path_buf(),
                        line: a.first_line,
                        key: key.to_string(),
                        fix: format!(
                            "{key} is read from the environment only (systemctl set-environment {key}=...); in this file write {file_key}="
                        ),
                    });
                }
                key => {
                    let suggestion = closest(key, FILE_KEYS, 3);
                    let near = closest(key, FILE_KEYS, 2).is_some();
                    if key.starts_with("SCX_") || near {
                        let fix = match suggestion {
                            Some(s) => format!("did you mean {s}?"),
                            None => format!("the known keys are {}", FILE_KEYS.join(", ")),
                        };
                        return Err(ConfigError::UnknownKey {
                            path: path.to_path_buf(),
                            line: a.first_line,
                            key: key.to_string(),
                            fix,
                        });
                    }
                    config.warnings.push(format!(
                        "{}:{}: ignoring {key} (not an scx setting)",
                        path.display(),
                        a.first_line
                    ));
                }
            }
        }
        if let Some(v) = env(ENV_SCHEDULER_OVERRIDE).filter(|v| !v.is_empty()) {
            config.scheduler = Some(Setting {
                value: v,
                origin: Origin::Env(ENV_SCHEDULER_OVERRIDE),
            });
        }
        if let Some(v) = env(ENV_FLAGS_OVERRIDE) {
            config.flags = Setting {
                value: v,
                origin: Origin::Env(ENV_FLAGS_OVERRIDE),
            };
        }
        if let Some(v) = env(ENV_PROFILE_OVERRIDE) {
            config.profile = non_empty(Setting {
                value: v,
                origin: Origin::Env(ENV_PROFILE_OVERRIDE),
            });
        }
        for setting in [&config.scheduler, &config.fallback].into_iter().flatten() {
            check_name(setting)?;
        }
        if let Some(p) = &config.profile {
            check_profile(p)?;
        }
        config.flag_words =
            split_words(&config.flags.value).map_err(|e| match &config.flags.origin {
                Origin::File { path, line } => ConfigError::Syntax {
                    path: path.clone(),
                    line: *line,
                    problem: format!("{KEY_FLAGS}: {}", e.problem),
                    fix: e.fix,
                },
                origin => ConfigError::BadValue {
                    origin: origin.clone(),
                    problem: e.problem,
                    fix: e.fix,
                },
            })?;
        Ok(config)
    }
}

/// Whether `name` is a scheduler name: `^scx_[a-z0-9_]+$`.
pub fn valid_name(name: &str) -> bool {
    name.strip_prefix("scx_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    })
}

fn non_empty(setting: Setting) -> Option<Setting> {
    (!setting.value.is_empty()).then_some(setting)
}

fn check_profile(setting: &Setting) -> Result<(), ConfigError> {
    let names: Vec<&str> = PROFILES.iter().copied().chain([AUTO]).collect();
    if names.contains(&setting.value.as_str()) {
        return Ok(());
    }
    let fix = match closest(&setting.value, &names, 3) {
        Some(s) => format!("did you mean {s}?"),
        None => format!("the profiles are {}", names.join(", ")),
    };
    Err(ConfigError::UnknownProfile {
        origin: setting.origin.clone(),
        value: setting.value.clone(),
        fix,
    })
}

fn check_name(setting: &Setting) -> Result<(), ConfigError> {
    if valid_name(&setting.value) {
        return Ok(());
    }
    let problem = if setting.value.contains('/') {
        format!(
            "{:?} is a path; only scheduler names are accepted",
            setting.value
        )
    } else {
        format!("{:?} is not a scheduler name", setting.value)
    };
    Err(ConfigError::BadValue {
        origin: setting.origin.clone(),
        problem,
        fix:
            "use a name like scx_rustland (scx_ followed by a-z, 0-9 and _; see `scx-loader list`)"
                .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_text(Path::new("/etc/default/scx"), text, &no_env)
    }

    #[test]
    fn profile_key_its_override_and_its_errors() {
        let c = load("SCX_PROFILE=server\nSCX_FLAGS='-s 5000'\n").unwrap();
        assert_eq!(c.profile.as_ref().unwrap().value, "server");
        assert!(c.scheduler.is_none());
        assert_eq!(c.arguments(), ["--profile", "server", "-s", "5000"]);
        assert!(load("SCX_PROFILE=\n").unwrap().profile.is_none());
        assert_eq!(load("SCX_FLAGS=-v\n").unwrap().arguments(), ["-v"]);
        let c = load("SCX_PROFILE=auto\nSCX_FLAGS=-v\n").unwrap();
        assert!(c.is_auto() && !load("SCX_PROFILE=hpc\n").unwrap().is_auto());
        assert_eq!(
            c.arguments(),
            ["-v"],
            "auto's profile is the service's choice"
        );
        assert_eq!(
            c.arguments_with(Some("gaming")),
            ["--profile", "gaming", "-v"]
        );
        assert_eq!(
            load("SCX_PROFILE=atuo\n").unwrap_err().to_string(),
            "/etc/default/scx:1: unknown profile \"atuo\": did you mean auto?"
        );

        let err = load("SCX_PROFILE=gamign\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/default/scx:1: unknown profile \"gamign\": did you mean gaming?"
        );
        assert_eq!(err.exit_code(), crate::codes::BAD_PROFILE);
        let err = load("SCX_PROFILE=quickest\n").unwrap_err();
        assert!(err
            .to_string()
            .ends_with("the profiles are gaming, lowlatency, server, powersave, hpc, auto"));

        let err = load("SCX_PROFILE_OVERRIDE=hpc\n").unwrap_err();
        assert!(
            err.to_string().ends_with("in this file write SCX_PROFILE="),
            "{err}"
        );

        let env = |k: &str| (k == ENV_PROFILE_OVERRIDE).then(|| "lowlatency".to_string());
        let c = Config::from_text(Path::new("/x"), "SCX_PROFILE=server\n", &env).unwrap();
        assert_eq!(c.profile.as_ref().unwrap().value, "lowlatency");
        assert_eq!(
            c.profile.as_ref().unwrap().origin,
            Origin::Env(ENV_PROFILE_OVERRIDE)
        );
    }

    #[test]
    fn config_keys_and_did_you_mean() {
        let c = load("SCX_SCHEDULER=scx_rlfifo\nSCX_FLAGS='-s 100 -S 50'\nSCX_FALLBACK_SCHEDULER=scx_rustland\nOTHER=1\n").unwrap();
        assert_eq!(c.scheduler.as_ref().unwrap().value, "scx_rlfifo");
        assert_eq!(c.flag_words, vec!["-s", "100", "-S", "50"]);
        assert_eq!(c.fallback.as_ref().unwrap().value, "scx_rustland");
        assert_eq!(c.warnings.len(), 1);

        let err = load("SCX_SCHEDUER=scx_rlfifo\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/default/scx:1: unknown key SCX_SCHEDUER: did you mean SCX_SCHEDULER?"
        );
        assert_eq!(err.exit_code(), crate::codes::CONFIG_UNKNOWN_KEY);
        let err = load("\nSXC_FLAGS=1\n").unwrap_err();
        assert!(err
            .to_string()
            .contains(":2: unknown key SXC_FLAGS: did you mean SCX_FLAGS?"));
        let err = load("SCX_WHATEVER_ELSE=1\n").unwrap_err();
        assert!(err.to_string().contains("the known keys are"), "{err}");
        let err = load("SCX_SCHEDULER_OVERRIDE=scx_a\n").unwrap_err();
        assert!(err.to_string().contains("environment only"), "{err}");
    }

    #[test]
    fn scheduler_must_be_a_name() {
        let err = load("SCX_SCHEDULER=/tmp/evil\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/etc/default/scx:1: \"/tmp/evil\" is a path"),
            "{err}"
        );
        assert_eq!(err.exit_code(), crate::codes::BAD_SCHEDULER);
        assert!(load("SCX_SCHEDULER='scx_a;ls'\n").is_err());
        assert!(load("SCX_SCHEDULER=scx_Upper\n").is_err());
        assert!(load("SCX_FALLBACK_SCHEDULER=bash\n").is_err());
        assert!(load("SCX_SCHEDULER=\n").unwrap().scheduler.is_none());
    }

    #[test]
    fn flags_errors_name_their_line() {
        let err = load("SCX_SCHEDULER=scx_a\nSCX_FLAGS=\"--x 'y\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/default/scx:2: SCX_FLAGS: unbalanced ' in the flags: close the ', or escape it as \\'"
        );
    }

    #[test]
    fn environment_overrides_win() {
        let env = |k: &str| match k {
            ENV_SCHEDULER_OVERRIDE => Some("scx_b".to_string()),
            ENV_FLAGS_OVERRIDE => Some("--fast".to_string()),
            _ => None,
        };
        let c = Config::from_text(Path::new("/x"), "SCX_SCHEDULER=scx_a\nSCX_FLAGS=-v\n", &env)
            .unwrap();
        let sched = c.scheduler.unwrap();
        assert_eq!(sched.value, "scx_b");
        assert_eq!(sched.origin, Origin::Env(ENV_SCHEDULER_OVERRIDE));
        assert_eq!(c.flag_words, vec!["--fast"]);
        let bad = |k: &str| (k == ENV_SCHEDULER_OVERRIDE).then(|| "../x".to_string());
        let err = Config::from_text(Path::new("/x"), "", &bad).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("environment variable SCX_SCHEDULER_OVERRIDE: \"../x\" is a path"));
    }

    #[test]
    fn quoting_round_trips() {
        for v in [
            "",
            "plain",
            "a b",
            "it's",
            "$HOME",
            "x\"y",
            "tab\there",
            "a\\b",
            "#c",
            "new\nline",
        ] {
            let parsed = parse(&format!("K={}\n", quote(v))).unwrap();
            assert_eq!(parsed[0].value, v, "value {v:?}");
        }
        let words: Vec<String> = ["-a", "b c", "", "'q'", "\\"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(split_words(&join_words(&words)).unwrap(), words);
    }

    /// A small deterministic generator (xorshift) for the randomized properties below.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn text(&mut self, alphabet: &[char], max: usize) -> String {
            let len = (self.next() % max as u64) as usize;
            (0..len)
                .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
                .collect()
        }
    }

    const NASTY: &[char] = &[
        'A', 'S', 'C', 'X', '_', 'z', '0', '=', ' ', '\t', '\n', '\r', '\'', '"', '\\', '#', ';',
        '$', '`', 'é', '\u{0}', 'e', 'x', 'p', 'o', 'r', 't',
    ];

    #[test]
    fn no_input_panics_and_errors_stay_on_one_line() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let text = rng.text(NASTY, 80);
            if let Err(e) = load(&text) {
                assert!(!e.to_string().contains('\n') || text.contains('\n'), "{e}");
            }
            let _ = split_words(&text);
            let _ = rewrite(&text, &[(KEY_SCHEDULER, &text)]);
        }
    }

    #[test]
    fn random_values_and_words_round_trip() {
        let mut rng = Rng(0xdead_beef_cafe_f00d);
        for _ in 0..5_000 {
            let v = rng.text(NASTY, 30);
            let parsed = parse(&format!("K={}\n", quote(&v))).unwrap();
            assert_eq!(parsed.len(), 1, "{v:?}");
            assert_eq!(parsed[0].value, v);
            let words: Vec<String> = (0..(rng.next() % 5)).map(|_| rng.text(NASTY, 8)).collect();
            assert_eq!(split_words(&join_words(&words)).unwrap(), words);
            let rewritten = rewrite("# c\nSCX_FLAGS=x\n", &[(KEY_FLAGS, &v)]).unwrap();
            let back = parse(&rewritten).unwrap();
            assert_eq!(back.last().unwrap().value, v);
        }
    }
}
