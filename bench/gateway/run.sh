#!/usr/bin/env bash
# One command for the gateway benchmark: builds the release binaries and runs
# commander-bench-gateway, which checks for wrk, iperf3, haproxy, nginx (+ stream module) and
# taskset and tells you to run bench/gateway/install-tools.sh if any is missing. It installs
# nothing. Extra arguments go to commander-bench-gateway, e.g. --seconds 5 --no-append, or
# --mode shared for the old unpinned layout. Fair mode (the default) needs root for its cgroup.
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p commander --bin commander-gateway
cargo build --release -p commander-bench-gateway --bin commander-bench-gateway
# Proxies need descriptors for the connection-rate test.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$target/release/commander-bench-gateway" "$@"
