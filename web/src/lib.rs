//! Commander's web console and REST API.
pub mod backend;
