//! Where the loader's messages go: the journal (with `SCX_*` fields) when systemd connected our
//! stderr to it, plain `scx-loader: error: …` lines on stderr otherwise; and relaying a
//! scheduler's own output lines with the scheduler's name and the priority its prefix implies.

use log::{Level, Record};
use systemd_journal_logger::JournalLog;

/// The syslog identifier and stderr prefix of the loader.
pub const NAME: &str = "scx-loader";

/// Whether our stderr is the journal (`$JOURNAL_STREAM` names it).
pub fn to_journal() -> bool {
    scx_core::logging::to_journal()
}

/// Installs the logger: journal when connected to it, stderr otherwise.
pub fn init(verbose: u8) {
    scx_core::logging::init_with(NAME, verbose, &[]);
}

/// Relays a scheduler's output lines: into the journal under the scheduler's own name (with
/// `SCX_SCHEDULER=`), or unchanged to our stderr.
pub struct Relay {
    journal: Option<JournalLog>,
    name: String,
}

impl Relay {
    pub fn new(name: &str) -> Relay {
        let journal = to_journal()
            .then(|| JournalLog::new().ok())
            .flatten()
            .map(|j| {
                j.with_syslog_identifier(name.to_string())
                    .add_extra_field("SCX_SCHEDULER", name)
            });
        Relay {
            journal,
            name: name.to_string(),
        }
    }

    /// Passes one line on.
    pub fn line(&self, line: &str) {
        match &self.journal {
            Some(journal) => {
                let level = line_level(&self.name, line);
                let _ = journal.journal_send(
                    &Record::builder()
                        .level(level)
                        .target(&self.name)
                        .args(format_args!("{line}"))
                        .build(),
                );
            }
            None => eprintln!("{line}"),
        }
    }
}

/// The priority a scheduler line carries in its prefix (`name: error: …`, clap's `error: …`).
pub fn line_level(name: &str, line: &str) -> Level {
    let rest = line
        .strip_prefix(name)
        .and_then(|r| r.strip_prefix(": "))
        .unwrap_or(line);
    if rest.starts_with("error:") {
        Level::Error
    } else if rest.starts_with("warning:") {
        Level::Warn
    } else if rest.starts_with("debug:") {
        Level::Debug
    } else if rest.starts_with("trace:") {
        Level::Trace
    } else {
        Level::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_from_prefixes() {
        assert_eq!(line_level("scx_a", "scx_a: error: ejected"), Level::Error);
        assert_eq!(
            line_level("scx_a", "error: unexpected argument"),
            Level::Error
        );
        assert_eq!(line_level("scx_a", "scx_a: warning: x"), Level::Warn);
        assert_eq!(line_level("scx_a", "scx_a attached in 600 ms"), Level::Info);
    }
}
