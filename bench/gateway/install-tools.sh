#!/usr/bin/env bash
# Installs the tools the gateway benchmark compares against (Debian/Ubuntu, as root).
# The benchmark itself never installs anything; it tells you to run this script.
#   haproxy              HAProxy (TCP mode)
#   nginx-light          nginx (HTTP backend of the benchmark)
#   libnginx-mod-stream  nginx's stream module (the L4 proxy under test)
#   wrk                  HTTP load generator
#   iperf3               bulk TCP throughput
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "run as root (or with sudo): $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends haproxy nginx-light libnginx-mod-stream wrk iperf3
# The packages start system services; the benchmark runs its own instances.
for svc in haproxy nginx; do
  systemctl disable --now "$svc" >/dev/null 2>&1 || service "$svc" stop >/dev/null 2>&1 || true
done
echo "benchmark tools installed"
