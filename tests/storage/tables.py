"""Real Delta and Iceberg tables for the snapshot checks (server/tests/storage.rs).

    tables.py write WORKDIR OPENLINEAGE_URL [S3_ENDPOINT]
        writes a Delta table and an Iceberg table, locally and on the S3 endpoint when given, and a
        Delta table whose early log the clean-up took (read from its checkpoint); the Iceberg
        tables
        (SQL catalog on SQLite, local warehouse), three versions each, and for every version
        sends the OpenLineage event of the run that wrote it (the `version` and `storage`
        dataset facets) through openlineage-python's HTTP transport; prints what it wrote as
        JSON.
    tables.py prune WORKDIR [S3_ENDPOINT]
        VACUUMs the Delta tables with zero retention and expires every Iceberg snapshot but the
        current one.
"""

import json
import os
import sys
import uuid
from datetime import datetime, timezone

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import dataset_version_dataset, storage_dataset
from openlineage.client.transport.http import HttpConfig, HttpTransport
from pyiceberg.catalog.sql import SqlCatalog

PRODUCER = "https://github.com/tributary/tests/storage"
S3 = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": "us-east-1",
    "AWS_ALLOW_HTTP": "true",
    "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
}


def batch(first):
    return pa.table({"id": pa.array(range(first, first + 3), pa.int64()),
                     "amount": pa.array([1.5, 2.5, 3.5], pa.float64())})


def emit(client, job, namespace, name, version, layer):
    facets = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(version)),
        "storage": storage_dataset.StorageDatasetFacet(storageLayer=layer, fileFormat="parquet"),
    }
    client.emit(RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime.now(timezone.utc).isoformat(),
        run=Run(runId=str(uuid.uuid4())),
        job=Job(namespace="lake", name=job),
        producer=PRODUCER,
        outputs=[OutputDataset(namespace=namespace, name=name, facets=facets)],
    ))


def delta_versions(uri, options):
    """Version 0 written, 1 appended, 2 overwritten: VACUUM may take 0's and 1's files."""
    write_deltalake(uri, batch(0), mode="overwrite", storage_options=options)
    write_deltalake(uri, batch(3), mode="append", storage_options=options)
    write_deltalake(uri, batch(6), mode="overwrite", storage_options=options)
    return [str(v) for v in range(DeltaTable(uri, storage_options=options).version() + 1)]


def catalog(work):
    os.makedirs(f"{work}/iceberg/warehouse", exist_ok=True)
    return SqlCatalog("tests", uri=f"sqlite:///{work}/iceberg/catalog.db",
                      warehouse=f"file://{work}/iceberg/warehouse")


def s3_catalog(work, endpoint):
    return SqlCatalog("s3", uri=f"sqlite:///{work}/iceberg/s3-catalog.db", warehouse="s3://lake/iceberg",
                      **{"s3.endpoint": endpoint, "s3.access-key-id": "testing",
                         "s3.secret-access-key": "testing", "s3.region": "us-east-1"})


def iceberg_snapshots(cat):
    """Two appends and an overwrite: four snapshots (the overwrite deletes, then appends)."""
    cat.create_namespace("lake")
    table = cat.create_table("lake.events", schema=batch(0).schema)
    table.append(batch(0))
    table.append(batch(3))
    table.overwrite(batch(6))
    return table.location(), [str(s.snapshot_id) for s in table.refresh().snapshots()]


def expire_all_but_current(cat):
    table = cat.load_table("lake.events")
    current = table.current_snapshot().snapshot_id
    old = [s.snapshot_id for s in table.snapshots() if s.snapshot_id != current]
    table.maintenance.expire_snapshots().by_ids(old).commit()


def s3_bucket(endpoint):
    import boto3
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")


def write(work, url, endpoint=None):
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=url)))
    out = {}
    path = f"{work}/delta/orders"
    out["delta"] = {"namespace": "file", "name": path, "versions": delta_versions(path, None)}
    for v in out["delta"]["versions"]:
        emit(client, "load_orders", "file", path, v, "delta")

    # A table whose early commits the log clean-up took: versions 2 and 3 are read from the
    # checkpoint at 2 (Parquet) and the commit after it.
    path = f"{work}/delta/checkpointed"
    write_deltalake(path, batch(0), mode="overwrite",
                    configuration={"delta.logRetentionDuration": "interval 0 seconds"})
    write_deltalake(path, batch(3), mode="append")
    write_deltalake(path, batch(6), mode="append")
    DeltaTable(path).create_checkpoint()
    write_deltalake(path, batch(9), mode="append")
    DeltaTable(path).cleanup_metadata()
    out["checkpointed"] = {"namespace": "file", "name": path, "versions": ["2", "3"]}
    for v in out["checkpointed"]["versions"]:
        emit(client, "load_checkpointed", "file", path, v, "delta")

    location, snapshots = iceberg_snapshots(catalog(work))
    location = location.removeprefix("file://")
    out["iceberg"] = {"namespace": "file", "name": location, "versions": snapshots}
    for s in snapshots:
        emit(client, "load_events", "file", location, s, "iceberg")

    if endpoint:
        s3_bucket(endpoint)
        options = dict(S3, AWS_ENDPOINT_URL=endpoint)
        versions = delta_versions("s3://lake/orders", options)
        out["s3delta"] = {"namespace": "s3://lake", "name": "orders", "versions": versions}
        for v in versions:
            emit(client, "load_s3_orders", "s3://lake", "orders", v, "delta")
        location, snapshots = iceberg_snapshots(s3_catalog(work, endpoint))
        name = location.removeprefix("s3://lake/")
        out["s3iceberg"] = {"namespace": "s3://lake", "name": name, "versions": snapshots}
        for v in snapshots:
            emit(client, "load_s3_events", "s3://lake", name, v, "iceberg")
    print(json.dumps(out))


def prune(work, endpoint=None):
    DeltaTable(f"{work}/delta/orders").vacuum(
        retention_hours=0, dry_run=False, enforce_retention_duration=False)
    path = f"{work}/delta/checkpointed"
    write_deltalake(path, batch(12), mode="overwrite")
    DeltaTable(path).vacuum(retention_hours=0, dry_run=False, enforce_retention_duration=False)
    expire_all_but_current(catalog(work))
    if endpoint:
        expire_all_but_current(s3_catalog(work, endpoint))
        DeltaTable("s3://lake/orders", storage_options=dict(S3, AWS_ENDPOINT_URL=endpoint)).vacuum(
            retention_hours=0, dry_run=False, enforce_retention_duration=False)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"write": write, "prune": prune}[command](*args)
