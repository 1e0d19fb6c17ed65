//! The end-to-end suites, one module per scenario, in ONE test binary: the `commander`
//! binary they drive is built once per run ([`e2e::commander_bin`]) and only one test
//! executable is linked.
//!
//! Suites that need Docker or Chromium skip with a message when it is missing, and fail
//! under `CI=true`.

mod cli_admin;
mod cluster_processes;
mod console_actions;
mod console_browser;
mod console_docker;
mod console_host;
mod docker_cluster;
mod ops_docker;
mod ops_host;
mod wire_encryption;
