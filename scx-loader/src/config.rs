//! `/etc/default/scx`: the file syntax (the shell / systemd `EnvironmentFile` subset), the keys the
//! loader knows, overrides from the environment, the file-safety rules, and rewriting the file.
//!
//! Syntax: one `KEY=VALUE` per logical line; blank lines and lines starting with `#` or `;` are
//! comments; an unquoted `#` after whitespace starts a comment; `'single'` quotes keep everything
//! literally; `"double"` quotes honour `\"`, `\\`, `\$`, `` \` `` and backslash-newline; outside
//! quotes a backslash escapes the next character and a backslash at the end of a line joins the
//! next one. Nothing is expanded: `$HOME` stays `$HOME`. A leading `export ` is accepted.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::scheds;

/// Where the service reads its configuration unless `--config` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/default/scx";
/// The file's name in the snap's data directory (`$SNAP_DATA`, seeded by the install hook).
pub const SNAP_FILE: &str = "scx";

/// Whether the loader runs as an app of the scx snap.
fn in_snap() -> bool {
    std::env::var_os("SNAP_NAME").is_some_and(|n| n == "scx")
}

/// [`DEFAULT_PATH`], or `$SNAP_DATA/scx` when the loader runs as the scx snap's app.
pub fn default_path() -> PathBuf {
    snap_path(
        std::env::var_os("SNAP_NAME").as_deref(),
        std::env::var_os("SNAP_DATA").as_deref(),
    )
}

/// The systemd unit that runs the loader in this installation, and how a user starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub name: &'static str,
    pub start: &'static str,
}

/// `scx.service` from the package; `snap.scx.daemon.service` when run from the snap.
pub fn service_unit() -> Unit {
    if in_snap() {
        Unit {
            name: "snap.scx.daemon.service",
            start: "snap start --enable scx.daemon",
        }
    } else {
        Unit {
            name: "scx.service",
            start: "systemctl enable --now scx",
        }
    }
}

fn snap_path(name: Option<&std::ffi::OsStr>, data: Option<&std::ffi::OsStr>) -> PathBuf {
    match (name, data) {
        (Some(name), Some(data)) if name == "scx" && Path::new(data).is_absolute() => {
            Path::new(data).join(SNAP_FILE)
        }
        _ => PathBuf::from(DEFAULT_PATH),
    }
}

pub const KEY_SCHEDULER: &str = "SCX_SCHEDULER";
pub const KEY_FLAGS: &str = "SCX_FLAGS";
pub const KEY_FALLBACK: &str = "SCX_FALLBACK_SCHEDULER";
pub const ENV_SCHEDULER_OVERRIDE: &str = "SCX_SCHEDULER_OVERRIDE";
pub const ENV_FLAGS_OVERRIDE: &str = "SCX_FLAGS_OVERRIDE";

/// Keys the file may set.
pub const FILE_KEYS: &[&str] = &[KEY_SCHEDULER, KEY_FLAGS, KEY_FALLBACK];
/// Keys only the environment may set (`systemctl set-environment`).
pub const ENV_KEYS: &[&str] = &[ENV_SCHEDULER_OVERRIDE, ENV_FLAGS_OVERRIDE];

/// One `KEY=VALUE` of the file, with the lines it spans (1-based, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub key: String,
    pub value: String,
    pub first_line: usize,
    pub last_line: usize,
}

/// A syntax error: the line, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub problem: String,
    pub fix: String,
}

/// A problem with a word list (`SCX_FLAGS`): what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordsError {
    pub problem: String,
    pub fix: String,
}

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
    Unset,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Env(name) => write!(f, "environment variable {name}"),
            Origin::CommandLine => f.write_str("command line"),
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
    /// Lines that were ignored, for a warning each.
    pub warnings: Vec<String>,
}

/// Parses the file text into its assignments.
pub fn parse(text: &str) -> Result<Vec<Assignment>, SyntaxError> {
    Parser::new(text).run()
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    line: usize,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r'
}

