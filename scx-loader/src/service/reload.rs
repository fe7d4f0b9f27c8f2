//! SIGHUP: re-reading the configuration and swapping schedulers, keeping the old one when the
//! new one does not come up, and recording each reload's outcome for `scx-loader reload`.

use std::path::PathBuf;
use std::time::Instant;

use super::calls::{classify, defaults_of};
use super::child::start;
use super::plan::{prepare, Plan};
use super::{Mode, Service};
use crate::bus::{CallError, Failure};

/// The directory systemd created for the service (`RuntimeDirectory=scx`).
pub fn runtime_dir() -> PathBuf {
    std::env::var("RUNTIME_DIRECTORY")
        .ok()
        .and_then(|d| d.split(':').next().map(PathBuf::from))
        .filter(|d| d.is_absolute())
        .unwrap_or_else(|| PathBuf::from("/run/scx"))
}

/// The file in which the service reports each finished reload: `COUNT ok|failed STATUS`.
pub const RELOAD_FILE: &str = "reload";

/// Reports a finished reload for `scx-loader reload` (which ExecReload runs) to pick up.
fn record_reload(count: u64, ok: bool, status: &str) {
    let dir = runtime_dir();
    // systemd creates RuntimeDirectory= for scx.service; other units (the snap's) do not.
    if let Err(e) = std::fs::create_dir_all(&dir) {
        log::warn!(
            "cannot create {} (reloads cannot report their outcome): {e}",
            dir.display()
        );
    }
    let path = dir.join(RELOAD_FILE);
    let tmp = dir.join(format!(".{RELOAD_FILE}.tmp"));
    let verdict = if ok { "ok" } else { "failed" };
    let result = std::fs::write(&tmp, format!("{count} {verdict} {status}\n"))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(e) = result {
        log::debug!("cannot record the reload in {}: {e}", path.display());
    }
}

impl Service {
    /// SIGHUP: re-read the configuration; swap schedulers if it changed, keeping the old one if
    /// the new one does not come up.
    pub(super) fn reload(&mut self) {
        self.notifier.reloading("reloading the configuration");
        let (ok, status) = match self.apply_config("reloaded", "reload failed") {
            Ok(status) => (true, status),
            Err((_, status)) => (false, status),
        };
        self.status = status.clone();
        self.publish();
        self.notifier.ready(&status);
        self.reloads += 1;
        record_reload(self.reloads, ok, &status);
    }

    /// Reads the configuration and runs what it says (a reload, or RestoreDefault on the bus).
    /// Returns the status to show, or why it did not take and the status to show then. `done`
    /// and `failed` begin the log lines of either outcome.
    pub(super) fn apply_config(
        &mut self,
        done: &str,
        failed: &str,
    ) -> Result<String, (CallError, String)> {
        let power = self.auto.as_ref().map(|a| a.power.clone());
        let (plan, choice) = match prepare(&self.opts.config, &self.dirs, power.as_ref()) {
            Ok(prepared) => prepared,
            Err(err) => {
                log::error!("{failed}: {err:#}");
                let status = format!("{failed}: {err:#}; {}", self.running_status());
                return Err((classify(&err), status));
            }
        };
        self.defaults = defaults_of(&plan);
        self.installed.refresh(&self.dirs, true);
        let running_same = match &self.mode {
            Mode::Running { child, .. } => child.target == plan.primary,
            _ => false,
        };
        if running_same {
            log::info!(
                "configuration unchanged; {} keeps running",
                plan.primary.name
            );
            self.plan = plan;
            self.on_fallback = false;
            self.follow_auto(choice, &format!("{done} with"));
            return Ok(self.describe(&self.plan.primary));
        }
        let (ok, status) = self.swap(plan, done, failed);
        if !ok {
            return Err((
                CallError::new(Failure::AttachFailed, status.clone()),
                status,
            ));
        }
        self.follow_auto(choice, &format!("{done} with"));
        Ok(self.describe(&self.plan.primary))
    }

    /// Replaces the running scheduler with `plan`'s; if it does not come up, starts the old
    /// one again. Returns whether the new one runs, and the status to show. `done` and
    /// `failed` begin the log lines of either outcome.
    pub(super) fn swap(&mut self, plan: Plan, done: &str, failed: &str) -> (bool, String) {
        self.phase = Some("reloading");
        self.publish();
        let outcome = self.swap_to(plan, done, failed);
        self.phase = None;
        outcome
    }

    fn swap_to(&mut self, plan: Plan, done: &str, failed: &str) -> (bool, String) {
        let old = self.stop_child();
        let new = plan.primary.clone();
        match start(
            &new,
            self.opts.attach_timeout,
            &self.signals,
            &self.notifier,
        ) {
            Ok(child) => {
                log::info!(scx_scheduler = new.name.as_str(); "{done}: {}", new.describe());
                self.plan = plan;
                self.on_fallback = false;
                self.failures.clear();
                self.mode = Mode::Running {
                    child,
                    mismatch_since: None,
                };
                (true, new.describe())
            }
            Err(failure) => {
                let kind = failure.ending().map(|e| e.kind).unwrap_or("start-failed");
                log::error!(
                    scx_scheduler = new.name.as_str(), scx_exit_kind = kind;
                    "{failed}: {failure}"
                );
                let status = match old {
                    Some(old) => match start(
                        &old,
                        self.opts.attach_timeout,
                        &self.signals,
                        &self.notifier,
                    ) {
                        Ok(child) => {
                            log::warn!(
                                scx_scheduler = old.name.as_str();
                                "{} runs again after the failure", old.name
                            );
                            let s = format!("{failed}: {failure}; {} again", old.describe());
                            self.mode = Mode::Running {
                                child,
                                mismatch_since: None,
                            };
                            s
                        }
                        Err(again) => {
                            log::error!(
                                scx_scheduler = old.name.as_str();
                                "{} did not start again either: {again}", old.name
                            );
                            self.mode = Mode::Backoff {
                                target: old.clone(),
                                until: Instant::now() + self.opts.first_backoff,
                            };
                            format!(
                                "{failed}: {failure}; {} did not start again: {again}; retrying",
                                old.name
                            )
                        }
                    },
                    None => format!("{failed}: {failure}; nothing running"),
                };
                (false, status)
            }
        }
    }
}
