//! The two interfaces on `/org/scx/Loader`: `org.scx.Loader` (methods and properties as desktop
//! tools call them) and `org.scx.Loader.Status1` (the loader's state, last exit and profiles).
//! Properties read the published snapshot; methods are checked, authorized and handed to the
//! service's loop, and return once it has carried them out.

use std::sync::Arc;

use zbus::message::Header;
use zbus::{interface, Connection};

use super::auth::authorize;
use super::{mode_profile, CallError, Failure, How, Request, Shared, MODES};
use crate::config::valid_name;

pub const LOADER_INTERFACE: &str = "org.scx.Loader";
pub const STATUS_INTERFACE: &str = "org.scx.Loader.Status1";

/// The longest scheduler name, argument, and argument list a call may pass.
const MAX_NAME: usize = 64;
const MAX_ARG: usize = 256;
const MAX_ARGS: usize = 64;

/// The errors methods return, `org.scx.Loader.Error.*`, each with the CLI's one line.
#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.scx.Loader.Error")]
pub enum BusError {
    #[zbus(error)]
    ZBus(zbus::Error),
    /// The name is not a scheduler that is installed.
    InvalidScheduler(String),
    /// The mode is unknown, or the scheduler has no such profile.
    InvalidMode(String),
    /// The scheduler's `--check-args` refused the arguments.
    FlagsRejected(String),
    /// The scheduler did not attach; the one before runs again.
    AttachFailed(String),
    /// `/etc/default/scx` cannot be used (RestoreDefault).
    ConfigInvalid(String),
    /// Another call is being carried out.
    Busy(String),
    /// The caller may not manage the service.
    AccessDenied(String),
    Failed(String),
}

impl From<CallError> for BusError {
    fn from(e: CallError) -> BusError {
        let m = e.message;
        match e.kind {
            Failure::InvalidScheduler => BusError::InvalidScheduler(m),
            Failure::InvalidMode => BusError::InvalidMode(m),
            Failure::FlagsRejected => BusError::FlagsRejected(m),
            Failure::AttachFailed => BusError::AttachFailed(m),
            Failure::ConfigInvalid => BusError::ConfigInvalid(m),
            Failure::Failed => BusError::Failed(m),
        }
    }
}

/// Clears the in-flight method when a call ends, however it ends.
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        *self.0.in_flight() = None;
    }
}

/// Checks the caller, then hands `request` to the service and waits for its outcome.
async fn carry_out(
    shared: &Shared,
    connection: &Connection,
    header: &Header<'_>,
    method: &'static str,
    request: Request,
) -> Result<(), BusError> {
    authorize(connection, header, method).await?;
    check_request(&request)?;
    {
        let mut in_flight = shared.in_flight();
        if let Some(other) = *in_flight {
            return Err(BusError::Busy(format!(
                "{method}: {other} is still being carried out: call again once it has returned"
            )));
        }
        *in_flight = Some(method);
    }
    let _clear = InFlight(shared);
    let rx = shared.submit(method, request)?;
    match rx.recv().await {
        Ok(result) => result.map_err(BusError::from),
        Err(_) => Err(BusError::Failed(format!(
            "{method}: the service stopped before carrying it out"
        ))),
    }
}

