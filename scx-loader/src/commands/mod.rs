//! The inspection and editing commands, with text and JSON output: `check` (can this machine and
//! configuration run), `status` and `list` (what runs and what is installed), `set` and `reload`
//! (changing what runs), `monitor` (the service's announcements on the bus). This module holds what they share.

mod check;
mod monitor;
mod set;
mod status;

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use scx_core::kernel;
use serde::Serialize;

use crate::config;
use crate::scheds::Dirs;

pub use check::check;
pub use monitor::monitor;
pub use set::{reload, set};
pub use status::{list, status};

const SYSFS: &str = kernel::SCHED_EXT_SYSFS;

pub(super) fn dirs() -> Dirs {
    let (dirs, warning) = Dirs::from_env();
    if let Some(w) = warning {
        log::warn!("{w}");
    }
    dirs
}

pub(super) fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

pub(super) fn print_json(value: &impl Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).context("writing JSON")?;
    writeln!(out).context("writing to stdout")?;
    Ok(())
}

pub(super) fn read_sysfs(rel: &str) -> Option<String> {
    std::fs::read_to_string(Path::new(SYSFS).join(rel))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The flags as the configuration would write them, or a note that there are none.
pub(super) fn display_flags(words: &[String]) -> String {
    if words.is_empty() {
        "(none)".to_string()
    } else {
        config::join_words(words)
    }
}
