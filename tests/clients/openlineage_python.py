"""Drives a Tributary server with the official OpenLineage Python client.

Usage: python openlineage_python.py http://127.0.0.1:PORT
With OPENLINEAGE_API_KEY set, the client sends it (`Authorization: Bearer …`), as it would to a
server that requires keys for ingest; reads stay anonymous.
Exits non-zero (with the reason) when the server does not store what the client sent.
"""

import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
    StaticDataset,
)
from openlineage.client.facet_v2 import documentation_dataset, schema_dataset, sql_job
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport

PRODUCER = "https://github.com/tributary/tests/openlineage_python"


def get(base, path):
    with urllib.request.urlopen(base + path) as r:
        return json.loads(r.read())


def main(base):
    key = os.environ.get("OPENLINEAGE_API_KEY")
    auth = {"auth": ApiKeyTokenProvider({"apiKey": key})} if key else {}
    plain = OpenLineageClient(transport=HttpTransport(HttpConfig(url=base, **auth)))
    gzipped = OpenLineageClient(transport=HttpTransport(HttpConfig(url=base, compression=HttpCompression.GZIP, **auth)))

    run_id = str(uuid.uuid4())
    job = Job(namespace="client-tests", name="orders_daily",
              facets={"sql": sql_job.SQLJobFacet(query="INSERT INTO daily SELECT * FROM orders")})
    schema = schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name="day", type="date"),
        schema_dataset.SchemaDatasetFacetFields(name="total", type="numeric"),
    ])
    inputs = [InputDataset(namespace="postgres://db:5432", name="shop.public.orders")]
    outputs = [OutputDataset(namespace="postgres://db:5432", name="shop.public.daily", facets={"schema": schema})]
    now = datetime.now(timezone.utc).isoformat()

    plain.emit(RunEvent(eventType=RunState.START, eventTime=now, run=Run(runId=run_id), job=job,
                        producer=PRODUCER, inputs=inputs, outputs=outputs))
    gzipped.emit(RunEvent(eventType=RunState.COMPLETE, eventTime=now, run=Run(runId=run_id), job=job,
                          producer=PRODUCER, inputs=inputs, outputs=outputs))
    plain.emit(DatasetEvent(eventTime=now, producer=PRODUCER, dataset=StaticDataset(
        namespace="postgres://db:5432", name="shop.public.daily",
        facets={"documentation": documentation_dataset.DocumentationDatasetFacet(description="daily totals")})))
    plain.emit(JobEvent(eventTime=now, producer=PRODUCER, job=Job(namespace="client-tests", name="defined_only"),
                        inputs=inputs, outputs=outputs))

    if key:
        # The server does require the key: the same kind of event without it is refused.
        anonymous = urllib.request.Request(
            base + "/api/v1/lineage", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"eventTime": now, "producer": PRODUCER, "job": {"namespace": "client-tests", "name": "sneaky"},
                             "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"}).encode())
        try:
            urllib.request.urlopen(anonymous)
            raise AssertionError("an event without the key was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 401, e.code

    events = get(base, "/api/v1/events/lineage?limit=50")
    assert events["totalCount"] == 4, events["totalCount"]
    kinds = sorted(e.get("eventType", "none") for e in events["events"])
    assert kinds == ["COMPLETE", "START", "none", "none"], kinds

    run = get(base, f"/api/v1/jobs/runs/{run_id}")
    assert run["state"] == "COMPLETED", run["state"]
    assert run["outputDatasetVersions"][0]["datasetVersionId"]["name"] == "shop.public.daily"

    ds = get(base, "/api/v1/namespaces/postgres:%2F%2Fdb:5432/datasets/shop.public.daily")
    assert [f["name"] for f in ds["fields"]] == ["day", "total"], ds["fields"]
    assert ds["description"] == "daily totals", ds["description"]
    print("openlineage-python: 4 events emitted and read back")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
