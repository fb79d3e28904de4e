#!/usr/bin/env bash
# Schemathesis over the server's own OpenAPI document (schema/openapi.json as served), on SQLite
# and on Postgres, with the corpus loaded so that reads find data. Checks: no 5xx, every answer's
# status, content type and body as documented (nullable fields included).
#
# Needs: $TRIBUTARY_BIN (the server), $SCHEMATHESIS (the `st` of tests/fuzz/requirements.txt),
# $TRIBUTARY_TEST_DATABASE_URL (a Postgres where databases may be created; psql on the PATH),
# and the corpus at ${TRIBUTARY_SHARED_DIR:-../shared}/corpus/valid.
# Bounded: at most $FUZZ_EXAMPLES (default 20) cases per operation and phase, a fixed seed.
set -euo pipefail
cd "$(dirname "$0")/../.."

bin="${TRIBUTARY_BIN:?set TRIBUTARY_BIN to the tributary binary}"
st="${SCHEMATHESIS:?set SCHEMATHESIS to the st command of schemathesis}"
corpus="${TRIBUTARY_SHARED_DIR:-../shared}/corpus/valid"
examples="${FUZZ_EXAMPLES:-20}"
work="$(mktemp -d)"
server=""
pg_db=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then psql -q "$TRIBUTARY_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One schemathesis run; a crash inside schemathesis itself (not a finding) is retried once.
fuzz() {
  local url="$1" phases="$2" log="$work/st.log" attempt
  for attempt in 1 2; do
    if "$st" run "$url/api/v1/openapi.json" --phases "$phases" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
      --max-examples "$examples" --seed 1 --workers 2 --max-response-time 5 \
      --no-color --output-truncate true --generation-database none >"$log" 2>&1; then
      grep -A1 '^Test cases:' "$log" | tail -1
      return 0
    fi
    if grep -q 'unique failure' "$log" || [ "$attempt" = 2 ]; then
      cat "$log"
      return 1
    fi
    echo "schemathesis crashed on its own (no finding); trying once more"
  done
}

run_backend() {
  local name="$1" url="$2" port
  echo "== $name"
  "$bin" import --database-url "$url" "$corpus" | tail -1
  port="$(free_port)"
  TRIBUTARY_DATABASE_URL="$url" "$bin" serve --bind "127.0.0.1:$port" >"$work/server-$name.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
    sleep 0.1
  done
  fuzz "http://127.0.0.1:$port" coverage
  fuzz "http://127.0.0.1:$port" fuzzing,stateful
  # A 500 may hide behind a status schemathesis accepted: the log names every internal error.
  if grep -q 'internal error' "$work/server-$name.log"; then
    echo "the server logged internal errors:" >&2
    grep 'internal error' "$work/server-$name.log" | head -20 >&2
    return 1
  fi
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}

run_backend sqlite "sqlite://$work/fuzz.db"

if [ -n "${TRIBUTARY_TEST_DATABASE_URL:-}" ]; then
  pg_db="tributary_fuzz_$$"
  psql -q "$TRIBUTARY_TEST_DATABASE_URL" -c "CREATE DATABASE $pg_db"
  base="${TRIBUTARY_TEST_DATABASE_URL%/*}"
  run_backend postgres "$base/$pg_db"
else
  echo "skipped Postgres: TRIBUTARY_TEST_DATABASE_URL is not set"
fi
echo "fuzz: no 5xx, every answer as documented"
