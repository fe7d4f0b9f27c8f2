//! What the service runs: the configured scheduler and its fallback, resolved to binaries and
//! checked as far as possible without the kernel.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::{join_words, Config, Setting};
use crate::power::{self, Choice, Power};
use crate::scheds::{self, Dirs};

/// What to run: a scheduler, its binary and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) name: String,
    pub(super) path: PathBuf,
    pub(super) flags: Vec<String>,
}

impl Target {
    /// The profile its arguments name (`--profile NAME`), if any.
    pub(super) fn profile(&self) -> Option<&str> {
        let at = self.flags.iter().position(|f| f == "--profile")?;
        self.flags.get(at + 1).map(String::as_str)
    }

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
    /// With `SCX_PROFILE=auto`: what builds the primary target for each power state.
    pub(super) auto: Option<AutoPlan>,
}

/// `SCX_PROFILE=auto`: the configuration and the primary scheduler's profiles.
#[derive(Debug, Clone)]
pub(super) struct AutoPlan {
    config: Config,
    offered: Vec<String>,
}

impl Plan {
    /// What `auto` runs in `power`.
    pub(super) fn choose(&self, power: &Power) -> Option<Choice> {
        let auto = self.auto.as_ref()?;
        Some(power::choose(power, &self.primary.name, &auto.offered))
    }

    /// The primary scheduler with the profile of `choice`.
    pub(super) fn primary_for(&self, choice: &Choice) -> Target {
        let mut target = self.primary.clone();
        if let Some(auto) = &self.auto {
            target.flags = auto.config.arguments_with(choice.profile.as_deref());
        }
        target
    }
}

/// Reads the configuration and checks everything that can be checked without the kernel.
/// With `SCX_PROFILE=auto` the primary target has the profile `power` asks for (none yet
/// known: the scheduler's defaults), which is returned too.
pub(super) fn prepare(
    config_path: &Path,
    dirs: &Dirs,
    power: Option<&Power>,
) -> Result<(Plan, Option<Choice>)> {
    let config = Config::load(config_path, &|k| std::env::var(k).ok())?;
    for w in &config.warnings {
        log::warn!("{w}");
    }
    plan_for(&config, dirs, power)
}

/// The plan for `config` (read from the file, or made up for a bus call), checked as
/// [`prepare`] checks it.
pub(super) fn plan_for(
    config: &Config,
    dirs: &Dirs,
    power: Option<&Power>,
) -> Result<(Plan, Option<Choice>)> {
    let (name, path) = crate::profiles::chosen(config, dirs)?;
    let name = &name;
    let auto = config.is_auto().then(|| AutoPlan {
        config: config.clone(),
        offered: crate::profiles::profiles_of(&path),
    });
    let choice = auto.as_ref().map(|a| {
        let unknown = Power::Unknown("the power state is not known yet".into());
        power::choose(power.unwrap_or(&unknown), name, &a.offered)
    });
    let flags = config.arguments_with(match &choice {
        Some(c) => c.profile.as_deref(),
        None => config.profile.as_ref().map(|p| p.value.as_str()),
    });
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
    let plan = Plan {
        primary: Target {
            name: name.clone(),
            path,
            flags,
        },
        fallback,
        auto,
    };
    Ok((plan, choice))
}
