//! The service's side of the bus: carrying out the calls (start or switch by hot-swap, stop,
//! restart, restore the configured default) and the snapshot of its state it publishes after
//! every change, once the change has happened.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::plan::{plan_for, Plan};
use super::{Mode, Service};
use crate::bus::{self, CallError, Failure, How, Request, Snapshot};
use crate::codes;
use crate::config::{join_words, Config, Origin, Setting};
use crate::scheds::Dirs;

/// The kind of failure `err` is, for a D-Bus error name: the one its exit code says.
pub(super) fn classify(err: &anyhow::Error) -> CallError {
    let kind = match crate::exit::code_of(err) {
        codes::BAD_SCHEDULER | codes::NO_SCHEDULER => Failure::InvalidScheduler,
        codes::BAD_FLAGS => Failure::FlagsRejected,
        codes::BAD_PROFILE => Failure::InvalidMode,
        codes::CONFIG_UNREADABLE
        | codes::CONFIG_SYNTAX
        | codes::CONFIG_UNKNOWN_KEY
        | codes::CONFIG_INSECURE => Failure::ConfigInvalid,
        _ => Failure::Failed,
    };
    CallError::new(kind, format!("{err:#}"))
}

/// The scheduler a plan runs and its mode: what `DefaultScheduler` and `DefaultMode` show.
pub(super) fn defaults_of(plan: &Plan) -> (String, u32) {
    let mode = match plan.auto {
        Some(_) => 0,
        None => bus::profile_mode(plan.primary.profile()),
    };
    (plan.primary.name.clone(), mode)
}

/// How often the service looks whether schedulers were installed or removed.
const INSTALLED_CHECK: Duration = Duration::from_secs(5);

/// Each installed scheduler and its profiles, with when the list was last compared with the
/// scheduler directories.
pub(super) struct Installed {
    pub(super) profiles: BTreeMap<String, Vec<String>>,
    checked: Instant,
}

impl Installed {
    pub(super) fn read(dirs: &Dirs) -> Installed {
        let mut installed = Installed {
            profiles: BTreeMap::new(),
            checked: Instant::now(),
        };
        installed.update(dirs);
        installed
    }

    /// Compares the list with the directories (a read of each, no process) and asks only
    /// newly installed schedulers for their profiles.
    fn update(&mut self, dirs: &Dirs) {
        self.checked = Instant::now();
        let now = dirs.list();
        self.profiles
            .retain(|name, _| now.iter().any(|i| i.name == *name));
        for i in now {
            self.profiles
                .entry(i.name)
                .or_insert_with(|| crate::profiles::profiles_of(&i.path));
        }
    }

    /// [`Installed::update`], at most every [`INSTALLED_CHECK`] unless `now`.
    pub(super) fn refresh(&mut self, dirs: &Dirs, now: bool) {
        if now || self.checked.elapsed() >= INSTALLED_CHECK {
            self.update(dirs);
        }
    }
}

impl Service {
    /// What the bus shows now.
    fn snapshot(&self) -> Snapshot {
        let (current, args) = match &self.mode {
            // Ours only while the kernel runs it: not while it is being ejected.
            Mode::Running {
                child,
                mismatch_since: None,
            } => (child.target.name.clone(), child.target.flags.clone()),
            _ => ("unknown".to_string(), Vec::new()),
        };
        let mode = match (&self.auto, &self.mode) {
            (Some(_), _) => 0,
            (None, Mode::Running { child, .. }) => bus::profile_mode(child.target.profile()),
            (None, _) => 0,
        };
        let state = self.phase.unwrap_or(match &self.mode {
            Mode::Running { .. } if self.on_fallback => "fallback",
            Mode::Running { .. } => "running",
            Mode::Backoff { .. } => "restarting",
            Mode::Idle => "stopped",
        });
        Snapshot {
            current,
            mode,
            args,
            default_scheduler: self.defaults.0.clone(),
            default_mode: self.defaults.1,
            state: state.to_string(),
            last_exit: self.last_exit.clone(),
            profiles: self.installed.profiles.clone(),
        }
    }

