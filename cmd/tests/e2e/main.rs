//! The end-to-end suites, one module per scenario, in ONE test binary. It is an integration
//! test of the `commander` package, so the `commander` binary it drives
//! ([`e2e::commander_bin`]) is the one cargo builds once per run for the package's tests:
//! no second cargo invocation, no second build of the workspace with other features.
//!
//! Suites that need Docker or Chromium skip with a message when it is missing, and fail
//! under `CI=true`.

mod cli_admin;
mod cluster_processes;
mod console_actions;
mod console_browser;
mod console_docker;
mod console_host;
mod console_projects;
mod docker_cluster;
mod ops_docker;
mod ops_host;
mod projects_cluster;
mod wire_encryption;
