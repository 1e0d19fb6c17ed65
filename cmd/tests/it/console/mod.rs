//! The console wired to the master's real account, operations and data services (with
//! their rules: lockout, hashing, registration once, one audit entry per operation), over
//! fake edges: a fake cluster, a fake node dispatcher standing in for the slaves, fake
//! database files. Each module was one test binary of the `web` crate before the console
//! stopped owning these rules.

mod alert_rules;
mod alerts;
mod auth;
mod channels;
mod common;
mod data;
mod frame;
mod history;
mod http;
mod http_limits;
mod live;
mod lockout;
mod manage;
mod openapi;
mod ops;
mod ops_fake;
mod projects;
mod projects_gateways;
mod prometheus;
mod serve;
mod sse_client;
mod task_events;
mod tokens;
