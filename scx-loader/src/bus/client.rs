//! The loader's own commands as clients of the bus interface: reading every property of the
//! running service, and following its PropertiesChanged signals (`scx-loader monitor`), with the
//! values as JSON.

use std::collections::HashMap;

use zbus::blocking::{Connection, MessageIterator};
use zbus::message::Type;
use zbus::zvariant::{OwnedValue, Value};
use zbus::MatchRule;

use super::{LOADER_INTERFACE, NAME, PATH, STATUS_INTERFACE};

/// One interface's properties, or a change of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Properties {
    pub interface: String,
    pub values: serde_json::Map<String, serde_json::Value>,
    pub invalidated: Vec<String>,
}

/// Connects to the system bus; the error is one line.
pub fn connect() -> Result<Connection, String> {
    Connection::system().map_err(|e| format!("cannot reach the system bus: {e}"))
}

/// Every property of both interfaces, or None when the service is not on the bus.
pub fn read_all(connection: &Connection) -> Option<Vec<Properties>> {
    [LOADER_INTERFACE, STATUS_INTERFACE]
        .into_iter()
        .map(|interface| {
            let reply = connection
                .call_method(
                    Some(NAME),
                    PATH,
                    Some("org.freedesktop.DBus.Properties"),
                    "GetAll",
                    &(interface,),
                )
                .ok()?;
            let values: HashMap<String, OwnedValue> = reply.body().deserialize().ok()?;
            Some(Properties {
                interface: interface.to_string(),
                values: to_map(values),
                invalidated: Vec::new(),
            })
        })
        .collect()
}

/// Calls `each` with every PropertiesChanged the service sends, until it returns false or the
/// connection ends.
pub fn follow(
    connection: &Connection,
    each: &mut dyn FnMut(Properties) -> bool,
) -> Result<(), String> {
    let rule = MatchRule::builder()
        .msg_type(Type::Signal)
        .interface("org.freedesktop.DBus.Properties")
        .and_then(|b| b.member("PropertiesChanged"))
        .and_then(|b| b.path(PATH))
        .map_err(|e| format!("building the signal match: {e}"))?
        .build();
    let messages = MessageIterator::for_match_rule(rule, connection, Some(64))
        .map_err(|e| format!("subscribing to {NAME}'s PropertiesChanged: {e}"))?;
    for message in messages {
        let message = message.map_err(|e| format!("reading from the system bus: {e}"))?;
        let body: Result<(String, HashMap<String, OwnedValue>, Vec<String>), _> =
            message.body().deserialize();
        let Ok((interface, changed, invalidated)) = body else {
            continue;
        };
        let change = Properties {
            interface,
            values: to_map(changed),
            invalidated,
        };
        if !each(change) {
            break;
        }
    }
    Ok(())
}

fn to_map(values: HashMap<String, OwnedValue>) -> serde_json::Map<String, serde_json::Value> {
    let mut sorted: Vec<_> = values.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.into_iter().map(|(k, v)| (k, to_json(&v))).collect()
}

/// A D-Bus value as JSON: numbers, strings, arrays; structures as arrays, dicts as objects.
pub fn to_json(value: &Value<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::U8(n) => J::from(*n),
        Value::Bool(b) => J::from(*b),
        Value::I16(n) => J::from(*n),
        Value::U16(n) => J::from(*n),
        Value::I32(n) => J::from(*n),
        Value::U32(n) => J::from(*n),
        Value::I64(n) => J::from(*n),
        Value::U64(n) => J::from(*n),
        Value::F64(n) => J::from(*n),
        Value::Str(s) => J::from(s.as_str()),
        Value::Signature(s) => J::from(s.to_string()),
        Value::ObjectPath(p) => J::from(p.as_str()),
        Value::Value(v) => to_json(v),
        Value::Array(a) => J::Array(a.inner().iter().map(to_json).collect()),
        Value::Structure(s) => J::Array(s.fields().iter().map(to_json).collect()),
        Value::Dict(d) => J::Object(
            d.iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        J::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        other => J::from(format!("{other:?}")),
    }
}

/// `Name=value …` of one change, the values as JSON.
pub fn line(change: &Properties) -> String {
    let mut parts: Vec<String> = change
        .values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.extend(
        change
            .invalidated
            .iter()
            .map(|k| format!("{k} (invalidated)")),
    );
    format!("{}: {}", change.interface, parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_json() {
        let exit = Value::from(("error-stall".to_string(), "x".to_string(), "y".to_string()));
        assert_eq!(to_json(&exit).to_string(), r#"["error-stall","x","y"]"#);
        let mut profiles = HashMap::new();
        profiles.insert("scx_a".to_string(), vec!["gaming".to_string()]);
        assert_eq!(
            to_json(&Value::from(profiles)).to_string(),
            r#"{"scx_a":["gaming"]}"#
        );
        let mut values = serde_json::Map::new();
        values.insert("State".into(), serde_json::Value::from("running"));
        let change = Properties {
            interface: "org.scx.Loader.Status1".into(),
            values,
            invalidated: vec!["Profiles".into()],
        };
        assert_eq!(
            line(&change),
            r#"org.scx.Loader.Status1: State="running" Profiles (invalidated)"#
        );
    }
}
