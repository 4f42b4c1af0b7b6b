#!/usr/bin/env bash
# One-time machine set-up for swarmd, its tests and its demo on Debian bookworm (run as root).
# Installs the Debian packages swarmd uses, keeps the packaged etcd and dockerd services from
# running (swarmd runs its own etcd member; dockerd is never needed), then npm ci and build.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(etcd-server etcd-client runc conmon tini nftables iproute2 attr busybox-static docker.io docker-registry curl iperf3 wrk zstd)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "setup: need root to install: ${missing[*]}" >&2; exit 1; fi
  # policy-rc.d 101: package scripts must not start etcd, dockerd or the registry.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi
# Mask the packaged services (works with or without systemd as PID 1).
for unit in etcd etcd2 docker docker-registry; do
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
    systemctl mask "$unit" >/dev/null 2>&1 || true
  else
    mkdir -p /etc/systemd/system && ln -sf /dev/null "/etc/systemd/system/$unit.service"
  fi
done

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npx tsc -p . && node scripts/bundle-cli.mjs