impl Parser {
    fn new(text: &str) -> Self {
        Parser {
            chars: text.chars().collect(),
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    fn skip_to_eol(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    fn read_key(&mut self) -> String {
        let mut key = String::new();
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            key.push(c);
            self.bump();
        }
        key
    }

    fn run(mut self) -> Result<Vec<Assignment>, SyntaxError> {
        let mut out = Vec::new();
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else { break };
            if c == '\n' {
                self.bump();
                continue;
            }
            if c == '#' || c == ';' {
                self.skip_to_eol();
                continue;
            }
            let first_line = self.line;
            let mut key = self.read_key();
            if key == "export" && self.peek().is_some_and(is_blank) {
                self.skip_blanks();
                key = self.read_key();
            }
            if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
                let found = self.peek().map(|c| c.to_string()).unwrap_or_default();
                return Err(SyntaxError {
                    line: first_line,
                    problem: if key.is_empty() {
                        format!("expected KEY=VALUE, found {found:?}")
                    } else {
                        format!("{key:?} is not a valid key (keys start with a letter or _)")
                    },
                    fix: "write KEY=VALUE, or start the line with # to make it a comment".into(),
                });
            }
            self.skip_blanks();
            if self.peek() != Some('=') {
                return Err(SyntaxError {
                    line: first_line,
                    problem: format!("{key} has no '=' after it"),
                    fix: format!("write {key}=VALUE (use quotes around values with spaces)"),
                });
            }
            self.bump();
            let value = self.read_value()?;
            out.push(Assignment {
                key,
                value,
                first_line,
                last_line: self.line,
            });
        }
        Ok(out)
    }

    fn unbalanced(&self, quote: char, line: usize) -> SyntaxError {
        let name = if quote == '\'' { "single" } else { "double" };
        SyntaxError {
            line,
            problem: format!("unbalanced {name} quote ({quote} opened here is never closed)"),
            fix: format!("add the closing {quote}, or escape the quote as \\{quote}"),
        }
    }

    /// Reads a value up to the end of its logical line (the newline is left in place).
    fn read_value(&mut self) -> Result<String, SyntaxError> {
        let mut value = String::new();
        let mut started = false;
        let mut blanks = String::new();
        while let Some(c) = self.peek() {
            match c {
                '\n' => break,
                '#' if !blanks.is_empty() => {
                    self.skip_to_eol();
                    break;
                }
                c if is_blank(c) => {
                    blanks.push(c);
                    self.bump();
                }
                '\\' => {
                    self.bump();
                    match self.bump() {
                        None => break,
                        Some('\n') => {}
                        Some(c) => {
                            flush(&mut value, &mut blanks, &mut started);
                            value.push(c);
                        }
                    }
                }
                '\'' => {
                    flush(&mut value, &mut blanks, &mut started);
                    let open = self.line;
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(self.unbalanced('\'', open)),
                            Some('\'') => break,
                            Some(c) => value.push(c),
                        }
                    }
                }
                '"' => {
                    flush(&mut value, &mut blanks, &mut started);
                    let open = self.line;
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(self.unbalanced('"', open)),
                            Some('"') => break,
                            Some('\\') => match self.bump() {
                                None => return Err(self.unbalanced('"', open)),
                                Some('\n') => {}
                                Some(c @ ('"' | '\\' | '$' | '`')) => value.push(c),
                                Some(c) => {
                                    value.push('\\');
                                    value.push(c);
                                }
                            },
                            Some(c) => value.push(c),
                        }
                    }
                }
                c => {
                    flush(&mut value, &mut blanks, &mut started);
                    value.push(c);
                    self.bump();
                }
            }
        }
        Ok(value)
    }
}

/// Adds the whitespace held back between words, unless the value has not started yet.
fn flush(value: &mut String, blanks: &mut String, started: &mut bool) {
    if *started {
        value.push_str(blanks);
    }
    blanks.clear();
    *started = true;
}

