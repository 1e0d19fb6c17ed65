//! Commander slave agent: enrols with a master, keeps an encrypted session, reports host
//! facts and metrics, runs the host and Docker operations the master asks for
//! ([`remote`], [`hostops`], [`docker`]) and runs the project replicas and gateways the
//! master assigns ([`workload`]).

pub mod agent;
pub mod backoff;
pub mod config;
pub mod connect;
pub mod docker;
pub mod fsutil;
pub mod hostinfo;
pub mod hostops;
pub mod identity;
pub mod metrics;
pub mod remote;
pub mod workload;
