//! The `protocol` section of the master configuration: limits of the slave port, which is
//! reachable by anyone (all interfaces by default) and where completing the Noise handshake
//! needs no credentials. A child module of `config`, sharing its error type and helpers.
//!
//! ```yaml
//! protocol:
//!   handshakeTimeoutMs: 5000          # handshake + Hello + verdict must finish within this
//!   maxUnauthenticated: 256           # connections whose Hello is not accepted yet, in all
//!   maxUnauthenticatedPerAddress: 16  # ... and from one address (IPv6: one /64)
//!   descriptorReserve: 128            # descriptors below RLIMIT_NOFILE the endpoint never takes
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, invalid};

pub use crate::endpoint::admission::{
    DEFAULT_DESCRIPTOR_RESERVE, DEFAULT_MAX_UNAUTHENTICATED,
    DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
};

/// Default time for the handshake, the Hello and the verdict, milliseconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 =
    crate::endpoint::DEFAULT_HANDSHAKE_TIMEOUT.as_millis() as u64;
/// Accepted handshake timeouts, milliseconds.
pub const HANDSHAKE_TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=60_000;
/// Accepted range of both caps.
pub const UNAUTHENTICATED_CAP_RANGE: std::ops::RangeInclusive<usize> = 1..=65_536;
/// Accepted descriptor reserves.
pub const DESCRIPTOR_RESERVE_RANGE: std::ops::RangeInclusive<u64> = 16..=1_048_576;

/// Validated limits of the slave port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtocolConfig {
    /// Handshake, Hello and verdict must finish within this (`handshakeTimeoutMs`).
    pub handshake_timeout: Duration,
    /// Unauthenticated connections at once (`maxUnauthenticated`).
    pub max_unauthenticated: usize,
    /// Unauthenticated connections at once from one address (`maxUnauthenticatedPerAddress`).
    pub max_unauthenticated_per_address: usize,
    /// Descriptors kept free for the console and the store (`descriptorReserve`).
    pub descriptor_reserve: u64,
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            handshake_timeout: Duration::from_millis(DEFAULT_HANDSHAKE_TIMEOUT_MS),
            max_unauthenticated: DEFAULT_MAX_UNAUTHENTICATED,
            max_unauthenticated_per_address: DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
            descriptor_reserve: DEFAULT_DESCRIPTOR_RESERVE,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawProtocol {
    handshake_timeout_ms: Option<u64>,
    max_unauthenticated: Option<usize>,
    max_unauthenticated_per_address: Option<usize>,
    descriptor_reserve: Option<u64>,
}

pub(super) fn in_range<T: PartialOrd + std::fmt::Display + Copy>(
    key: &'static str,
    value: Option<T>,
    default: T,
    range: &std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let value = value.unwrap_or(default);
    if !range.contains(&value) {
        let msg = format!("{value} is not in {}..={}", range.start(), range.end());
        return Err(invalid(key, msg));
    }
    Ok(value)
}

pub(super) fn build(raw: Option<RawProtocol>) -> Result<ProtocolConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    let handshake_ms = in_range(
        "protocol.handshakeTimeoutMs",
        raw.handshake_timeout_ms,
        DEFAULT_HANDSHAKE_TIMEOUT_MS,
        &HANDSHAKE_TIMEOUT_RANGE_MS,
    )?;
    let max_unauthenticated = in_range(
        "protocol.maxUnauthenticated",
        raw.max_unauthenticated,
        DEFAULT_MAX_UNAUTHENTICATED,
        &UNAUTHENTICATED_CAP_RANGE,
    )?;
    let max_unauthenticated_per_address = in_range(
        "protocol.maxUnauthenticatedPerAddress",
        raw.max_unauthenticated_per_address,
        DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS,
        &UNAUTHENTICATED_CAP_RANGE,
    )?;
    if max_unauthenticated_per_address > max_unauthenticated {
        return Err(invalid(
            "protocol.maxUnauthenticatedPerAddress",
            format!(
                "{max_unauthenticated_per_address} exceeds protocol.maxUnauthenticated ({max_unauthenticated})"
            ),
        ));
    }
    let descriptor_reserve = in_range(
        "protocol.descriptorReserve",
        raw.descriptor_reserve,
        DEFAULT_DESCRIPTOR_RESERVE,
        &DESCRIPTOR_RESERVE_RANGE,
    )?;
    Ok(ProtocolConfig {
        handshake_timeout: Duration::from_millis(handshake_ms),
        max_unauthenticated,
        max_unauthenticated_per_address,
        descriptor_reserve,
    })
}
