#!/usr/bin/env bash
# Prints an HAProxy configuration in TCP mode for central nodes on loopback: the edges' mutual TLS
# passes through to the nodes. A node that refuses connections is marked down at once and the
# connection retried on another (docs/scale-out.md). Used by the cluster demo and the cluster test.
#   scripts/haproxy-config.sh PROXY_PORT NODE_INGEST_PORT... > haproxy.cfg
set -euo pipefail
proxy_port=${1:?the port HAProxy listens on}
shift
[[ $# -gt 0 ]] || { echo "Name at least one node's ingest port." >&2; exit 2; }
cat <<CFG
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    retries 3
    option redispatch
frontend ingest
    bind 127.0.0.1:$proxy_port
    default_backend nodes
backend nodes
    balance roundrobin
CFG
names=(a b c d e f g h)
index=0
for port in "$@"; do
    echo "    server ${names[$index]:-node-$index} 127.0.0.1:$port check inter 500ms fall 1 rise 2"
    index=$((index + 1))
done
