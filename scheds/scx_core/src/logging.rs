//! Logging for scheduler binaries: one line per record on stderr, prefixed with the program name,
//! and libbpf's own messages routed through the same logger.

use log::{Level, LevelFilter, Log, Metadata, Record};

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

fn libbpf_print(level: libbpf_rs::PrintLevel, msg: String) {
    let msg = msg.trim_end();
    match level {
        libbpf_rs::PrintLevel::Warn => log::warn!("libbpf: {msg}"),
        libbpf_rs::PrintLevel::Info => log::debug!("libbpf: {msg}"),
        libbpf_rs::PrintLevel::Debug => log::trace!("libbpf: {msg}"),
    }
}

/// Installs the logger: info and up by default, debug with `-v`, trace (including libbpf's debug
/// output) with `-vv`.
pub fn init(name: &'static str, verbose: u8) {
    let level = match verbose {
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let logger = Box::new(StderrLogger { name, level });
    if log::set_boxed_logger(logger).is_ok() {
        log::set_max_level(level);
    }
    let libbpf_level = match verbose {
        0 => libbpf_rs::PrintLevel::Warn,
        1 => libbpf_rs::PrintLevel::Info,
        _ => libbpf_rs::PrintLevel::Debug,
    };
    libbpf_rs::set_print(Some((libbpf_level, libbpf_print)));
}