/// Splits a string into words the way a shell does, without running one: whitespace separates,
/// quotes group, backslashes escape. Nothing is expanded and no character is special otherwise,
/// so `; rm -rf /` is just the words `;`, `rm`, `-rf` and `/`.
pub fn split_words(text: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => w.push(c),
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(unbalanced_word('\'')),
                        Some('\'') => break,
                        Some(c) => w.push(c),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        None => return Err(unbalanced_word('"')),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            None => return Err(unbalanced_word('"')),
                            Some('\n') => {}
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                        },
                        Some(c) => w.push(c),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

fn unbalanced_word(quote: char) -> WordsError {
    WordsError {
        problem: format!("unbalanced {quote} in the flags"),
        fix: format!("close the {quote}, or escape it as \\{quote}"),
    }
}

/// Quotes a value so that [`parse`] (and a shell) reads it back unchanged.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,/:=+@%".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// Quotes a word list so that [`split_words`] (and a shell) reads it back unchanged.
pub fn join_words(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// The edit distance between two strings (insertions, deletions, substitutions).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within `max` edits, if any.
pub fn closest<'a>(word: &str, candidates: &[&'a str], max: usize) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Refuses a configuration file (and its directory) that anyone but root — or the user running
/// the loader, when that is not root — could have written.
pub fn check_file_safety(path: &Path, euid: u32) -> Result<(), ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| read_error(path, source))?;
    if !meta.is_file() {
        return Err(ConfigError::Insecure {
            path: path.to_path_buf(),
            problem: "is not a regular file".into(),
            fix: "point --config at a regular file".into(),
        });
    }
    check_owner_mode(path, &meta, euid, false)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dmeta = std::fs::metadata(dir).map_err(|source| read_error(dir, source))?;
    check_owner_mode(dir, &dmeta, euid, true).map_err(|e| match e {
        ConfigError::Insecure {
            path: p,
            problem,
            fix,
        } => ConfigError::Insecure {
            path: path.to_path_buf(),
            problem: format!("is in {}, which {problem}", p.display()),
            fix,
        },
        other => other,
    })
}

fn check_owner_mode(
    path: &Path,
    meta: &std::fs::Metadata,
    euid: u32,
    is_dir: bool,
) -> Result<(), ConfigError> {
    let owner_ok = meta.uid() == 0 || meta.uid() == euid;
    if !owner_ok {
        return Err(ConfigError::Insecure {
            path: path.to_path_buf(),
            problem: format!("is owned by uid {}, not by root", meta.uid()),
            fix: format!("run chown root:root {}", path.display()),
        });
    }
    let mode = meta.mode();
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !(is_dir && sticky) {
        let who = if mode & 0o002 != 0 {
            "everyone"
        } else {
            "its group"
        };
        return Err(ConfigError::Insecure {
            path: path.to_path_buf(),
            problem: format!(
                "is writable by {who} (mode {:04o}), so anyone could choose what runs as root",
                mode & 0o7777
            ),
            fix: format!("run chmod go-w {}", path.display()),
        });
    }
    Ok(())
}

