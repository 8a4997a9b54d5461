#!/usr/bin/env bash
# Make sure RabbitMQ (with its management API) and Redis answer on loopback.
# Starts them if stopped; installs them with apt on a fresh Debian machine.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {  # port, seconds
  for _ in $(seq 1 $(( $2 * 4 ))); do port_open "$1" && return 0; sleep 0.25; done
  return 1
}

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  log "installing $* with apt"
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

# --- Redis
if ! port_open 6379; then
  command -v redis-server >/dev/null || apt_install redis-server
  log "starting redis-server"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_port 6379 30 || { log "redis did not come up"; exit 1; }
fi

# --- RabbitMQ
if ! port_open 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  log "starting rabbitmq-server"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_port 5672 120 || { log "rabbitmq did not come up"; exit 1; }
fi
if ! port_open 15672; then
  log "enabling the RabbitMQ management plugin (fast per-test vhosts, queue depths)"
  rabbitmqctl await_startup >/dev/null 2>&1 || true
  rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 || true
  wait_port 15672 60 || log "management API not up; tests fall back to rabbitmqctl"
fi
log "RabbitMQ and Redis are answering"
