#!/usr/bin/env bash
# A guard on ingest's CPU cost that does not drift with the machine: the instructions one event
# costs to prepare (parse, canonical hash, JSON Schema validation, model), counted by callgrind on
# the debug build CI makes, against a budget. Instruction counts repeat to about 0.01 % run to
# run; the budget leaves 10 % over the figure measured when it was set.
#
#   bash tests/guards/prepare_instructions.sh path/to/debug/tributary
set -euo pipefail

bin="${1:?the tributary binary (debug build)}"
events=100
# Measured 9.39M on 2026-12-02 (rustc 1.95, debug profile with dependencies at opt-level 1).
# Lower it when the cost falls; raise it only with a reason in the commit.
budget=10300000

collected() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" bench prepare --events "$events" "$@" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
full="$(collected)"
base="$(collected --generate-only)"
per=$(( (full - base) / events ))
echo "prepare: $per instructions per event (budget $budget; $events realistic 19 KB events)"
if [ "$per" -gt "$budget" ]; then
  echo "prepare costs more than its budget: find what grew (valgrind --tool=callgrind, callgrind_annotate)" >&2
  exit 1
fi
