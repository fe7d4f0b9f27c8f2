//! Who may call the methods: root, or whoever polkitd grants `org.scx.Loader.manage` (asked with
//! the caller's bus name, so polkitd judges the caller and not the loader). Without polkitd,
//! only root.

use std::collections::HashMap;

use zbus::message::{Flags, Header};
use zbus::zvariant::Value;
use zbus::Connection;

use super::iface::BusError;

/// The polkit action every method needs.
pub const ACTION: &str = "org.scx.Loader.manage";

const POLKIT: &str = "org.freedesktop.PolicyKit1";
const POLKIT_PATH: &str = "/org/freedesktop/PolicyKit1/Authority";
const POLKIT_INTERFACE: &str = "org.freedesktop.PolicyKit1.Authority";
/// CheckAuthorization's flag that lets polkitd ask the user for a password.
const ALLOW_USER_INTERACTION: u32 = 1;

/// Returns Ok when the sender of `header` may call `method`.
pub(super) async fn authorize(
    connection: &Connection,
    header: &Header<'_>,
    method: &str,
) -> Result<(), BusError> {
    let sender = header
        .sender()
        .ok_or_else(|| BusError::AccessDenied(format!("{method}: the call has no sender")))?;
    let dbus = zbus::fdo::DBusProxy::new(connection).await?;
    let uid = dbus
        .get_connection_unix_user(sender.clone().into())
        .await
        .map_err(|e| BusError::AccessDenied(format!("{method}: cannot tell who called ({e})")))?;
    if uid == 0 {
        return Ok(());
    }
    let interactive = header
        .primary()
        .flags()
        .contains(Flags::AllowInteractiveAuth);
    let mut subject_details = HashMap::new();
    subject_details.insert("name", Value::from(sender.as_str()));
    let subject = ("system-bus-name", subject_details);
    let details: HashMap<&str, &str> = HashMap::new();
    let flags = if interactive {
        ALLOW_USER_INTERACTION
    } else {
        0
    };
    let reply = connection
        .call_method(
            Some(POLKIT),
            POLKIT_PATH,
            Some(POLKIT_INTERFACE),
            "CheckAuthorization",
            &(subject, ACTION, details, flags, ""),
        )
        .await;
    let denied = |why: String| {
        Err(BusError::AccessDenied(format!(
            "{method}: uid {uid} may not manage the scheduler service ({why}): call it as root, or have polkit grant {ACTION}"
        )))
    };
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            return denied(format!(
                "polkitd did not answer: {e}; without it only root may"
            ))
        }
    };
    let (authorized, challenge, _): (bool, bool, HashMap<String, String>) =
        match reply.body().deserialize() {
            Ok(answer) => answer,
            Err(e) => return denied(format!("polkitd's answer is unreadable: {e}")),
        };
    match (authorized, challenge) {
        (true, _) => Ok(()),
        (false, true) => denied(
            "polkit asks for authentication: call with interactive authorization and an agent"
                .into(),
        ),
        (false, false) => denied("polkit does not grant it".into()),
    }
}
