#!/usr/bin/env bash
# Reproduce a model / roll back to a snapshot: the README's walk-through, runnable.
# Needs a running server (`cargo run --release -- serve`) and curl.
#   TRIBUTARY_URL  the server (default http://127.0.0.1:5000)
#   TRIBUTARY_BIN  the tributary binary (default: cargo run --release --)
set -euo pipefail
URL="${TRIBUTARY_URL:-http://127.0.0.1:5000}"
read -r -a TRIBUTARY <<< "${TRIBUTARY_BIN:-cargo run --quiet --release --}"

post() { curl -sf -X POST "$URL/api/v1/lineage" -H 'Content-Type: application/json' -d "$1" > /dev/null; }
P='"producer": "https://example.com/walkthrough", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"'
EXTRACT_1=0191f7c2-aaaa-7000-8000-000000000001
TRAIN=0191f7c2-aaaa-7000-8000-000000000002
EXTRACT_2=0191f7c2-aaaa-7000-8000-000000000003

echo "# 1. A pipeline writes the training table; Delta calls this snapshot version 7."
post '{"eventType": "COMPLETE", "eventTime": "2025-01-01T00:00:00Z", '"$P"',
  "run": {"runId": "'$EXTRACT_1'"}, "job": {"namespace": "etl", "name": "extract_orders"},
  "outputs": [{"namespace": "lake", "name": "orders", "facets": {
    "schema": {"fields": [{"name": "id", "type": "INT"}, {"name": "amount", "type": "DECIMAL"}]},
    "version": {"datasetVersion": "7"}},
    "outputFacets": {"outputStatistics": {"rowCount": 1000, "size": 64000}}}]}'

echo "# 2. A training run reads it and writes the model."
post '{"eventType": "COMPLETE", "eventTime": "2025-01-02T00:00:00Z", '"$P"',
  "run": {"runId": "'$TRAIN'"}, "job": {"namespace": "ml", "name": "train_churn",
    "facets": {"sourceCodeLocation": {"type": "git", "url": "https://git.example.com/ml/churn", "version": "4f2a9c1"}}},
  "inputs": [{"namespace": "lake", "name": "orders"}],
  "outputs": [{"namespace": "models", "name": "churn", "facets": {"datasetType": {"datasetType": "MODEL"}}}]}'

echo "# 3. Tag the snapshot the model was trained on (a producer version, id or tag names a version)."
curl -sf -X PUT "$URL/api/v1/namespaces/lake/datasets/orders/versions/7/tags/v1.0.0" | grep -o '"versionTags":\[[^]]*\]'

echo "# 4. The table is rewritten with another schema (Delta version 8)."
post '{"eventType": "COMPLETE", "eventTime": "2025-02-01T00:00:00Z", '"$P"',
  "run": {"runId": "'$EXTRACT_2'"}, "job": {"namespace": "etl", "name": "extract_orders"},
  "outputs": [{"namespace": "lake", "name": "orders", "facets": {
    "schema": {"fields": [{"name": "id", "type": "BIGINT"}, {"name": "region", "type": "TEXT"}]},
    "version": {"datasetVersion": "8"}},
    "outputFacets": {"outputStatistics": {"rowCount": 1500, "size": 90000}}}]}'

echo "# 5. What changed since the model was trained?"
curl -sf "$URL/api/v1/jobs/runs/$TRAIN/changed-inputs"; echo
curl -sf "$URL/api/v1/namespaces/lake/datasets/orders/versions/diff?from=v1.0.0&to=8"; echo

echo "# 6. The manifest: the job version and the exact snapshot (producerVersion 7) the model read."
"${TRIBUTARY[@]}" manifest --server "$URL" --run "$TRAIN" --depth 1 --format toml

echo "# 7. The build gate: the tagged snapshot and every input of the training run still exist."
"${TRIBUTARY[@]}" check --server "$URL" --expect lake:orders@v1.0.0 --inputs-of "$TRAIN"
if "${TRIBUTARY[@]}" check --server "$URL" --expect lake:orders@v2.0.0; then
  echo "unexpected: v2.0.0 was never tagged" >&2; exit 1
fi
echo "# done: retrain from lake.orders at Delta version 7 (e.g. VERSION AS OF 7) to reproduce the model."
