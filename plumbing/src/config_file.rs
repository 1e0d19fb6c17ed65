//! Reading a role's YAML configuration file into its raw serde structs, the first of the two
//! configuration stages (the role validates the raw values itself).
//!
//! Every parse error is a [`ParseError`] carrying the key path (`master.port`,
//! `gateways[1].health.rise`) and the line and column where the YAML went wrong, so a
//! misspelt or mistyped key is found at once. [`Lenient`] reads integers the original wrote
//! either as numbers or as strings (`prod: "18888"`).

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
    #[error("config file {path}: {error}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why parsing failed.
        error: ParseError,
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

impl ConfigError {
    /// A [`ConfigError::Invalid`] for `key`.
    pub fn invalid(key: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key,
            message: message.into(),
        }
    }
}

/// YAML text that does not fit the raw configuration. Its message (serde_yaml_ng's) starts
/// with the key path and ends with the position, e.g. ``master.port: invalid value: integer
/// `70000`, expected ... at line 3 column 9``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    key: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    message: String,
}

impl ParseError {
    /// The path of the offending key (`gateways[0].listen`), `None` at the top level.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The line of the error, from 1.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The column of the error, from 1.
    pub fn column(&self) -> Option<usize> {
        self.column
    }

    /// The full message, key and position included.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn new(e: serde_path_to_error::Error<serde_yaml_ng::Error>) -> Self {
        let key = e.path().to_string();
        let key = (key != ".").then_some(key);
        let inner = e.into_inner();
        let location = inner.location();
        Self {
            key,
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message: inner.to_string(),
        }
    }
}

/// Parses YAML text into `R` as it is: an empty text is YAML's null, which only a struct
/// of optional keys (or an `Option`) accepts.
pub fn parse<R: DeserializeOwned>(text: &str) -> Result<R, ParseError> {
    serde_path_to_error::deserialize(serde_yaml_ng::Deserializer::from_str(text))
        .map_err(ParseError::new)
}

/// Parses YAML text into a raw configuration; an empty document (or only comments) gives
/// the defaults.
pub fn parse_or_default<R: DeserializeOwned + Default>(text: &str) -> Result<R, ParseError> {
    parse::<Option<R>>(text).map(Option::unwrap_or_default)
}

/// Reads and parses the file at `path` (see [`parse`]).
pub fn read<R: DeserializeOwned>(path: &Path) -> Result<R, ConfigError> {
    let text = read_text(path)?;
    parse(&text).map_err(|error| ConfigError::Parse {
        path: path.to_path_buf(),
        error,
    })
}

/// Reads and parses the file at `path`; no path, an empty file or one with only comments
/// means the defaults.
pub fn read_or_default<R: DeserializeOwned + Default>(
    path: Option<&Path>,
) -> Result<R, ConfigError> {
    let Some(path) = path else {
        return Ok(R::default());
    };
    let text = read_text(path)?;
    parse_or_default(&text).map_err(|error| ConfigError::Parse {
        path: path.to_path_buf(),
        error,
    })
}

/// [`parse_or_default`] for text that came from no file (tests, `from_yaml_str`): the
/// error's path is `<string>`.
pub fn parse_str_or_default<R: DeserializeOwned + Default>(text: &str) -> Result<R, ConfigError> {
    parse_or_default(text).map_err(|error| ConfigError::Parse {
        path: PathBuf::from("<string>"),
        error,
    })
}

fn read_text(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
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
        d.deserialize_any(LenientVisitor(PhantomData))
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<T: TryFrom<u64>> LenientVisitor<T> {
    fn convert<E: de::Error>(&self, v: u64, shown: de::Unexpected<'_>) -> Result<Lenient<T>, E> {
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
        let u = u64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        port: Option<Port>,
        n: Option<Number>,
        inner: Option<Inner>,
        list: Option<Vec<Inner>>,
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        rise: Option<u32>,
    }

    #[test]
    fn numbers_and_strings_both_parse() {
        let r: Raw = parse_or_default("port: \"18888\"\nn: 5\n").unwrap();
        assert_eq!(r.port, Some(Lenient(18888)));
        assert_eq!(r.n, Some(Lenient(5)));
        let r: Raw = parse_or_default("# only a comment\n").unwrap();
        assert!(r.port.is_none());
        let r: Raw = parse_or_default("").unwrap();
        assert!(r.n.is_none() && r.inner.is_none() && r.list.is_none());
    }

    #[test]
    fn out_of_range_and_garbage_are_named() {
        let e = parse_or_default::<Raw>("port: 70000\n").unwrap_err();
        assert!(
            e.message().contains("70000") && e.message().contains("port"),
            "{e}"
        );
        assert_eq!(e.key(), Some("port"));
        let e = parse_or_default::<Raw>("port: -1\n").unwrap_err();
        assert!(e.to_string().contains("-1"), "{e}");
        let e = parse_or_default::<Raw>("n: abc\n").unwrap_err();
        assert!(e.to_string().contains("abc"), "{e}");
    }

    #[test]
    fn errors_carry_key_path_and_position() {
        let e = parse_or_default::<Raw>("n: 1\ninner:\n  rise: x\n").unwrap_err();
        assert_eq!(e.key(), Some("inner.rise"));
        assert_eq!((e.line(), e.column()), (Some(3), Some(9)));
        assert!(e.to_string().contains("inner.rise"), "{e}");
        assert!(e.to_string().contains("line 3 column 9"), "{e}");

        let e = parse_or_default::<Raw>("list:\n  - rise: 1\n  - rise: [2]\n").unwrap_err();
        assert_eq!(e.key(), Some("list[1].rise"));
        assert_eq!(e.line(), Some(3));

        let e = parse_or_default::<Raw>("n: 1\nportt: 2\n").unwrap_err();
        assert!(e.to_string().contains("portt"), "{e}");
        assert_eq!(e.line(), Some(2));

        let e = parse_or_default::<Raw>("n: [\n").unwrap_err();
        assert!(e.line().is_some(), "{e}");
    }

    #[test]
    fn strict_parse_takes_the_document_as_it_is() {
        assert!(parse::<u32>("").is_err());
        assert!(parse::<Inner>("").unwrap().rise.is_none());
        assert_eq!(parse::<Inner>("rise: 2").unwrap().rise, Some(2));
    }

    #[test]
    fn files_missing_named_or_absent() {
        let e = read_or_default::<Raw>(Some(Path::new("/nonexistent/commander.yaml"))).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(read_or_default::<Raw>(None).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        std::fs::write(&p, "inner: {rise: -3}\n").unwrap();
        let e = read::<Raw>(&p).unwrap_err();
        let ConfigError::Parse { error, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(error.key(), Some("inner.rise"));
        assert!(e.to_string().contains("c.yaml"), "{e}");
    }
}
