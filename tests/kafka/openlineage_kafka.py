"""Sends the same events with the official OpenLineage Python client twice: through its Kafka
transport (to a topic a Tributary server consumes) and through its HTTP transport (to a second
Tributary server), so that a test can compare what the two servers answer.

Usage: python openlineage_kafka.py BROKERS TOPIC HTTP_URL [EVENT_FILE…]
EVENT_FILEs (the shared corpus) hold an event or an array of events as JSON; they are sent as they
are (as dicts, the client gives them no message key). Prints how many events went each way.
"""

import json
import sys
import uuid
from datetime import datetime, timedelta, timezone

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import parent_run, schema_dataset, sql_job
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.kafka import KafkaConfig, KafkaTransport

PRODUCER = "https://github.com/tributary/tests/openlineage_kafka"


def events():
    """A DAG run with three tasks (the parent facet gives the client's message key), each task a
    run that starts and completes, reading and writing tables with schemas."""
    t0 = datetime(2024, 6, 1, 10, 0, tzinfo=timezone.utc)
    dag_run = str(uuid.UUID(int=1))
    parent = {"parent": parent_run.ParentRunFacet(
        run=parent_run.Run(runId=dag_run), job=parent_run.Job(namespace="airflow", name="orders_dag"))}
    schema = schema_dataset.SchemaDatasetFacet(fields=[
        schema_dataset.SchemaDatasetFacetFields(name="id", type="bigint"),
        schema_dataset.SchemaDatasetFacetFields(name="amount", type="numeric"),
    ])
    tables = ["raw.orders", "staging.orders", "marts.daily", "marts.by_customer"]
    steps = [("extract", 0, 1), ("transform", 1, 2), ("aggregate", 1, 3)]
    out = []
    for i, (task, src, dst) in enumerate(steps):
        run_id = str(uuid.UUID(int=100 + i))
        job = Job(namespace="airflow", name=f"orders_dag.{task}",
                  facets={"sql": sql_job.SQLJobFacet(query=f"INSERT INTO {tables[dst]} SELECT * FROM {tables[src]}")})
        inputs = [InputDataset(namespace="postgres://db:5432", name=tables[src], facets={"schema": schema})]
        outputs = [OutputDataset(namespace="postgres://db:5432", name=tables[dst], facets={"schema": schema})]
        for j, state in enumerate([RunState.START, RunState.COMPLETE]):
            out.append(RunEvent(
                eventType=state, eventTime=(t0 + timedelta(minutes=10 * i + j)).isoformat(),
                run=Run(runId=run_id, facets=parent), job=job, producer=PRODUCER,
                inputs=inputs, outputs=outputs))
    return out


def corpus(paths):
    for path in paths:
        with open(path) as f:
            doc = json.load(f)
        yield from doc if isinstance(doc, list) else [doc]


def main(brokers, topic, http_url, *files):
    kafka = KafkaTransport(KafkaConfig(topic=topic, config={"bootstrap.servers": brokers, "acks": "all"}, flush=True))
    http = HttpTransport(HttpConfig(url=http_url))
    typed = events()
    for e in typed:
        OpenLineageClient(transport=kafka).emit(e)
        OpenLineageClient(transport=http).emit(e)
    # The client's `emit` takes only its event classes; its transports take the corpus's JSON.
    raw = list(corpus(files))
    for e in raw:
        kafka.emit(e)
        http.emit(e)
    kafka.close(10)
    print(len(typed) + len(raw))


if __name__ == "__main__":
    main(*sys.argv[1:])
