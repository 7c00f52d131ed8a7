//! Loading a daemon's configuration: a TOML file, then environment overrides.
//!
//! Every key can be overridden by an environment variable named after it:
//! `token_ttl_ms` in the status server's file is `IM_STATUS_TOKEN_TTL_MS`;
//! a key in a table, `[store] url`, is `IM_CHAT_STORE__URL` (two underscores).
//! Secrets (database passwords, SMTP credentials) belong in the environment.
//!
//! A bad configuration fails at start with a message that names the key (or
//! the variable) and what is wrong with it; unknown keys are errors too, so a
//! typo does not silently leave a default in place.

use serde::de::DeserializeOwned;
use std::path::Path;

/// Reads `path` (if given) and applies `<prefix>*` environment overrides.
pub fn load<T: DeserializeOwned>(path: Option<&Path>, env_prefix: &str) -> Result<T, String> {
    let (text, source) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
            (text, path.display().to_string())
        }
        None => (String::new(), "defaults".to_string()),
    };
    parse(&text, &source, env_prefix, std::env::vars())
}

/// The configuration in `text` (read from `source`, named in errors) with
/// the overrides among `vars` that start with `env_prefix`. Any text gives
/// a configuration or an error, never a panic (the `config` fuzz target
/// holds it to that).
pub fn parse<T: DeserializeOwned>(
    text: &str,
    source: &str,
    env_prefix: &str,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<T, String> {
    let mut table = text.parse::<toml::Table>().map_err(|e| format!("config {source}: {e}"))?;
    apply_env(&mut table, env_prefix, vars)?;
    T::deserialize(toml::Value::Table(table)).map_err(|e| format!("config {source}: {e}"))
}

/// Applies overrides from `vars` (name, value) that start with `prefix`.
fn apply_env(
    table: &mut toml::Table,
    prefix: &str,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<(), String> {
    for (name, value) in vars {
        let Some(key) = name.strip_prefix(prefix) else { continue };
        let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(format!("environment variable {name}: empty key"));
        }
        let (last, parents) = path.split_last().expect("split yields at least one part");
        let mut current = &mut *table;
        for part in parents {
            let entry = current.entry(part.clone()).or_insert_with(|| toml::Table::new().into());
            current = entry
                .as_table_mut()
                .ok_or_else(|| format!("environment variable {name}: `{part}` is not a table"))?;
        }
        current.insert(last.clone(), env_value(&value));
    }
    Ok(())
}

/// An environment value as TOML: an integer, float or boolean when it reads
/// as one, else a string.
fn env_value(value: &str) -> toml::Value {
    if let Ok(n) = value.parse::<i64>() {
        n.into()
    } else if let Ok(b) = value.parse::<bool>() {
        b.into()
    } else if let Ok(f) = value.parse::<f64>() {
        f.into()
    } else {
        value.into()
    }
}

/// An optional `IP:port` setting: empty is off; anything else must parse.
/// Errors name `key`.
pub fn optional_addr(key: &str, text: &str) -> Result<Option<std::net::SocketAddr>, String> {
    match text {
        "" => Ok(None),
        text => {
            text.parse().map(Some).map_err(|_| format!("{key}: `{text}` is not an IP:port address"))
        }
    }
}

/// The listeners of the foreign dialects that are configured, in order:
/// `(dialect, key, value)` for each, an empty value meaning "not served".
pub fn dialect_listeners(
    keys: &[(crate::dialect::Dialect, &str, &str)],
) -> Result<Vec<(crate::dialect::Dialect, std::net::SocketAddr)>, String> {
    let mut listeners = Vec::new();
    for &(dialect, key, value) in keys {
        if let Some(addr) = optional_addr(key, value)? {
            listeners.push((dialect, addr));
        }
    }
    Ok(listeners)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        listen: String,
        ttl_ms: u64,
        #[serde(default)]
        store: Store,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Store {
        url: String,
    }

    fn parse(text: &str, vars: &[(&str, &str)]) -> Result<Sample, String> {
        let mut table: toml::Table = text.parse().map_err(|e| format!("{e}"))?;
        let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        apply_env(&mut table, "IM_TEST_", vars)?;
        Sample::deserialize(toml::Value::Table(table)).map_err(|e| e.to_string())
    }

    #[test]
    fn environment_overrides_file_values_and_nested_keys() {
        let text = "listen = \"a:1\"\nttl_ms = 5\n";
        let vars = [("IM_TEST_TTL_MS", "7"), ("IM_TEST_STORE__URL", "mysql://x"), ("OTHER", "1")];
        let sample = parse(text, &vars).unwrap();
        assert_eq!(sample.ttl_ms, 7);
        assert_eq!(sample.store.url, "mysql://x");
        assert_eq!(sample.listen, "a:1");
    }

    #[test]
    fn errors_name_the_key() {
        let err = parse("listen = \"a\"\nttl_ms = \"soon\"\n", &[]).unwrap_err();
        assert!(err.contains("ttl_ms"), "{err}");
        let err = parse("listen = \"a\"\nttl_ms = 1\ntypo = 2\n", &[]).unwrap_err();
        assert!(err.contains("typo"), "{err}");
        let err = parse("listen = \"a\"\n", &[]).unwrap_err();
        assert!(err.contains("ttl_ms"), "{err}");
    }
}
