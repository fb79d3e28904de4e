"""Drives Tributary's Marquez-compatible REST API with Marquez's own Python client.

Usage: python marquez_python.py http://127.0.0.1:PORT CORPUS_VALID_DIR
Loads every event of the corpus through POST /api/v1/lineage, then calls every read method of
marquez-python and asserts on the values. Exits non-zero with the reason on any mismatch.
With MARQUEZ_API_KEY set, every request carries it (`Authorization: Bearer …`), as clients of a
server that requires keys for reads too must.
"""

import json
import os
import pathlib
import sys
import urllib.request

from marquez_client import MarquezClient


KEY = os.environ.get("MARQUEZ_API_KEY")


def post(base, body):
    headers = {"Content-Type": "application/json"}
    if KEY:
        headers["Authorization"] = f"Bearer {KEY}"
    req = urllib.request.Request(base + "/api/v1/lineage", data=body, method="POST", headers=headers)
    with urllib.request.urlopen(req) as r:
        assert r.status == 201, r.status


def main(base, corpus):
    files = sorted(pathlib.Path(corpus).rglob("*.json"))
    assert files, f"no events under {corpus}"
    events = []
    for f in files:
        body = f.read_bytes()
        post(base, body)
        events.append(json.loads(body))

    client = MarquezClient(url=base, api_key=KEY)

    namespaces = {n["name"] for n in client.list_namespaces()["namespaces"]}
    expected_ns = {e["job"]["namespace"] for e in events if "job" in e}
    assert expected_ns <= namespaces, expected_ns - namespaces

    # A run event of the corpus with an output: its dataset, versions, job and run.
    event = next(e for e in events if e.get("eventType") == "COMPLETE" and e.get("outputs")
                 and e["outputs"][0].get("facets", {}).get("schema"))
    out = event["outputs"][0]
    ns, name = out["namespace"], out["name"]

    datasets = client.list_datasets(ns, limit=1000)["datasets"]
    assert name in {d["name"] for d in datasets}, name

    ds = client.get_dataset(ns, name)
    assert ds["id"] == {"namespace": ns, "name": name}, ds["id"]
    assert [f["name"] for f in ds["fields"]] == [f["name"] for f in out["facets"]["schema"]["fields"]]
    assert ds["currentVersion"], ds

    versions = client.list_dataset_versions(ns, name)["versions"]
    assert versions and versions[0]["version"] == ds["currentVersion"], versions[:1]
    version = client.get_dataset_version(ns, name, versions[0]["version"])
    assert version["version"] == ds["currentVersion"]
    assert version["createdByRun"]["id"], version["createdByRun"]

    job_ns, job_name = event["job"]["namespace"], event["job"]["name"]
    jobs = client.list_jobs(job_ns, limit=1000)["jobs"]
    assert job_name in {j["name"] for j in jobs}, job_name
    job = client.get_job(job_ns, job_name)
    assert {"namespace": ns, "name": name} in job["outputs"], job["outputs"]
    assert job["latestRun"] is not None

    runs = client.list_job_runs(job_ns, job_name)["runs"]
    run_ids = {r["id"] for r in runs}
    assert event["run"]["runId"] in run_ids, (event["run"]["runId"], run_ids)
    run = client.get_job_run(event["run"]["runId"])
    assert run["state"] == "COMPLETED", run["state"]
    assert run["outputDatasetVersions"][0]["datasetVersionId"]["name"] == name

    listed = client.list_events(limit=1000)
    assert listed["totalCount"] >= len({json.dumps(e, sort_keys=True) for e in events}), listed["totalCount"]

    client.create_tag("PII", "personal data")
    tagged = client.tag_dataset(ns, name, "PII")
    assert "PII" in tagged["tags"], tagged["tags"]
    field = out["facets"]["schema"]["fields"][0]["name"]
    tagged = client.tag_dataset_field(ns, name, field, "PII")
    assert "PII" in next(f for f in tagged["fields"] if f["name"] == field)["tags"]
    tags = {t["name"]: t.get("description") for t in client.list_tags()["tags"]}
    assert tags.get("PII") == "personal data", tags

    print(f"marquez-python: {len(files)} corpus events loaded; every read method answered as Marquez would")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), sys.argv[2])
