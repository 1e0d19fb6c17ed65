//! Server names as the gateway routes them: [`ServerName`] (a validated, lower-case DNS
//! host name from a ClientHello), [`NamePattern`] (a configured exact name or `*.suffix`
//! wildcard) and [`SniTable`], which maps a name to the index of its upstream group.
//!
//! Matching: an exact name first; else the longest wildcard whose suffix ends the name
//! (`*.b.example` matches `x.b.example` and `y.x.b.example`, not `b.example`); else none
//! (the caller's default group).

use std::collections::HashMap;

/// Longest DNS name (RFC 1035, without the trailing dot).
pub const MAX_NAME_LEN: usize = 253;
/// Longest DNS label.
pub const MAX_LABEL_LEN: usize = 63;

/// Why a name is not a valid host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, or longer than [`MAX_NAME_LEN`].
    #[error("a host name has 1 to {MAX_NAME_LEN} characters")]
    Length,
    /// A label is empty (`a..b`, a leading or trailing dot) or longer than [`MAX_LABEL_LEN`].
    #[error("a label (between dots) has 1 to {MAX_LABEL_LEN} characters")]
    Label,
    /// A character other than letters, digits, `-` and `_`, or a label starting or ending
    /// with `-`.
    #[error("only letters, digits, `-` and `_` are allowed, and no label starts or ends with `-`")]
    Character,
    /// A wildcard other than a leading `*.` followed by a name.
    #[error("a wildcard is `*.` followed by a name (e.g. `*.b.example`)")]
    Wildcard,
}

/// A validated host name in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerName(String);

impl ServerName {
    /// Validates `name` (ASCII letters, digits, `-`, `_`, dot-separated labels) and
    /// lower-cases it.
    pub fn new(name: &str) -> Result<Self, NameError> {
        Self::from_wire(name.as_bytes())
    }

    /// [`ServerName::new`] on the bytes of a `server_name` extension.
    pub fn from_wire(name: &[u8]) -> Result<Self, NameError> {
        check_host(name)?;
        // Checked ASCII above, so this is valid UTF-8.
        let text: String = name
            .iter()
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect();
        Ok(Self(text))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ServerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn check_host(name: &[u8]) -> Result<(), NameError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(NameError::Length);
    }
    for label in name.split(|&b| b == b'.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(NameError::Label);
        }
        let ok_chars = label
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_chars || label.first() == Some(&b'-') || label.last() == Some(&b'-') {
            return Err(NameError::Character);
        }
    }
    Ok(())
}

/// A configured name: exact, or `*.suffix` (any name ending in `.suffix`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NamePattern {
    /// This name only.
    Exact(ServerName),
    /// Names ending in `.` + this suffix, at any depth.
    Wildcard(ServerName),
}

impl NamePattern {
    /// Parses `a.example` or `*.b.example` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, NameError> {
        match text.strip_prefix("*.") {
            Some(suffix) => {
                if suffix.contains('*') {
                    return Err(NameError::Wildcard);
                }
                Ok(Self::Wildcard(ServerName::new(suffix)?))
            }
            None if text.contains('*') => Err(NameError::Wildcard),
            None => Ok(Self::Exact(ServerName::new(text)?)),
        }
    }

    /// Whether `name` matches.
    pub fn matches(&self, name: &ServerName) -> bool {
        match self {
            Self::Exact(n) => n == name,
            Self::Wildcard(suffix) => wildcard_match(suffix.as_str(), name.as_str()),
        }
    }
}

impl std::fmt::Display for NamePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(n) => write!(f, "{n}"),
            Self::Wildcard(s) => write!(f, "*.{s}"),
        }
    }
}

fn wildcard_match(suffix: &str, name: &str) -> bool {
    name.len() > suffix.len() + 1
        && name.ends_with(suffix)
        && name.as_bytes()[name.len() - suffix.len() - 1] == b'.'
}

/// Name → group index: exact names in a hash map, wildcards longest suffix first.
#[derive(Debug, Clone, Default)]
pub struct SniTable {
    exact: HashMap<ServerName, usize>,
    wildcards: Vec<(ServerName, usize)>,
}

impl SniTable {
    /// A table over `(patterns, group index)` pairs; a pattern listed twice keeps its first
    /// group (configuration validation refuses duplicates before this).
    pub fn new<'a>(groups: impl IntoIterator<Item = (&'a [NamePattern], usize)>) -> Self {
        let mut t = Self::default();
        for (patterns, group) in groups {
            for p in patterns {
                match p {
                    NamePattern::Exact(n) => {
                        t.exact.entry(n.clone()).or_insert(group);
                    }
                    NamePattern::Wildcard(s) => {
                        if !t.wildcards.iter().any(|(x, _)| x == s) {
                            t.wildcards.push((s.clone(), group));
                        }
                    }
                }
            }
        }
        t.wildcards
            .sort_by_key(|w| std::cmp::Reverse(w.0.as_str().len()));
        t
    }

    /// The group for `name`: exact match, else the longest matching wildcard.
    pub fn lookup(&self, name: &ServerName) -> Option<usize> {
        if let Some(&g) = self.exact.get(name) {
            return Some(g);
        }
        self.wildcards
            .iter()
            .find(|(suffix, _)| wildcard_match(suffix.as_str(), name.as_str()))
            .map(|&(_, g)| g)
    }
}
