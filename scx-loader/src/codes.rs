//! The loader's exit codes: 0-13 mean what they mean for every scx scheduler (see
//! `scx_core::exit_code`), 20 and up are the loader's own, one per kind of bad input.

pub use scx_core::exit_code::{BUSY, FAILURE, LOAD_FAILED, NO_PRIVILEGE, OK, UNSUPPORTED, USAGE};

/// The configuration file is missing or unreadable.
pub const CONFIG_UNREADABLE: u8 = 20;
/// The configuration file has a syntax error (unbalanced quote, a line that is not KEY=VALUE).
pub const CONFIG_SYNTAX: u8 = 21;
/// The configuration file sets an unknown `SCX_*` key.
pub const CONFIG_UNKNOWN_KEY: u8 = 22;
/// The configuration file (or its directory) can be written by someone other than root.
pub const CONFIG_INSECURE: u8 = 23;
/// The scheduler (or fallback) is not a valid name or is not installed.
pub const BAD_SCHEDULER: u8 = 24;
/// The scheduler rejected the configured flags.
pub const BAD_FLAGS: u8 = 25;
/// No scheduler is configured.
pub const NO_SCHEDULER: u8 = 26;
/// The profile is unknown, or the scheduler (every installed one) does not offer it.
pub const BAD_PROFILE: u8 = 27;
/// The scheduler (and the fallback, if any) kept failing; the kernel runs EEVDF.
pub const GAVE_UP: u8 = 30;
/// `reload` or `set`: the service did not take the new configuration (the old one runs).
pub const RELOAD_FAILED: u8 = 31;
/// `monitor`: there is no system bus to follow the service on.
pub const NO_BUS: u8 = 32;
