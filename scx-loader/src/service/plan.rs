//! What the service runs: the configured scheduler and its fallback, resolved to binaries and
//! checked as far as possible without the kernel.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::{join_words, Config, Setting};
use crate::scheds::{self, Dirs};

/// What to run: a scheduler, its binary and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) name: String,
    pub(super) path: PathBuf,
    pub(super) flags: Vec<String>,
}

impl Target {
    pub(super) fn describe(&self) -> String {
        if self.flags.is_empty() {
            format!("{} running (default flags)", self.name)
        } else {
            format!("{} running (flags: {})", self.name, join_words(&self.flags))
        }
    }
}

/// The validated configuration: the scheduler and an optional fallback.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    pub(super) primary: Target,
    pub(super) fallback: Option<Target>,
}

/// Reads the configuration and checks everything that can be checked without the kernel.
pub(super) fn prepare(config_path: &Path, dirs: &Dirs) -> Result<Plan> {
    let config = Config::load(config_path, &|k| std::env::var(k).ok())?;
    for w in &config.warnings {
        log::warn!("{w}");
    }
    let (name, path) = crate::profiles::chosen(&config, dirs)?;
    let name = &name;
    let flags = config.arguments();
    if let Some(w) = scheds::check_flags(name, &path, &flags, &config.flags.origin.to_string())? {
        log::warn!("{w}");
    }
    let fallback = match &config.fallback {
        Some(Setting { value, origin }) if value != name => Some(Target {
            name: value.clone(),
            path: dirs.resolve(value, &origin.to_string())?,
            flags: Vec::new(),
        }),
        _ => None,
    };
    Ok(Plan {
        primary: Target {
            name: name.clone(),
            path,
            flags,
        },
        fallback,
    })
}
