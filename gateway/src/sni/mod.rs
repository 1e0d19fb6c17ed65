//! TLS passthrough routed by server name (SNI): the gateway reads a connection's first
//! bytes, finds the name the ClientHello asks for, and picks the upstream group configured
//! for it, without terminating TLS (the bytes read are sent on to the upstream first).
//!
//! - [`hello`]: the sans-io ClientHello reader ([`parse_client_hello`]), with a size limit,
//!   records split anywhere, and typed errors.
//! - [`names`]: validated host names, configured exact and `*.suffix` patterns, and the
//!   lookup table ([`SniTable`]: exact name, then longest wildcard).

pub mod hello;
pub mod names;

pub use hello::{HelloError, Peek, parse_client_hello};
pub use names::{NameError, NamePattern, ServerName, SniTable};

#[cfg(test)]
mod tests;
