#!/usr/bin/env bash
# The web UI's CI: install from the lock file, typecheck, component tests, build and check that
# the committed bundle (web/dist, embedded by the server) is what the sources build, then the
# end-to-end tests against a real server.
#
# Needs node 20+, npm, Debian chromium (/usr/bin/chromium or $CHROMIUM) and the server binary
# ($TRIBUTARY_BIN, default $CARGO_TARGET_DIR/debug/tributary). The corpus is read from
# ${TRIBUTARY_SHARED_DIR:-../shared}/corpus/valid.
set -euo pipefail
cd "$(dirname "$0")"

step() { printf '\n== %s\n' "$*"; }

step "npm ci"
npm ci --no-audit --no-fund

step "typecheck"
npx tsc --noEmit

step "component tests"
npm test

step "build"
npm run build

step "web/dist is fresh"
if ! git diff --exit-code --stat -- dist || [ -n "$(git status --porcelain -- dist)" ]; then
  git status --short -- dist
  echo "web/dist differs from a fresh build: run 'npm run build' in web/ and commit web/dist" >&2
  exit 1
fi

step "end-to-end tests"
npm run e2e
