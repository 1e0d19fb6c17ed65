//! The YAML configuration loaders of the three roles.

/// The roles the first byte of a `config` input selects (modulo 3), in order.
pub const CONFIG_ROLES: &[&str] = &["master", "slave", "gateway"];

/// Target `config`: byte 0 selects the loader (`master::config::from_yaml_str`,
/// `slave::config::from_yaml_str`, `gateway::config::Config::from_yaml`: parsing and
/// validation, as `load` does after reading the file); the rest is the file's text. Bytes
/// that are not UTF-8 are refused by the loaders' file reading before parsing, so they are
/// skipped here.
///
/// Checks: every input gives a configuration or an error, without panicking, hanging or
/// allocating without bound.
pub fn config(data: &[u8]) {
    let Some((&selector, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    match usize::from(selector) % CONFIG_ROLES.len() {
        0 => {
            let _ = master::config::from_yaml_str(text);
        }
        1 => {
            let _ = slave::config::from_yaml_str(text);
        }
        _ => {
            let _ = gateway::config::Config::from_yaml(text);
        }
    }
}