    /// Shows the state on the bus, announcing what changed.
    pub(super) fn publish(&mut self) {
        if self.bus.is_some() {
            self.installed.refresh(&self.dirs, false);
            let snapshot = self.snapshot();
            if let Some(bus) = &mut self.bus {
                bus.publish(&snapshot);
            }
        }
    }

    /// Carries out the calls that wait, publishing each outcome before answering it.
    pub(super) fn take_calls(&mut self) {
        while let Some(call) = self.bus.as_ref().and_then(bus::Server::next_call) {
            log::info!("D-Bus: {} called", call.method);
            // A scheduler installed a moment ago is named in the answer's messages.
            self.installed.refresh(&self.dirs, true);
            let result = self.carry_out(call.method, &call.request);
            if let Err(e) = &result {
                log::warn!("D-Bus: {} failed: {}", call.method, e.message);
            }
            self.publish();
            call.answer(result);
        }
    }

    fn carry_out(&mut self, method: &'static str, request: &Request) -> Result<(), CallError> {
        match request {
            Request::Switch { name, how } => self.switch_to(method, name, how),
            Request::Stop => {
                self.stop_child();
                self.set_status(format!(
                    "stopped by {method} on the bus; the kernel runs EEVDF (RestoreDefault or systemctl reload scx starts the configured scheduler)"
                ));
                Ok(())
            }
            Request::Restart => {
                let target = match &self.mode {
                    Mode::Running { child, .. } => child.target.clone(),
                    Mode::Backoff { target, .. } => target.clone(),
                    Mode::Idle => self.plan.primary.clone(),
                };
                let mut plan = self.plan.clone();
                plan.primary = target;
                self.run_plan(method, plan)
            }
            Request::RestoreDefault => match self.apply_config(method, &format!("{method} failed"))
            {
                Ok(status) => {
                    self.set_status(status);
                    Ok(())
                }
                Err((e, status)) => {
                    self.set_status(status);
                    Err(e)
                }
            },
        }
    }

    /// Starts `name` as `how` says, in place of what runs.
    fn switch_to(&mut self, method: &'static str, name: &str, how: &How) -> Result<(), CallError> {
        let origin = Origin::Bus(method);
        let setting = |value: &str| Setting {
            value: value.to_string(),
            origin: origin.clone(),
        };
        let (profile, words) = match how {
            How::Mode(m) => (bus::mode_profile(*m), Vec::new()),
            How::Args(args) => (None, args.clone()),
        };
        let config = Config {
            path: self.opts.config.clone(),
            scheduler: Some(setting(name)),
            flags: setting(&join_words(&words)),
            flag_words: words,
            fallback: None,
            profile: profile.map(setting),
            warnings: Vec::new(),
        };
        let had_auto = self.auto.is_some();
        let power = config.is_auto().then(|| self.watch_power());
        let planned = plan_for(&config, &self.dirs, power.as_ref());
        let (mut plan, choice) = match planned {
            Ok(planned) => planned,
            Err(err) => {
                if !had_auto && config.is_auto() {
                    self.auto = None;
                }
                return Err(classify(&err));
            }
        };
        plan.fallback = self.plan.fallback.clone();
        let outcome = self.run_plan(method, plan);
        match &outcome {
            Ok(()) => {
                self.follow_auto(choice, &format!("{method}: running"));
                let status = self.describe(&self.plan.primary);
                self.set_status(status);
            }
            Err(_) if !had_auto => self.auto = None,
            Err(_) => {}
        }
        outcome
    }

    /// Runs `plan` by hot-swap; the one before runs again when it does not come up.
    fn run_plan(&mut self, method: &'static str, plan: Plan) -> Result<(), CallError> {
        let (ok, status) = self.swap(
            plan,
            &format!("{method}: switched"),
            &format!("{method} failed"),
        );
        self.set_status(status.clone());
        if ok {
            Ok(())
        } else {
            Err(CallError::new(Failure::AttachFailed, status))
        }
    }
}