fn read_error(path: &Path, source: std::io::Error) -> ConfigError {
    let fix = if source.kind() == std::io::ErrorKind::NotFound {
        "create it with SCX_SCHEDULER=<name> (see scx(5) and `scx-loader list`), or pass --config PATH"
            .to_string()
    } else {
        "check that the path is right and readable by root".to_string()
    };
    ConfigError::Read {
        path: path.to_path_buf(),
        fix,
        error: source,
    }
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid() has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

impl Config {
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
                key if ENV_KEYS.contains(&key) => {
                    let file_key = if key == ENV_SCHEDULER_OVERRIDE {
                        KEY_SCHEDULER
                    } else {
                        KEY_FLAGS
                    };
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
        for setting in [&config.scheduler, &config.fallback].into_iter().flatten() {
            check_name(setting)?;
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

fn non_empty(setting: Setting) -> Option<Setting> {
    (!setting.value.is_empty()).then_some(setting)
}

fn check_name(setting: &Setting) -> Result<(), ConfigError> {
    if scheds::valid_name(&setting.value) {
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

/// Sets `updates` in the file text, keeping every other line (comments, unknown keys) as it is:
/// the effective (last) assignment of a key is replaced in place, a missing key is appended.
pub fn rewrite(text: &str, updates: &[(&str, &str)]) -> Result<String, SyntaxError> {
    let assignments = parse(text)?;
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let mut appended = Vec::new();
    let mut replacements: Vec<(usize, usize, String)> = Vec::new();
    for (key, value) in updates {
        let line = format!("{key}={}\n", quote(value));
        match assignments.iter().rev().find(|a| a.key == *key) {
            Some(a) => replacements.push((a.first_line, a.last_line, line)),
            None => appended.push(line),
        }
    }
    replacements.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (first, last, line) in replacements {
        let last = last.min(lines.len());
        lines.splice(first - 1..last, std::iter::once(line));
    }
    if !appended.is_empty() {
        if lines.last().is_some_and(|l| !l.ends_with('\n')) {
            if let Some(l) = lines.last_mut() {
                l.push('\n');
            }
        }
        lines.extend(appended);
    }
    Ok(lines.concat())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_path_in_and_out_of_the_snap() {
        use std::ffi::OsStr;
        let data = Some(OsStr::new("/var/snap/scx/12"));
        assert_eq!(
            snap_path(Some(OsStr::new("scx")), data),
            PathBuf::from("/var/snap/scx/12/scx")
        );
        assert_eq!(
            snap_path(Some(OsStr::new("other")), data),
            PathBuf::from(DEFAULT_PATH)
        );
        assert_eq!(snap_path(None, None), PathBuf::from(DEFAULT_PATH));
    }

    fn values(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect()
    }

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_text(Path::new("/etc/default/scx"), text, &no_env)
    }

    #[test]
    fn plain_assignments_comments_and_blank_lines() {
        let text =
            "# comment\n\n; also a comment\nSCX_SCHEDULER=scx_rustland\n  SCX_FLAGS = -s 5000  \n";
        assert_eq!(
            values(text),
            vec![
                kv("SCX_SCHEDULER", "scx_rustland"),
                kv("SCX_FLAGS", "-s 5000")
            ]
        );
    }

    #[test]
    fn quotes() {
        assert_eq!(values("A='x  y # z'"), vec![kv("A", "x  y # z")]);
        assert_eq!(
            values(r#"A="a \"b\" \$c \n""#),
            vec![kv("A", r#"a "b" $c \n"#)]
        );
        assert_eq!(values(r"A='it'\''s'"), vec![kv("A", "it's")]);
        assert_eq!(values("A=''"), vec![kv("A", "")]);
        assert_eq!(values("A=pre'mid'post"), vec![kv("A", "premidpost")]);
        assert_eq!(
            values("A='multi\nline'\nB=1"),
            vec![kv("A", "multi\nline"), kv("B", "1")]
        );
    }

    #[test]
    fn inline_comments_need_whitespace_before_them() {
        assert_eq!(values("A=x # note"), vec![kv("A", "x")]);
        assert_eq!(values("A=x#y"), vec![kv("A", "x#y")]);
        assert_eq!(values("A= # only a comment"), vec![kv("A", "")]);
    }

    #[test]
    fn backslash_continuations_and_escapes() {
        let parsed = parse("A=one \\\n  two\nB=\"x\\\ny\"\nC=a\\ b\n").unwrap();
        assert_eq!(parsed[0].value, "one   two");
        assert_eq!((parsed[0].first_line, parsed[0].last_line), (1, 2));
        assert_eq!(parsed[1].value, "xy");
        assert_eq!(parsed[2].value, "a b");
        assert_eq!(parsed[2].first_line, 5);
    }

    #[test]
    fn export_prefix_and_crlf() {
        assert_eq!(
            values("export A=1\r\nB=2\r\n"),
            vec![kv("A", "1"), kv("B", "2")]
        );
    }

    #[test]
    fn unbalanced_quotes_name_the_opening_line() {
        let err = parse("A=1\nB='open\nC=3\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.problem.contains("unbalanced single quote"), "{err:?}");
        let err = parse("A=\"x\\\"").unwrap_err();
        assert!(err.problem.contains("unbalanced double quote"), "{err:?}");
    }

    #[test]
    fn lines_that_are_not_assignments() {
        let err = parse("A=1\nthis is prose\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.problem.contains("no '='"), "{err:?}");
        let err = parse("=x").unwrap_err();
        assert!(err.problem.contains("expected KEY=VALUE"), "{err:?}");
        let err = parse("9A=x").unwrap_err();
        assert!(err.problem.contains("not a valid key"), "{err:?}");
    }

    #[test]
    fn words_split_like_a_shell_without_one() {
        let w = split_words(r#"--a 1  -b 'x y' "q\"z" c\ d ; rm -rf / $(id)"#).unwrap();
        assert_eq!(
            w,
            vec!["--a", "1", "-b", "x y", "q\"z", "c d", ";", "rm", "-rf", "/", "$(id)"]
        );
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("''").unwrap(), vec![String::new()]);
        assert!(split_words("'x").is_err());
        assert!(split_words("\"x").is_err());
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

    #[test]
    fn rewrite_keeps_everything_else() {
        let text =
            "# head\nSCX_SCHEDULER=scx_a # old\nOTHER='keep me'\nSCX_FLAGS='-x \\\n -y'\n# tail";
        let out = rewrite(text, &[(KEY_SCHEDULER, "scx_b"), (KEY_FLAGS, "-s 1")]).unwrap();
        assert_eq!(
            out,
            "# head\nSCX_SCHEDULER=scx_b\nOTHER='keep me'\nSCX_FLAGS='-s 1'\n# tail"
        );
        let out = rewrite("# only a comment", &[(KEY_SCHEDULER, "scx_b")]).unwrap();
        assert_eq!(out, "# only a comment\nSCX_SCHEDULER=scx_b\n");
        let out = rewrite(
            "SCX_SCHEDULER=a\nSCX_SCHEDULER=b\n",
            &[(KEY_SCHEDULER, "scx_c")],
        )
        .unwrap();
        assert_eq!(out, "SCX_SCHEDULER=a\nSCX_SCHEDULER=scx_c\n");
        assert!(rewrite("A='x", &[(KEY_SCHEDULER, "scx_c")]).is_err());
    }

    #[test]
    fn unsafe_files_and_directories_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let chmod = |p: &Path, mode: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        let dir = std::env::temp_dir().join(format!("scx-config-safety-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        chmod(&dir, 0o755);
        let file = dir.join("scx");
        std::fs::write(&file, "SCX_SCHEDULER=scx_a\n").unwrap();
        chmod(&file, 0o644);
        check_file_safety(&file, euid()).unwrap();
        chmod(&file, 0o664);
        let err = check_file_safety(&file, euid()).unwrap_err();
        assert!(
            err.to_string()
                .contains("is writable by its group (mode 0664)"),
            "{err}"
        );
        assert_eq!(err.exit_code(), crate::codes::CONFIG_INSECURE);
        chmod(&file, 0o644);
        chmod(&dir, 0o777);
        let err = check_file_safety(&file, euid()).unwrap_err();
        assert!(
            err.to_string().contains(", which is writable by everyone"),
            "{err}"
        );
        chmod(&dir, 0o1777);
        check_file_safety(&file, euid()).unwrap();
        chmod(&dir, 0o755);
        if euid() == 0 {
            std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
            let err = check_file_safety(&file, 0).unwrap_err();
            assert!(
                err.to_string()
                    .contains("is owned by uid 65534, not by root"),
                "{err}"
            );
        }
        let err = check_file_safety(&dir.join("missing"), euid()).unwrap_err();
        assert_eq!(err.exit_code(), crate::codes::CONFIG_UNREADABLE);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn did_you_mean_distance() {
        assert_eq!(edit_distance("SCX_SCHEDUER", "SCX_SCHEDULER"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(closest("SCX_FLAG", FILE_KEYS, 2), Some("SCX_FLAGS"));
        assert_eq!(closest("HOME", FILE_KEYS, 2), None);
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
