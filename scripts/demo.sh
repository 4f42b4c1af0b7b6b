#!/usr/bin/env bash
# make demo: start swarmd on this machine, initialise a one-node swarm and show it.
# The daemon keeps running afterwards (stop it with: kill $(cat /run/swarmd/demo.pid)).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${SWARMD_STATE_DIR:-/var/lib/swarmd-demo}
SOCK=${SWARM_SOCKET:-/run/swarmd/swarmd.sock}
export SWARM_SOCKET=$SOCK
ctl() { echo "\$ swarmctl $*"; node bin/swarmctl "$@"; echo; }

mkdir -p /run/swarmd
if [ -f /run/swarmd/demo.pid ] && kill -0 "$(cat /run/swarmd/demo.pid)" 2>/dev/null; then
  echo "swarmd already running (pid $(cat /run/swarmd/demo.pid))"
else
  echo "starting swarmd (state in $STATE, log in $STATE.log)"
  mkdir -p "$STATE"
  nohup node bin/swarmd --state-dir "$STATE" --listen-control-api "$SOCK" --listen-addr 127.0.0.1:2377 >"$STATE.log" 2>&1 &
  echo $! > /run/swarmd/demo.pid
  for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
fi

if node bin/swarmctl info 2>/dev/null | grep -q 'Swarm: active'; then
  echo "already in a swarm"
else
  ctl swarm init --advertise-addr 127.0.0.1
fi
ctl node ls
ctl info
echo "The docker CLI works too:  DOCKER_HOST=unix://$SOCK docker node ls"
echo "Stop the demo daemon:      kill \$(cat /run/swarmd/demo.pid)"
