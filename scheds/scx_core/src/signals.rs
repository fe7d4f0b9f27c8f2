//! SIGINT/SIGTERM handling: a flag the run loops poll to stop cleanly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Set once SIGINT or SIGTERM arrived.
#[derive(Debug, Clone)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// Installs the handlers. A second signal of the same kind while the first is being handled
    /// still only sets the flag: the scheduler always detaches before it exits.
    pub fn install() -> Result<Self> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&flag))
                .map_err(|e| Error::io(format!("installing the handler for signal {sig}"), e))?;
        }
        Ok(Shutdown(flag))
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
