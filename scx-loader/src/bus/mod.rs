//! The service on the system bus: `org.scx.Loader` at `/org/scx/Loader` (the interface desktop
//! tools speak) and `org.scx.Loader.Status1` (the loader's own state), what the service
//! publishes there, and the calls it hands to the service's loop. The service owns the state;
//! this module only carries it.

mod auth;
pub mod client;
mod iface;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard};

use zbus::blocking::Connection;
use zbus::zvariant::Value;

pub use iface::{LOADER_INTERFACE, STATUS_INTERFACE};

/// The well-known name and the object.
pub const NAME: &str = "org.scx.Loader";
pub const PATH: &str = "/org/scx/Loader";

/// The interface's mode numbers, by profile name: 0 is `auto` (follow the power state).
pub const MODES: &[(u32, &str)] = &[
    (0, crate::config::AUTO),
    (1, "gaming"),
    (2, "powersave"),
    (3, "lowlatency"),
    (4, "server"),
    (5, "hpc"),
];

/// The profile of mode `mode`, if there is one.
pub fn mode_profile(mode: u32) -> Option<&'static str> {
    MODES.iter().find(|(m, _)| *m == mode).map(|(_, p)| *p)
}

/// The mode of profile `profile` (0 for the scheduler's defaults or `auto`).
pub fn profile_mode(profile: Option<&str>) -> u32 {
    profile
        .and_then(|p| MODES.iter().find(|(_, name)| *name == p))
        .map_or(0, |(m, _)| *m)
}

/// What the service shows on the bus; every change is announced with PropertiesChanged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// The scheduler the kernel runs, `unknown` when none of ours is attached.
    pub current: String,
    pub mode: u32,
    pub args: Vec<String>,
    pub default_scheduler: String,
    pub default_mode: u32,
    /// starting, running, reloading, restarting, fallback, stopped or failed.
    pub state: String,
    /// The last ejection or crash: kind, reason, message (empty strings before the first).
    pub last_exit: (String, String, String),
    /// Each installed scheduler and its profiles.
    pub profiles: BTreeMap<String, Vec<String>>,
}

impl Snapshot {
    /// The installed schedulers (`SupportedSchedulers`).
    pub fn supported(&self) -> Vec<String> {
        self.profiles.keys().cloned().collect()
    }

    /// Each property of `interface` by its bus name.
    fn properties(&self, interface: &str) -> Vec<(&'static str, Value<'static>)> {
        if interface == LOADER_INTERFACE {
            vec![
                ("CurrentScheduler", Value::from(self.current.clone())),
                ("SchedulerMode", Value::from(self.mode)),
                ("CurrentSchedulerArgs", Value::from(self.args.clone())),
                ("SupportedSchedulers", Value::from(self.supported())),
                (
                    "DefaultScheduler",
                    Value::from(self.default_scheduler.clone()),
                ),
                ("DefaultMode", Value::from(self.default_mode)),
            ]
        } else {
            let profiles: HashMap<String, Vec<String>> =
                self.profiles.clone().into_iter().collect();
            vec![
                ("State", Value::from(self.state.clone())),
                ("LastExit", Value::from(self.last_exit.clone())),
                ("Profiles", Value::from(profiles)),
            ]
        }
    }
}

/// How a start or switch names what to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// A mode number (a profile, or 0 for auto).
    Mode(u32),
    /// The scheduler's own arguments.
    Args(Vec<String>),
}

/// What a caller asks the service to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Start or switch to `name` (the same hot-swap: the old one runs on if the new one fails).
    Switch {
        name: String,
        how: How,
    },
    Stop,
    Restart,
    RestoreDefault,
}

/// The kinds of failure the service reports for a call, one D-Bus error name each (busy and
/// access denied are decided before the service sees a call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    InvalidScheduler,
    InvalidMode,
    FlagsRejected,
    AttachFailed,
    ConfigInvalid,
    Failed,
}

/// A failed call: its kind and the one line the CLI would print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    pub kind: Failure,
    pub message: String,
}

impl CallError {
    pub fn new(kind: Failure, message: impl Into<String>) -> CallError {
        CallError {
            kind,
            message: message.into(),
        }
    }
}

/// A call waiting for the service's loop: carry it out, then [`Call::answer`].
#[derive(Debug)]
pub struct Call {
    /// The method, for log lines.
    pub method: &'static str,
    pub request: Request,
    reply: async_channel::Sender<Result<(), CallError>>,
}

