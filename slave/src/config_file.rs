//! What every role's configuration file has in common: the error type, reading a YAML file
//! into a raw serde struct (an empty file means defaults), and integers the original wrote
//! either as numbers or as strings (`prod: "18888"`). The master's configuration uses these
//! too.

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown key or a value of the wrong type. The message
    /// names the key and its line and column.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde_yaml_ng's message, with key path and location.
        message: String,
    },
    /// A value parsed but is not acceptable.
    #[error("invalid `{key}`: {message}")]
    Invalid {
        /// The key, as written in the YAML file (or the flag it came from).
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Parses YAML text into a raw configuration; an empty document (or only comments) gives
/// the defaults. The error is serde_yaml_ng's message, naming the key and its position.
pub fn parse_yaml<R: DeserializeOwned + Default>(text: &str) -> Result<R, String> {
    serde_yaml_ng::from_str::<Option<R>>(text)
        .map(Option::unwrap_or_default)
        .map_err(|e| e.to_string())
}

/// Reads and parses the file at `path`; no path means the defaults.
pub fn read_yaml<R: DeserializeOwned + Default>(path: Option<&Path>) -> Result<R, ConfigError> {
    let Some(path) = path else {
        return Ok(R::default());
    };
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_yaml(&text).map_err(|message| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    })
}

/// An unsigned integer written as a YAML number or as a string of digits; out-of-range values
/// are refused at parse time, so the error carries the key's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lenient<T>(pub T);

/// A port, 0..=65535.
pub type Port = Lenient<u16>;
/// A non-negative integer.
pub type Number = Lenient<u64>;

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LenientVisitor<T>(PhantomData<T>);
        impl<T: TryFrom<u64>> LenientVisitor<T> {
            fn convert<E: de::Error>(
                &self,
                v: u64,
                shown: de::Unexpected<'_>,
            ) -> Result<Lenient<T>, E> {
                T::try_from(v)
                    .map(Lenient)
                    .map_err(|_| E::invalid_value(shown, self))
            }
        }
        impl<T: TryFrom<u64>> Visitor<'_> for LenientVisitor<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                let max = std::any::type_name::<T>();
                write!(
                    f,
                    "a non-negative integer fitting {max} (a number or a string such as \"17777\")"
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lenient<T>, E> {
                self.convert(v, de::Unexpected::Unsigned(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lenient<T>, E> {
                let u = u64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))?;
                self.convert(u, de::Unexpected::Signed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Lenient<T>, E> {
                let u = v
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))?;
                self.convert(u, de::Unexpected::Str(v))
            }
        }
        d.deserialize_any(LenientVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    struct Raw {
        port: Option<Port>,
        n: Option<Number>,
    }

    #[test]
    fn numbers_and_strings_both_parse() {
        let r: Raw = parse_yaml("port: \"18888\"\nn: 5\n").unwrap();
        assert_eq!(r.port, Some(Lenient(18888)));
        assert_eq!(r.n, Some(Lenient(5)));
        let r: Raw = parse_yaml("# only a comment\n").unwrap();
        assert!(r.port.is_none());
    }

    #[test]
    fn out_of_range_and_garbage_are_named() {
        let e = parse_yaml::<Raw>("port: 70000\n").unwrap_err();
        assert!(e.contains("70000") && e.contains("port"), "{e}");
        let e = parse_yaml::<Raw>("port: -1\n").unwrap_err();
        assert!(e.contains("-1"), "{e}");
        let e = parse_yaml::<Raw>("n: abc\n").unwrap_err();
        assert!(e.contains("abc"), "{e}");
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let e = read_yaml::<Raw>(Some(Path::new("/nonexistent/commander.yaml"))).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(read_yaml::<Raw>(None).is_ok());
    }
}