/// What can be checked before the service sees a call: the name's form and the bounds.
fn check_request(request: &Request) -> Result<(), CallError> {
    let Request::Switch { name, how } = request else {
        return Ok(());
    };
    if name.len() > MAX_NAME || !valid_name(name) {
        return Err(CallError::new(
            Failure::InvalidScheduler,
            format!(
                "{:?} is not a scheduler name (scx_ and lower-case letters, digits or _): see SupportedSchedulers",
                name.chars().take(MAX_NAME).collect::<String>()
            ),
        ));
    }
    match how {
        How::Mode(m) if mode_profile(*m).is_none() => Err(CallError::new(
            Failure::InvalidMode,
            format!(
                "unknown mode {m}: the modes are {}",
                MODES
                    .iter()
                    .map(|(n, p)| format!("{n} ({p})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        How::Args(args) if args.len() > MAX_ARGS => Err(CallError::new(
            Failure::FlagsRejected,
            format!(
                "{} arguments for {name}: at most {MAX_ARGS} are accepted",
                args.len()
            ),
        )),
        How::Args(args) if args.iter().any(|a| a.len() > MAX_ARG) => Err(CallError::new(
            Failure::FlagsRejected,
            format!("an argument for {name} is over {MAX_ARG} bytes long"),
        )),
        _ => Ok(()),
    }
}

/// A start or switch to `name`.
fn switch(name: String, how: How) -> Request {
    Request::Switch { name, how }
}

/// `org.scx.Loader`.
pub struct Loader {
    shared: Arc<Shared>,
}

impl Loader {
    pub(super) fn new(shared: Arc<Shared>) -> Loader {
        Loader { shared }
    }

    async fn call(
        &self,
        connection: &Connection,
        header: &Header<'_>,
        method: &'static str,
        request: Request,
    ) -> Result<(), BusError> {
        carry_out(&self.shared, connection, header, method, request).await
    }

    fn known(&self, name: &str) -> Result<Vec<String>, BusError> {
        let snapshot = self.shared.snapshot();
        match snapshot.profiles.get(name) {
            Some(profiles) => Ok(profiles.clone()),
            None => Err(BusError::InvalidScheduler(format!(
                "scheduler {:?} is not installed: choose one of: {}",
                name.chars().take(MAX_NAME).collect::<String>(),
                snapshot.supported().join(", ")
            ))),
        }
    }
}

#[interface(name = "org.scx.Loader")]
impl Loader {
    async fn start_scheduler(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
        scx_name: String,
        sched_mode: u32,
    ) -> Result<(), BusError> {
        let request = switch(scx_name, How::Mode(sched_mode));
        self.call(connection, &header, "StartScheduler", request)
            .await
    }

    async fn start_scheduler_with_args(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
        scx_name: String,
        scx_args: Vec<String>,
    ) -> Result<(), BusError> {
        let request = switch(scx_name, How::Args(scx_args));
        self.call(connection, &header, "StartSchedulerWithArgs", request)
            .await
    }

    async fn switch_scheduler(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
        scx_name: String,
        sched_mode: u32,
    ) -> Result<(), BusError> {
        let request = switch(scx_name, How::Mode(sched_mode));
        self.call(connection, &header, "SwitchScheduler", request)
            .await
    }

    async fn switch_scheduler_with_args(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
        scx_name: String,
        scx_args: Vec<String>,
    ) -> Result<(), BusError> {
        let request = switch(scx_name, How::Args(scx_args));
        self.call(connection, &header, "SwitchSchedulerWithArgs", request)
            .await
    }

    async fn stop_scheduler(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), BusError> {
        self.call(connection, &header, "StopScheduler", Request::Stop)
            .await
    }

    async fn restart_scheduler(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), BusError> {
        self.call(connection, &header, "RestartScheduler", Request::Restart)
            .await
    }

    async fn restore_default(
        &self,
        #[zbus(connection)] connection: &Connection,
        #[zbus(header)] header: Header<'_>,
    ) -> Result<(), BusError> {
        let request = Request::RestoreDefault;
        self.call(connection, &header, "RestoreDefault", request)
            .await
    }

    /// The modes `scx_name` supports: 0 (auto) and one per profile it offers.
    async fn scheduler_modes(&self, scx_name: String) -> Result<Vec<u32>, BusError> {
        let profiles = self.known(&scx_name)?;
        Ok(MODES
            .iter()
            .filter(|(m, p)| *m == 0 || profiles.iter().any(|o| o == p))
            .map(|(m, _)| *m)
            .collect())
    }

    /// Each mode of `scx_name` with the arguments it starts the scheduler with (auto: none of
    /// its own, the loader adds the profile the power state asks for).
    async fn scheduler_mode_args(
        &self,
        scx_name: String,
    ) -> Result<Vec<(u32, Vec<String>)>, BusError> {
        let profiles = self.known(&scx_name)?;
        Ok(MODES
            .iter()
            .filter(|(m, p)| *m == 0 || profiles.iter().any(|o| o == p))
            .map(|(m, p)| {
                let args = if *m == 0 {
                    Vec::new()
                } else {
                    vec!["--profile".to_string(), p.to_string()]
                };
                (*m, args)
            })
            .collect())
    }

    #[zbus(property)]
    async fn current_scheduler(&self) -> String {
        self.shared.snapshot().current.clone()
    }

    #[zbus(property)]
    async fn scheduler_mode(&self) -> u32 {
        self.shared.snapshot().mode
    }

    #[zbus(property)]
    async fn current_scheduler_args(&self) -> Vec<String> {
        self.shared.snapshot().args.clone()
    }

    #[zbus(property)]
    async fn supported_schedulers(&self) -> Vec<String> {
        self.shared.snapshot().supported()
    }

    #[zbus(property)]
    async fn default_scheduler(&self) -> String {
        self.shared.snapshot().default_scheduler.clone()
    }

    #[zbus(property)]
    async fn default_mode(&self) -> u32 {
        self.shared.snapshot().default_mode
    }
}

/// `org.scx.Loader.Status1`.
pub struct Status {
    shared: Arc<Shared>,
}

impl Status {
    pub(super) fn new(shared: Arc<Shared>) -> Status {
        Status { shared }
    }
}

#[interface(name = "org.scx.Loader.Status1")]
impl Status {
    /// starting, running, reloading, restarting, fallback, stopped or failed.
    #[zbus(property)]
    async fn state(&self) -> String {
        self.shared.snapshot().state.clone()
    }

    /// The last ejection or crash: its kind (`SCX_EXIT_KIND`), how it ended, and the report.
    #[zbus(property)]
    async fn last_exit(&self) -> (String, String, String) {
        self.shared.snapshot().last_exit.clone()
    }

    /// Each installed scheduler and the profiles it offers.
    #[zbus(property)]
    async fn profiles(&self) -> std::collections::HashMap<String, Vec<String>> {
        self.shared
            .snapshot()
            .profiles
            .clone()
            .into_iter()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn switch(name: &str, how: How) -> Request {
        Request::Switch {
            name: name.into(),
            how,
        }
    }

    #[test]
    fn calls_are_bounded_before_the_service_sees_them() {
        assert!(check_request(&switch("scx_bpfland", How::Mode(5))).is_ok());
        let bad = check_request(&switch("/bin/sh", How::Mode(0))).unwrap_err();
        assert_eq!(bad.kind, Failure::InvalidScheduler);
        let bad = check_request(&switch("scx_bpfland", How::Mode(9))).unwrap_err();
        assert_eq!(bad.kind, Failure::InvalidMode);
        assert!(bad.message.contains("4 (server)"), "{}", bad.message);
        let many = How::Args(vec!["-v".into(); MAX_ARGS + 1]);
        assert_eq!(
            check_request(&switch("scx_bpfland", many))
                .unwrap_err()
                .kind,
            Failure::FlagsRejected
        );
        let long = How::Args(vec!["x".repeat(MAX_ARG + 1)]);
        assert_eq!(
            check_request(&switch("scx_bpfland", long))
                .unwrap_err()
                .kind,
            Failure::FlagsRejected
        );
        assert!(check_request(&Request::Stop).is_ok());
    }
}
