//! The exit code an error chain asks for: the first of the loader's typed errors (or
//! scx_core's) in it decides. The process's exit code and the bus's error names both follow it.

use crate::config::ConfigError;
use crate::scheds::SchedError;

/// The loader's exit code for `err`.
pub fn code_of(err: &anyhow::Error) -> u8 {
    scx_core::exit_code_of(err, |e| {
        if let Some(e) = e.downcast_ref::<ConfigError>() {
            Some(e.exit_code())
        } else if let Some(e) = e.downcast_ref::<SchedError>() {
            Some(e.exit_code())
        } else {
            scx_core::Error::code_of(e)
        }
    })
}
