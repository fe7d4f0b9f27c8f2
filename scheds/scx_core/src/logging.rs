//! Logging for the project's binaries: into the journal (under the program's name, with extra
//! `SCX_*` fields) when systemd connected stderr to it, otherwise one `name: level: message` line
//! per record on stderr; libbpf's own messages are routed through the same logger.

use std::collections::VecDeque;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use systemd_journal_logger::JournalLog;

struct StderrLogger {
    name: &'static str,
    level: LevelFilter,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let prefix = match record.level() {
            Level::Error => "error: ",
            Level::Warn => "warning: ",
            Level::Info => "",
            Level::Debug => "debug: ",
            Level::Trace => "trace: ",
        };
        eprintln!("{}: {prefix}{}", self.name, record.args());
    }

    fn flush(&self) {}
}

/// libbpf's recent warnings, for explaining a failed load in words.
static LIBBPF_WARNINGS: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());
const KEPT_WARNINGS: usize = 64;

/// Takes the warnings libbpf printed since the last call.
pub fn take_libbpf_warnings() -> Vec<String> {
    match LIBBPF_WARNINGS.lock() {
        Ok(mut kept) => kept.drain(..).collect(),
        Err(_) => Vec::new(),
    }
}

fn libbpf_print(level: libbpf_rs::PrintLevel, msg: String) {
    let msg = msg.trim_end();
    if level == libbpf_rs::PrintLevel::Warn {
        if let Ok(mut kept) = LIBBPF_WARNINGS.lock() {
            if kept.len() == KEPT_WARNINGS {
                kept.pop_front();
            }
            kept.push_back(msg.to_string());
        }
    }
    match level {
        libbpf_rs::PrintLevel::Warn => log::warn!("libbpf: {msg}"),
        libbpf_rs::PrintLevel::Info => log::debug!("libbpf: {msg}"),
        libbpf_rs::PrintLevel::Debug => log::trace!("libbpf: {msg}"),
    }
}

/// Whether our stderr is the journal (`$JOURNAL_STREAM` names it). A scheduler started by
/// scx-loader writes into a pipe the loader relays, so this is false there.
pub fn to_journal() -> bool {
    systemd_journal_logger::connected_to_journal()
}

/// Installs the logger of a scheduler: its journal entries carry `SCX_SCHEDULER=<name>`.
pub fn init(name: &'static str, verbose: u8) {
    init_with(name, verbose, &[("SCX_SCHEDULER", name)]);
}

/// Installs the logger: journal (identifier `name`, the extra `fields`) when connected to it,
/// stderr otherwise; info and up by default, debug with `-v`, trace (including libbpf's debug
/// output) with `-vv`.
pub fn init_with(name: &'static str, verbose: u8, fields: &[(&str, &str)]) {
    let level = match verbose {
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let journal = to_journal()
        .then(|| JournalLog::new().ok())
        .flatten()
        .map(|j| {
            fields.iter().fold(
                j.with_syslog_identifier(name.to_string()),
                |j, (key, value)| j.add_extra_field(*key, *value),
            )
        });
    let installed = match journal {
        Some(journal) => log::set_boxed_logger(Box::new(journal)).is_ok(),
        None => log::set_boxed_logger(Box::new(StderrLogger { name, level })).is_ok(),
    };
    if installed {
        log::set_max_level(level);
    }
    let libbpf_level = match verbose {
        0 => libbpf_rs::PrintLevel::Warn,
        1 => libbpf_rs::PrintLevel::Info,
        _ => libbpf_rs::PrintLevel::Debug,
    };
    libbpf_rs::set_print(Some((libbpf_level, libbpf_print)));
}
