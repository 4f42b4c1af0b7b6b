#!/usr/bin/env bash
# make demo: start swarmd on this machine, initialise a one-node swarm, load a busybox image and run
# a web service of 3 replicas behind a published port; show it answering from different tasks.
# The daemon keeps running afterwards: stop it with `bash scripts/demo.sh stop`.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${SWARMD_STATE_DIR:-/var/lib/swarmd-demo}
SOCK=${SWARM_SOCKET:-/run/swarmd/swarmd.sock}
PIDFILE=/run/swarmd/demo.pid
export SWARM_SOCKET=$SOCK
ctl() { echo "\$ swarmctl $*"; node bin/swarmctl "$@"; echo; }

if [ "${1:-}" = stop ]; then
  node bin/swarmctl service rm web >/dev/null 2>&1 || true
  # Wait until the node has removed the service's containers before stopping swarmd.
  for _ in $(seq 1 150); do
    [ "$(curl -s --unix-socket "$SOCK" 'http://swarmd/containers/json?all=1')" = "[]" ] && break
    sleep 0.2
  done
  if [ -f "$PIDFILE" ]; then
    PID=$(cat "$PIDFILE")
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  # swarmd's tmpfs for runtime state; still busy (and kept) if a container survived.
  umount "$STATE/exec" 2>/dev/null || true
  echo "demo stopped (state kept in $STATE)"
  exit 0
fi

mkdir -p /run/swarmd
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "swarmd already running (pid $(cat "$PIDFILE"))"
else
  echo "starting swarmd (state in $STATE, log in $STATE.log)"
  mkdir -p "$STATE"
  nohup node bin/swarmd --state-dir "$STATE" --listen-control-api "$SOCK" --listen-addr 127.0.0.1:2377 >"$STATE.log" 2>&1 &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 200); do node bin/swarmctl info >/dev/null 2>&1 && break; sleep 0.1; done
fi

if node bin/swarmctl info 2>/dev/null | grep -q 'Swarm: active'; then
  echo "already in a swarm"
else
  ctl swarm init --advertise-addr 127.0.0.1
fi
ctl node ls

if ! node bin/swarmctl image ls 2>/dev/null | grep -q busybox; then
  node scripts/busybox-image.mjs "$STATE.busybox.tar" busybox:latest
  ctl image load -i "$STATE.busybox.tar"
fi

node bin/swarmctl service rm web >/dev/null 2>&1 || true
ctl service create --name web --replicas 3 -p 8080:80 busybox \
  sh -c 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 80 -h /www'
ctl service ls
ctl service ps web
echo "\$ curl localhost:8080   (six times: the routing mesh spreads connections over the tasks)"
for _ in 1 2 3 4 5 6; do curl -s --max-time 3 localhost:8080 || echo "(no answer)"; done
echo
echo "The docker CLI works too:  DOCKER_HOST=unix://$SOCK docker service ps web"
echo "Stop the demo:             bash scripts/demo.sh stop"