impl Call {
    /// Returns the outcome to the caller (who may have gone: nothing to do then).
    pub fn answer(self, result: Result<(), CallError>) {
        let _ = self.reply.send_blocking(result);
    }
}

/// What the interfaces and the service share.
#[derive(Debug)]
struct Shared {
    snapshot: Mutex<Snapshot>,
    calls: std::sync::mpsc::Sender<Call>,
    /// Wakes the service's loop when a call arrives.
    waker: Mutex<UnixStream>,
    /// The method being carried out, if one is: a second call meanwhile is refused as busy.
    in_flight: Mutex<Option<&'static str>>,
}

impl Shared {
    fn snapshot(&self) -> MutexGuard<'_, Snapshot> {
        self.snapshot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn in_flight(&self) -> MutexGuard<'_, Option<&'static str>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `request` to the service's loop; the receiver yields its outcome.
    fn submit(
        &self,
        method: &'static str,
        request: Request,
    ) -> Result<async_channel::Receiver<Result<(), CallError>>, CallError> {
        let (reply, rx) = async_channel::bounded(1);
        self.calls
            .send(Call {
                method,
                request,
                reply,
            })
            .map_err(|_| CallError::new(Failure::Failed, "the service is stopping"))?;
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner());
        // A full pipe already wakes the loop.
        let _ = (&*waker).write(&[1]);
        Ok(rx)
    }
}

/// The service's end of the bus.
pub struct Server {
    connection: Connection,
    shared: Arc<Shared>,
    calls: std::sync::mpsc::Receiver<Call>,
    published: Snapshot,
}

impl Server {
    /// Connects to the system bus, serves both interfaces and takes the name. `waker` is
    /// written to when a call arrives. Fails with one line when there is no bus or the name
    /// is taken.
    pub fn start(waker: UnixStream, initial: Snapshot) -> Result<Server, String> {
        let (tx, calls) = std::sync::mpsc::channel();
        let shared = Arc::new(Shared {
            snapshot: Mutex::new(initial.clone()),
            calls: tx,
            waker: Mutex::new(waker),
            in_flight: Mutex::new(None),
        });
        let connection = Connection::system().map_err(|e| format!("no system bus ({e})"))?;
        {
            let server = connection.object_server();
            server
                .at(PATH, iface::Loader::new(Arc::clone(&shared)))
                .and_then(|_| server.at(PATH, iface::Status::new(Arc::clone(&shared))))
                .map_err(|e| format!("cannot serve {PATH} ({e})"))?;
        }
        connection
            .request_name(NAME)
            .map_err(|e| format!("cannot own the name {NAME} ({e})"))?;
        Ok(Server {
            connection,
            shared,
            calls,
            published: initial,
        })
    }

    /// The next call to carry out, if one waits.
    pub fn next_call(&self) -> Option<Call> {
        self.calls.try_recv().ok()
    }

    /// Shows `snapshot` and announces what changed since the last one, once per interface.
    pub fn publish(&mut self, snapshot: &Snapshot) {
        if *snapshot == self.published {
            return;
        }
        *self.shared.snapshot() = snapshot.clone();
        for interface in [LOADER_INTERFACE, STATUS_INTERFACE] {
            let old = self.published.properties(interface);
            let changed: HashMap<&str, Value<'_>> = snapshot
                .properties(interface)
                .into_iter()
                .zip(old)
                .filter(|((_, new), (_, old))| new != old)
                .map(|((name, new), _)| (name, new))
                .collect();
            if changed.is_empty() {
                continue;
            }
            if let Err(e) = self.emit(interface, changed) {
                log::warn!("cannot announce a property change on the bus: {e}");
            }
        }
        self.published = snapshot.clone();
    }

    fn emit(&self, interface: &'static str, changed: HashMap<&str, Value<'_>>) -> zbus::Result<()> {
        let emitter = zbus::object_server::SignalEmitter::new(self.connection.inner(), PATH)?;
        let name = zbus::names::InterfaceName::from_static_str(interface)?;
        zbus::block_on(zbus::fdo::Properties::properties_changed(
            &emitter,
            name,
            changed,
            std::borrow::Cow::Borrowed(&[]),
        ))
    }
}
