//! Commander slave agent: enrols with a master, keeps an encrypted session, reports host
//! facts and metrics, and (later) runs what the master assigns.

pub mod config;
pub mod hostinfo;
pub mod metrics;
