//! `scx-loader monitor`: prints the service's state on the bus, then a line (or a JSON object)
//! for each PropertiesChanged it announces, until interrupted.

use std::io::Write;

use anyhow::{bail, Context, Result};

use crate::bus::client::{self, Properties};
use crate::bus::NAME;
use crate::codes;

/// Follows the service's announcements; returns only when the bus connection ends or stdout
/// is closed.
pub fn monitor(json: bool) -> Result<u8> {
    let connection = match client::connect() {
        Ok(c) => c,
        Err(why) => {
            log::error!(
                "{why}: `scx-loader monitor` needs the system bus (dbus); `scx-loader status` works without it"
            );
            return Ok(codes::NO_BUS);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut print = |what: &str, change: &Properties| -> std::io::Result<()> {
        if json {
            let value = serde_json::json!({
                "event": what,
                "interface": change.interface,
                "changed": change.values,
                "invalidated": change.invalidated,
            });
            writeln!(out, "{value}")?;
        } else {
            writeln!(out, "{what} {}", client::line(change))?;
        }
        out.flush()
    };
    match client::read_all(&connection) {
        Some(all) => {
            for props in &all {
                print("now", props).context("writing to stdout")?;
            }
        }
        None => {
            eprintln!("{NAME} is not on the system bus (is scx.service running?); waiting for it")
        }
    }
    let mut failed = None;
    let followed = client::follow(&connection, &mut |change| match print("changed", &change) {
        Ok(()) => true,
        Err(e) => {
            failed = Some(e);
            false
        }
    });
    if let Some(e) = failed {
        // A closed pipe (`| head`) is how a reader says it has seen enough.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(codes::OK);
        }
        return Err(e).context("writing to stdout");
    }
    if let Err(why) = followed {
        bail!("{why}");
    }
    Ok(codes::OK)
}
