//! `SCX_PROFILE=auto`: following the machine's power state and switching the scheduler's profile
//! by hot-swap when it asks for another one, at most once per [`DEBOUNCE`], each switch logged
//! with its reason (`SCX_PROFILE=`, `SCX_PROFILE_REASON=`) and recorded for `scx-loader status`.

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use super::plan::{Plan, Target};
use super::reload::runtime_dir;
use super::{Mode, Service};
use crate::power::{self, Choice, Power};

/// The shortest time between two switches: a power state that flaps does not make the
/// scheduler restart each time.
pub(super) const DEBOUNCE: Duration = Duration::from_secs(10);

/// What `auto` follows and what it chose.
pub(super) struct AutoState {
    rx: Receiver<Power>,
    /// The latest power state.
    pub(super) power: Power,
    /// What runs now.
    choice: Choice,
    last_switch: Option<Instant>,
    /// A choice whose switch failed: not tried again until the power state asks for another.
    refused: Option<Choice>,
}

impl AutoState {
    /// Starts following the power state, waiting up to [`power::FIRST_READING`] for the first
    /// reading; `choice` is what runs (or is about to).
    fn start(choice: Choice) -> AutoState {
        let (rx, power) = match power::watch() {
            Ok(rx) => {
                let first = rx.recv_timeout(power::FIRST_READING).unwrap_or_else(|_| {
                    Power::Unknown(format!(
                        "no power state within {} s",
                        power::FIRST_READING.as_secs()
                    ))
                });
                (rx, first)
            }
            Err(e) => {
                log::warn!("auto profile: cannot follow the power state: {e}");
                let (_gone, rx) = std::sync::mpsc::channel();
                (
                    rx,
                    Power::Unknown(format!("cannot follow the power state: {e}")),
                )
            }
        };
        AutoState {
            rx,
            power,
            choice,
            last_switch: None,
            refused: None,
        }
    }
}

/// At start: with `auto`, reads the power state and makes `plan`'s primary target the profile
/// it asks for.
pub(super) fn start(plan: &mut Plan) -> Option<AutoState> {
    let initial = plan.choose(&Power::Unknown(String::new()))?;
    let mut auto = AutoState::start(initial);
    if let Some(choice) = plan.choose(&auto.power) {
        plan.primary = plan.primary_for(&choice);
        auto.choice = choice;
    }
    chose(&plan.primary.name, &auto.choice, "starting with");
    Some(auto)
}

/// Logs and records what `auto` runs.
fn chose(name: &str, choice: &Choice, what: &str) {
    let profile = profile_name(choice);
    log::info!(
        scx_scheduler = name, scx_profile = profile, scx_profile_reason = choice.reason.as_str();
        "auto profile: {what} {name} {profile}: {}",
        choice.reason
    );
    power::record(&runtime_dir(), choice);
}

/// A status line followed by what `auto` chose and why.
fn with_choice(status: String, choice: &Choice) -> String {
    format!(
        "{status}; auto profile {}: {}",
        profile_name(choice),
        choice.reason
    )
}

/// `powersave`, or `default` for the scheduler's own defaults.
fn profile_name(choice: &Choice) -> &str {
    choice.profile.as_deref().unwrap_or("default")
}

impl Service {
    /// The status line for `target`, with what `auto` chose and why.
    pub(super) fn describe(&self, target: &Target) -> String {
        match &self.auto {
            Some(a) => with_choice(target.describe(), &a.choice),
            None => target.describe(),
        }
    }

    /// The power state `auto` follows, starting to follow it when nothing does yet (a bus
    /// call asking for auto).
    pub(super) fn watch_power(&mut self) -> Power {
        let auto = self.auto.get_or_insert_with(|| {
            AutoState::start(Choice {
                profile: None,
                reason: String::new(),
            })
        });
        auto.power.clone()
    }

    /// After a reload or a switch (`what` says which): `choice` is what now runs (None: it is
    /// not `auto`).
    pub(super) fn follow_auto(&mut self, choice: Option<Choice>, what: &str) {
        match (choice, &mut self.auto) {
            (None, _) => {
                if self.auto.take().is_some() {
                    let _ = std::fs::remove_file(runtime_dir().join(power::AUTO_FILE));
                }
            }
            (Some(choice), Some(auto)) => {
                auto.choice = choice;
                auto.refused = None;
                chose(&self.plan.primary.name, &auto.choice, what);
            }
            (Some(choice), None) => {
                let auto = AutoState::start(choice);
                chose(&self.plan.primary.name, &auto.choice, what);
                self.auto = Some(auto);
            }
        }
    }

    /// Takes in the power state's changes and switches when it asks for another profile.
    /// Returns how long until a switch held back by [`DEBOUNCE`] is due.
    pub(super) fn follow_power(&mut self) -> Option<Duration> {
        let mut auto = self.auto.take()?;
        while let Ok(p) = auto.rx.try_recv() {
            auto.power = p;
        }
        let wait = self.step(&mut auto);
        self.auto = Some(auto);
        wait
    }

    fn step(&mut self, auto: &mut AutoState) -> Option<Duration> {
        let want = self.plan.choose(&auto.power)?;
        if want == auto.choice || auto.refused.as_ref() == Some(&want) {
            return None;
        }
        auto.refused = None;
        if want.profile == auto.choice.profile {
            // The same profile for another reason (mains to unknown, say): nothing to swap.
            auto.choice = want;
            power::record(&runtime_dir(), &auto.choice);
            return None;
        }
        let now = Instant::now();
        if let Some(due) = auto.last_switch.map(|t| t + DEBOUNCE).filter(|d| *d > now) {
            return Some(due - now);
        }
        auto.last_switch = Some(now);
        let target = self.plan.primary_for(&want);
        let (name, profile) = (target.name.clone(), profile_name(&want).to_string());
        log::info!(
            scx_scheduler = name.as_str(), scx_profile = profile.as_str(),
            scx_profile_reason = want.reason.as_str();
            "auto profile: switching {name} to {profile}: {}",
            want.reason
        );
        let ok = match &mut self.mode {
            Mode::Running { .. } => {
                let mut plan = self.plan.clone();
                plan.primary = target;
                let (ok, status) = self.swap(
                    plan,
                    "auto profile: switched",
                    "auto profile: switch failed",
                );
                if !ok {
                    self.set_status(status);
                }
                ok
            }
            // Restarting after a failure: the restart takes the new profile.
            Mode::Backoff { target: t, .. } if !self.on_fallback => {
                *t = target.clone();
                self.plan.primary = target;
                true
            }
            _ => {
                self.plan.primary = target;
                true
            }
        };
        if ok {
            auto.choice = want;
            power::record(&runtime_dir(), &auto.choice);
            let status = match &self.mode {
                Mode::Running { child, .. } => child.target.describe(),
                _ => self.status.clone(),
            };
            self.set_status(with_choice(status, &auto.choice));
        } else {
            log::warn!(
                scx_scheduler = name.as_str();
                "auto profile: {name} keeps its {} profile until the power state changes again",
                profile_name(&auto.choice)
            );
            auto.refused = Some(want);
        }
        None
    }
}
