//! scx_core: what every scx scheduler shares — kernel checks, loading and attaching with exit
//! handling, the user-space dispatch channel, signals, logging and the common command line.

pub mod attach;
pub mod cli;
pub mod error;
pub mod exit_info;
pub mod kernel;
pub mod lifecycle;
pub mod logging;
pub mod policy;
pub mod profile;
pub mod signals;
pub mod topology;
pub mod usersched;

pub use cli::{CommonOpts, SliceOpts};
pub use error::{exit_code, exit_code_of, Error, Result};
pub use exit_info::{ExitInfo, ExitKind};
pub use lifecycle::{run_restartable, RunEnd, Ticker};
pub use policy::{run_policy, scheduler_main, MainOpts, Policy};
pub use signals::Shutdown;
pub use usersched::{Counters, DispatchedTask, QueuedTask, UserSched, UserSchedOpts, CPU_ANY};

/// Includes the skeleton `build.rs` generated for `$name.bpf.c` as `mod skel` (generated code,
/// not linted).
#[macro_export]
macro_rules! include_skeleton {
    ($name:literal) => {
        #[allow(
            clippy::all,
            clippy::unwrap_used,
            dead_code,
            missing_docs,
            unused_imports,
            unsafe_op_in_unsafe_fn
        )]
        mod skel {
            include!(concat!(env!("OUT_DIR"), "/", $name, ".skel.rs"));
        }
    };
}

include_skeleton!("usersched");
