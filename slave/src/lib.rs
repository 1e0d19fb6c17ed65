//! Commander slave agent: enrols with a master, keeps an encrypted session, reports host
//! facts and metrics, and (later) runs what the master assigns.

pub mod agent;
pub mod backoff;
pub mod cli;
pub mod config;
pub mod connect;
pub mod hostinfo;
pub mod identity;
pub mod metrics;
