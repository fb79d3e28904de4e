//! The OpenAPI 3.1 document of the REST surface, served at `/api/v1/openapi.json` and checked in
//! at `schema/openapi.json` (`tributary export-schema` writes it; a test fails when they drift).

use serde_json::{json, Map, Value};

/// One documented operation.
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    params: &'static [&'static str],
    body: Option<&'static str>,
    ok: (u16, &'static str),
}

const PAGE: &[&str] = &["limit", "offset"];

const OPS: &[Op] = &[
    Op {
        method: "get",
        path: "/api/v1/lineage",
        summary: "The lineage graph around a node, in Marquez's shape, from the in-memory index; direction and asOf beyond Marquez",
        params: &["nodeId", "depth", "direction", "asOf"],
        body: None,
        ok: (200, "LineageGraph"),
    },
    Op {
        method: "get",
        path: "/api/v1/column-lineage",
        summary: "Field-level lineage in Marquez's shape, from the columnLineage facets of the versions current at asOf (now by default)",
        params: &["nodeId", "depth", "withDownstream", "asOf"],
        body: None,
        ok: (200, "LineageGraph"),
    },
    Op {
        method: "get",
        path: "/api/v1/runlineage/upstream",
        summary: "A run and, level by level, the runs that wrote the dataset versions it read (Marquez's shape)",
        params: &["runId", "depth"],
        body: None,
        ok: (200, "UpstreamRunLineage"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/diff",
        summary: "What changed between two versions (ids, tags or producer versions): fields added, removed, changed; facets; statistics; the runs that wrote each",
        params: &["namespace", "dataset", "from", "to"],
        body: None,
        ok: (200, "VersionDiff"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/{version}/snapshot",
        summary: "Whether the version's snapshot can still be read where the data lives (Delta log and files, Iceberg snapshot, DVC object, lakeFS commit): present, gone, unchecked or none",
        params: &["namespace", "dataset", "version"],
        body: None,
        ok: (200, "SnapshotState"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/version-tags",
        summary: "Every tag ever put on a version of the dataset, oldest first, with when it moved or was removed",
        params: &["namespace", "dataset"],
        body: None,
        ok: (200, "VersionTagHistory"),
    },
    Op {
        method: "put",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/{version}/tags/{tag}",
        summary: "Tag a dataset version (moving the tag from another version of the dataset)",
        params: &["namespace", "dataset", "version", "tag"],
        body: None,
        ok: (200, "DatasetVersion"),
    },
    Op {
        method: "delete",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/{version}/tags/{tag}",
        summary: "Take a tag off a dataset version",
        params: &["namespace", "dataset", "version", "tag"],
        body: None,
        ok: (200, "DatasetVersion"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/{version}/reproduce",
        summary: "What made a dataset version (a model): the run that wrote it with its manifest, and for every input how to read that exact data again (DVC checkout, Delta or Iceberg time travel, lakeFS ref); exact is false when any input has no snapshot id",
        params: &["namespace", "dataset", "version", "reproduceDepth"],
        body: None,
        ok: (200, "Reproduction"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/reproduce",
        summary: "The same for the dataset's current version",
        params: &["namespace", "dataset", "reproduceDepth"],
        body: None,
        ok: (200, "Reproduction"),
    },
    Op {
        method: "get",
        path: "/api/v1/jobs/runs/{run}/manifest",
        summary: "What it takes to reproduce a run: job version, exact input and output versions, and (with depth) the runs that wrote the inputs",
        params: &["run", "manifestDepth", "format"],
        body: None,
        ok: (200, "Manifest"),
    },
    Op {
        method: "get",
        path: "/api/v1/jobs/runs/{run}/changed-inputs",
        summary: "Inputs whose current version differs from the one the run read, with the diff",
        params: &["run"],
        body: None,
        ok: (200, "ChangedInputs"),
    },
    Op {
        method: "post",
        path: "/api/v1/lineage",
        summary:
            "Send one OpenLineage event (RunEvent, JobEvent or DatasetEvent); 201 when committed",
        params: &[],
        body: Some("OpenLineageEvent"),
        ok: (201, "IngestWarnings"),
    },
    Op {
        method: "post",
        path: "/api/v1/lineage/batch",
        summary: "Send an array of events; good ones are stored even when others fail",
        params: &[],
        body: Some("OpenLineageEventArray"),
        ok: (200, "BatchResponse"),
    },
    Op {
        method: "post",
        path: "/api/v1/integrations/lakefs",
        summary: "lakeFS action webhooks: post-commit and post-merge record the commit as a version of each ?path dataset (namespace lakefs://<repository>), post-create-tag tags those versions, pre-merge answers 412 when an ?expect is not met",
        params: &["path", "expect", "storage"],
        body: Some("LakeFsHook"),
        ok: (200, "LakeFsAnswer"),
    },
    Op {
        method: "get",
        path: "/api/v1/events/lineage",
        summary: "The raw event log, newest first by default",
        params: &["before", "after", "sortDirection", "limit", "offset"],
        body: None,
        ok: (200, "EventList"),
    },
    Op {
        method: "get",
        path: "/api/v1/events",
        summary: "Alias of /api/v1/events/lineage (marquez-python's list_events)",
        params: &["before", "after", "sortDirection", "limit", "offset"],
        body: None,
        ok: (200, "EventList"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces",
        summary: "List namespaces",
        params: PAGE,
        body: None,
        ok: (200, "NamespaceList"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}",
        summary: "Get a namespace",
        params: &["namespace"],
        body: None,
        ok: (200, "Namespace"),
    },
    Op {
        method: "put",
        path: "/api/v1/namespaces/{namespace}",
        summary: "Create a namespace or set its owner and description",
        params: &["namespace"],
        body: Some("NamespaceInput"),
        ok: (200, "Namespace"),
    },
    Op {
        method: "delete",
        path: "/api/v1/namespaces/{namespace}",
        summary: "Soft-delete a namespace",
        params: &["namespace"],
        body: None,
        ok: (200, "Namespace"),
    },
    Op {
        method: "get",
        path: "/api/v1/sources",
        summary: "List sources",
        params: PAGE,
        body: None,
        ok: (200, "SourceList"),
    },
    Op {
        method: "get",
        path: "/api/v1/sources/{source}",
        summary: "Get a source",
        params: &["source"],
        body: None,
        ok: (200, "Source"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets",
        summary: "List a namespace's datasets",
        params: &["namespace", "limit", "offset"],
        body: None,
        ok: (200, "DatasetList"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}",
        summary: "Get a dataset (a symlink alias resolves to its dataset)",
        params: &["namespace", "dataset"],
        body: None,
        ok: (200, "Dataset"),
    },
    Op {
        method: "delete",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}",
        summary: "Soft-delete a dataset; it returns when an event names it",
        params: &["namespace", "dataset"],
        body: None,
        ok: (200, "Dataset"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions",
        summary: "List a dataset's versions, newest first",
        params: &["namespace", "dataset", "limit", "offset"],
        body: None,
        ok: (200, "DatasetVersionList"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/{version}",
        summary: "Get a dataset version (by id or producer-supplied version)",
        params: &["namespace", "dataset", "version"],
        body: None,
        ok: (200, "DatasetVersion"),
    },
    Op {
        method: "post",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/tags/{tag}",
        summary: "Tag a dataset",
        params: &["namespace", "dataset", "tag"],
        body: None,
        ok: (200, "Dataset"),
    },
    Op {
        method: "delete",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/tags/{tag}",
        summary: "Untag a dataset",
        params: &["namespace", "dataset", "tag"],
        body: None,
        ok: (200, "Dataset"),
    },
    Op {
        method: "post",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/fields/{field}/tags/{tag}",
        summary: "Tag a dataset field",
        params: &["namespace", "dataset", "field", "tag"],
        body: None,
        ok: (200, "Dataset"),
    },
    Op {
        method: "delete",
        path: "/api/v1/namespaces/{namespace}/datasets/{dataset}/fields/{field}/tags/{tag}",
        summary: "Untag a dataset field",
        params: &["namespace", "dataset", "field", "tag"],
        body: None,
        ok: (200, "Dataset"),
    },
    Op {
        method: "get",
        path: "/api/v1/tags",
        summary: "List tags",
        params: &[],
        body: None,
        ok: (200, "TagList"),
    },
    Op {
        method: "put",
        path: "/api/v1/tags/{tag}",
        summary: "Create a tag or set its description",
        params: &["tag"],
        body: Some("TagInput"),
        ok: (200, "Tag"),
    },
    Op {
        method: "get",
        path: "/api/v1/jobs",
        summary: "List all jobs, optionally by the state of their latest run",
        params: &["lastRunStates", "limit", "offset"],
        body: None,
        ok: (200, "JobList"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/jobs",
        summary: "List a namespace's jobs",
        params: &["namespace", "lastRunStates", "limit", "offset"],
        body: None,
        ok: (200, "JobList"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/jobs/{job}",
        summary: "Get a job: current inputs and outputs, latest run",
        params: &["namespace", "job"],
        body: None,
        ok: (200, "Job"),
    },
    Op {
        method: "delete",
        path: "/api/v1/namespaces/{namespace}/jobs/{job}",
        summary: "Soft-delete a job",
        params: &["namespace", "job"],
        body: None,
        ok: (200, "Job"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/jobs/{job}/versions",
        summary: "List a job's versions with their validity intervals, newest first",
        params: &["namespace", "job", "limit", "offset"],
        body: None,
        ok: (200, "JobVersionList"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/jobs/{job}/versions/{version}",
        summary: "Get a job version",
        params: &["namespace", "job", "version"],
        body: None,
        ok: (200, "JobVersion"),
    },
    Op {
        method: "get",
        path: "/api/v1/namespaces/{namespace}/jobs/{job}/runs",
        summary: "List a job's runs, newest first",
        params: &["namespace", "job", "limit", "offset"],
        body: None,
        ok: (200, "RunList"),
    },
    Op {
        method: "post",
        path: "/api/v1/namespaces/{namespace}/jobs/{job}/tags/{tag}",
        summary: "Tag a job",
        params: &["namespace", "job", "tag"],
        body: None,
        ok: (200, "Job"),
    },
    Op {
        method: "delete",
        path: "/api/v1/namespaces/{namespace}/jobs/{job}/tags/{tag}",
        summary: "Untag a job",
        params: &["namespace", "job", "tag"],
        body: None,
        ok: (200, "Job"),
    },
    Op {
        method: "get",
        path: "/api/v1/jobs/runs/{run}",
        summary: "Get a run with its inputs and outputs bound to versions",
        params: &["run"],
        body: None,
        ok: (200, "Run"),
    },
    Op {
        method: "get",
        path: "/api/v1/jobs/runs/{run}/facets",
        summary: "A run's run facets or job facets",
        params: &["run", "type"],
        body: None,
        ok: (200, "RunFacets"),
    },
    Op {
        method: "get",
        path: "/api/v1/search",
        summary: "Search datasets and jobs by name",
        params: &[
            "q",
            "filter",
            "sort",
            "searchLimit",
            "namespace",
            "beforeDate",
            "afterDate",
        ],
        body: None,
        ok: (200, "SearchResult"),
    },
    Op {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This document",
        params: &[],
        body: None,
        ok: (200, "Any"),
    },
    Op {
        method: "post",
        path: "/api/v1/graphql",
        summary: "GraphQL (SDL at schema/lineage.graphql); documents past the limits are refused with 400/413 before they run",
        params: &[],
        body: Some("GraphQLRequest"),
        ok: (200, "GraphQLResponse"),
    },
    Op {
        method: "get",
        path: "/api/v1/stats/lineage-events",
        summary: "Events by type per hour (DAY) or per day (WEEK)",
        params: &["period", "timezone"],
        body: None,
        ok: (200, "LineageStats"),
    },
    Op {
        method: "get",
        path: "/api/v1/stats/jobs",
        summary: "Jobs, cumulatively, per hour (DAY) or per day (WEEK)",
        params: &["period", "timezone"],
        body: None,
        ok: (200, "IntervalStats"),
    },
    Op {
        method: "get",
        path: "/api/v1/stats/datasets",
        summary: "Datasets, cumulatively, per hour (DAY) or per day (WEEK)",
        params: &["period", "timezone"],
        body: None,
        ok: (200, "IntervalStats"),
    },
    Op {
        method: "get",
        path: "/api/v1/stats/sources",
        summary: "Sources, cumulatively, per hour (DAY) or per day (WEEK)",
        params: &["period", "timezone"],
        body: None,
        ok: (200, "IntervalStats"),
    },
    Op {
        method: "get",
        path: "/api/v1/audit",
        summary: "Admin actions (deletes, tags, namespace and tag changes, GraphQL mutations, keys, retention), newest first, with who took them; needs the admin scope",
        params: PAGE,
        body: None,
        ok: (200, "AuditPage"),
    },
    Op {
        method: "get",
        path: "/healthz",
        summary: "The process answers",
        params: &[],
        body: None,
        ok: (200, "Status"),
    },
    Op {
        method: "get",
        path: "/readyz",
        summary: "The database answers too (503 otherwise)",
        params: &[],
        body: None,
        ok: (200, "Status"),
    },
];

fn param(name: &str) -> Value {
    let (location, schema, description, required) = match name {
        "namespace" | "dataset" | "job" | "source" | "tag" | "field" | "version" => (
            "path",
            json!({"type": "string"}),
            "URL-encoded when it contains '/', ':' or spaces",
            true,
        ),
        "run" => (
            "path",
            json!({"type": "string", "format": "uuid"}),
            "run id",
            true,
        ),
        "limit" => (
            "query",
            json!({"type": "integer", "minimum": 0, "default": 100}),
            "page size",
            false,
        ),
        "searchLimit" => {
            return json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 10}})
        }
        "offset" => (
            "query",
            json!({"type": "integer", "minimum": 0, "default": 0}),
            "rows to skip",
            false,
        ),
        "before" | "after" => (
            "query",
            json!({"type": "string", "format": "date-time"}),
            "event time bound",
            false,
        ),
        "beforeDate" => {
            return json!({"name": "before", "in": "query", "schema": {"type": "string", "format": "date"}})
        }
        "afterDate" => {
            return json!({"name": "after", "in": "query", "schema": {"type": "string", "format": "date"}})
        }
        "sortDirection" => (
            "query",
            json!({"type": "string", "enum": ["desc", "asc"], "default": "desc"}),
            "",
            false,
        ),
        "lastRunStates" => (
            "query",
            json!({"type": "string"}),
            "comma-separated NEW, RUNNING, COMPLETED, FAILED, ABORTED",
            false,
        ),
        "type" => (
            "query",
            json!({"type": "string", "enum": ["run", "job"], "default": "run"}),
            "",
            false,
        ),
        "q" => (
            "query",
            json!({"type": "string"}),
            "text the name contains (case-insensitive)",
            true,
        ),
        "filter" => (
            "query",
            json!({"type": "string", "enum": ["DATASET", "JOB"]}),
            "",
            false,
        ),
        "nodeId" => (
            "query",
            json!({"type": "string"}),
            "dataset:{namespace}:{name} or job:{namespace}:{name}",
            true,
        ),
        "runId" => (
            "query",
            json!({"type": "string", "format": "uuid"}),
            "run id",
            true,
        ),
        "from" | "to" => (
            "query",
            json!({"type": "string"}),
            "a version id, tag or producer-supplied version",
            true,
        ),
        "reproduceDepth" => {
            return json!({"name": "depth", "in": "query", "description": "levels of producing runs to include", "schema": {"type": "integer", "minimum": 0, "maximum": 20, "default": 1}})
        }
        "manifestDepth" => {
            return json!({"name": "depth", "in": "query", "description": "levels of producing runs to include", "schema": {"type": "integer", "minimum": 0, "maximum": 20, "default": 0}})
        }
        "format" => (
            "query",
            json!({"type": "string", "enum": ["json", "toml"], "default": "json"}),
            "",
            false,
        ),
        "depth" => (
            "query",
            json!({"type": "integer", "minimum": 0, "default": 20}),
            "edges from the node, at most",
            false,
        ),
        "direction" => (
            "query",
            json!({"type": "string", "enum": ["UPSTREAM", "DOWNSTREAM", "BOTH"], "default": "BOTH"}),
            "",
            false,
        ),
        "asOf" => (
            "query",
            json!({"type": "string", "format": "date-time"}),
            "the graph as it was at this time",
            false,
        ),
        "withDownstream" => (
            "query",
            json!({"type": "boolean", "default": false}),
            "also walk downstream",
            false,
        ),
        "period" => (
            "query",
            json!({"type": "string", "enum": ["DAY", "WEEK"], "default": "DAY"}),
            "",
            false,
        ),
        "timezone" => (
            "query",
            json!({"type": "string", "default": "UTC"}),
            "UTC or a fixed offset such as +02:00",
            false,
        ),
        "sort" => (
            "query",
            json!({"type": "string", "enum": ["NAME", "UPDATE_AT"], "default": "NAME"}),
            "",
            false,
        ),
        "path" => (
            "query",
            json!({"type": "array", "items": {"type": "string"}}),
            "a repository path that is a dataset (repeatable)",
            false,
        ),
        "expect" => (
            "query",
            json!({"type": "array", "items": {"type": "string"}}),
            "NAMESPACE:NAME, NAMESPACE:NAME@TAG or NAMESPACE:NAME#VERSION a pre-merge needs (repeatable)",
            false,
        ),
        "storage" => (
            "query",
            json!({"type": "boolean", "default": false}),
            "pre-merge: also ask each expected snapshot's storage whether it can still be read",
            false,
        ),
        other => panic!("undocumented parameter {other}"),
    };
    json!({"name": name, "in": location, "required": required, "schema": schema, "description": description})
}

fn obj(props: Value) -> Value {
    json!({"type": "object", "properties": props})
}

fn list_of(key: &str, item: &str) -> Value {
    obj(
        json!({key: {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}, "totalCount": {"type": "integer"}}),
    )
}

fn components() -> Value {
    let s = |t: &str| json!({"type": t});
    let ns = s("string");
    let id2 = obj(json!({"namespace": ns, "name": ns}));
    let id3 = obj(json!({"namespace": ns, "name": ns, "version": ns}));
    let facets = json!({"type": "object", "additionalProperties": {"type": "object"}});
    let field = obj(
        json!({"name": ns, "type": ns, "description": ns, "tags": {"type": "array", "items": ns}}),
    );
    let run = obj(json!({
        "id": ns, "runId": ns, "createdAt": ns, "updatedAt": ns, "nominalStartTime": ns, "nominalEndTime": ns,
        "state": {"type": "string", "enum": ["NEW", "RUNNING", "COMPLETED", "FAILED", "ABORTED"]},
        "startedAt": ns, "endedAt": ns, "durationMs": s("integer"), "jobVersion": id3, "parentRunId": ns,
        "inputDatasetVersions": {"type": "array", "items": obj(json!({"datasetVersionId": id3, "facets": facets}))},
        "outputDatasetVersions": {"type": "array", "items": obj(json!({"datasetVersionId": id3, "facets": facets}))},
        "facets": facets,
    }));
    let problem = obj(json!({"path": ns, "detail": ns}));
    let diff_field = obj(json!({"name": ns, "type": ns, "description": ns}));
    let stat_delta = obj(json!({"from": s("integer"), "to": s("integer"), "delta": s("integer")}));
    let run_ref =
        obj(json!({"id": ns, "state": ns, "jobNamespace": ns, "jobName": ns, "jobVersion": ns}));
    let version_side = obj(json!({
        "version": ns, "producerVersion": ns, "createdAt": ns, "tags": {"type": "array", "items": ns}, "createdByRun": run_ref,
    }));
    let manifest_dataset = obj(json!({
        "datasetId": ns, "namespace": ns, "name": ns, "version": ns, "producerVersion": ns,
        "tags": {"type": "array", "items": ns}, "createdAt": ns, "schema": {"type": "array", "items": diff_field.clone()},
        "checksum": ns, "producedByRun": ns,
    }));
    let edge = obj(json!({"origin": ns, "destination": ns}));
    let graph_node = obj(json!({
        "id": ns, "type": {"type": "string", "enum": ["DATASET", "JOB"]}, "data": {"type": "object"},
        "inEdges": {"type": "array", "items": edge}, "outEdges": {"type": "array", "items": edge},
    }));
    let lineage_graph =
        obj(json!({"truncated": s("boolean"), "graph": {"type": "array", "items": graph_node}}));
    json!({
        "Any": {},
        "GraphQLRequest": {"type": "object", "required": ["query"], "properties": {"query": ns, "variables": {"type": "object"}, "operationName": ns}},
        "GraphQLResponse": obj(json!({"data": {"type": "object"}, "errors": {"type": "array", "items": obj(json!({
            "message": ns, "extensions": obj(json!({"code": ns})),
        }))}})),
        "Status": obj(json!({"status": ns})),
        "AuditPage": obj(json!({
            "entries": {"type": "array", "items": obj(json!({
                "at": {"type": "string", "format": "date-time"}, "actor": ns, "action": ns, "target": ns, "remote": ns,
            }))},
            "totalCount": s("integer"),
        })),
        "SnapshotState": obj(json!({
            "version": ns,
            "producerVersion": {"type": ["string", "null"]},
            "state": {"type": "string", "enum": ["present", "gone", "unchecked", "none"]},
            "detail": ns,
        })),
        "LakeFsHook": {
            "type": "object",
            "description": "What lakeFS posts to a webhook",
            "required": ["event_type", "repository_id"],
            "properties": {
                "event_type": {"type": "string", "description": "post-commit, post-merge, post-create-tag, pre-merge; others are ignored"},
                "event_time": ns, "action_name": ns, "hook_id": ns, "repository_id": ns,
                "branch_id": ns, "source_ref": ns, "commit_id": ns, "tag_id": ns,
                "merge_source": ns, "commit_message": ns, "committer": ns,
                "commit_metadata": {"type": "object", "additionalProperties": ns},
            },
        },
        "LakeFsAnswer": {
            "type": "object",
            "description": "What was recorded (version, datasets), tagged (tag, commit, tagged), met (met) or ignored (ignored)",
        },
        "Error": obj(json!({"code": s("integer"), "message": ns, "errors": {"type": "array", "items": problem}})),
        "OpenLineageEvent": {"type": "object", "description": "An OpenLineage RunEvent, JobEvent or DatasetEvent (schema/openlineage-core.schema.json)"},
        "OpenLineageEventArray": {"type": "array", "items": {"$ref": "#/components/schemas/OpenLineageEvent"}},
        "IngestWarnings": obj(json!({"warnings": {"type": "array", "items": problem}})),
        "BatchResponse": obj(json!({
            "status": {"type": "string", "enum": ["SUCCESS", "PARTIAL_SUCCESS", "FAILURE"]},
            "summary": obj(json!({"received": s("integer"), "successful": s("integer"), "failed": s("integer")})),
            "failed_events": {"type": "array", "items": obj(json!({"index": s("integer"), "reason": ns, "errors": {"type": "array", "items": problem}}))},
        })),
        "EventList": obj(json!({"events": {"type": "array", "items": {"$ref": "#/components/schemas/OpenLineageEvent"}}, "totalCount": s("integer")})),
        "Namespace": obj(json!({"name": ns, "createdAt": ns, "updatedAt": ns, "ownerName": ns, "description": ns, "isHidden": s("boolean")})),
        "NamespaceInput": obj(json!({"ownerName": ns, "description": ns})),
        "NamespaceList": list_of("namespaces", "Namespace"),
        "Source": obj(json!({"type": ns, "name": ns, "createdAt": ns, "updatedAt": ns, "connectionUrl": ns, "description": ns})),
        "SourceList": list_of("sources", "Source"),
        "Dataset": obj(json!({
            "id": id2, "type": ns, "name": ns, "physicalName": ns, "createdAt": ns, "updatedAt": ns, "namespace": ns,
            "sourceName": ns, "fields": {"type": "array", "items": field}, "tags": {"type": "array", "items": ns},
            "lastModifiedAt": ns, "lastLifecycleState": ns, "description": ns, "currentVersion": ns, "facets": facets,
            "deleted": s("boolean"), "nodeId": ns,
        })),
        "DatasetList": list_of("datasets", "Dataset"),
        "DatasetVersion": obj(json!({
            "id": id3, "type": ns, "name": ns, "createdAt": ns, "version": ns, "producerVersion": ns, "namespace": ns,
            "sourceName": ns, "fields": {"type": "array", "items": field}, "lifecycleState": ns, "description": ns,
            "createdByRun": run, "checksum": ns, "checksumValid": s("boolean"), "versionTags": {"type": "array", "items": ns},
            "facets": facets, "outputFacets": facets,
        })),
        "VersionDiff": obj(json!({
            "datasetId": ns, "from": version_side.clone(), "to": version_side,
            "fieldsAdded": {"type": "array", "items": diff_field.clone()}, "fieldsRemoved": {"type": "array", "items": diff_field.clone()},
            "fieldsChanged": {"type": "array", "items": obj(json!({"name": ns, "from": diff_field.clone(), "to": diff_field.clone()}))},
            "facetsChanged": {"type": "array", "items": ns},
            "statistics": obj(json!({"rowCount": stat_delta.clone(), "bytes": stat_delta})),
        })),
        "UpstreamRunLineage": obj(json!({"runs": {"type": "array", "items": obj(json!({
            "job": obj(json!({"namespace": ns, "name": ns, "version": ns})),
            "run": obj(json!({"id": ns, "start": ns, "end": ns, "status": ns})),
            "inputs": {"type": "array", "items": obj(json!({"namespace": ns, "name": ns, "version": ns, "producedByRunId": ns}))},
        }))}})),
        "VersionTagHistory": obj(json!({"tags": {"type": "array", "items": obj(json!({"tag": ns, "version": ns, "taggedAt": ns, "untaggedAt": ns}))}})),
        "Manifest": obj(json!({
            "runId": ns, "state": ns, "startedAt": ns, "endedAt": ns, "nominalStartTime": ns,
            "job": obj(json!({"namespace": ns, "name": ns, "version": ns, "sourceCodeLocation": {"type": "object"}, "sql": ns, "sourceLanguage": ns, "sourceCode": ns})),
            "inputs": {"type": "array", "items": manifest_dataset.clone()}, "outputs": {"type": "array", "items": manifest_dataset},
            "upstream": {"type": "array", "items": {"$ref": "#/components/schemas/Manifest"}},
        })),
        "Reproduction": obj(json!({
            "datasetId": ns, "version": ns, "producerVersion": ns, "exact": s("boolean"),
            "manifest": {"$ref": "#/components/schemas/Manifest"},
            "inputs": {"type": "array", "items": obj(json!({
                "datasetId": ns, "namespace": ns, "name": ns, "version": ns, "producerVersion": ns,
                "kind": {"type": "string", "enum": ["dvc", "delta", "iceberg", "lakefs", "other", "fingerprint", "none"]},
                "command": ns, "exact": s("boolean"), "note": ns, "readByRun": ns,
            }))},
        })),
        "ChangedInputs": obj(json!({"changedInputs": {"type": "array", "items": obj(json!({
            "datasetId": ns, "usedVersion": ns, "currentVersion": ns, "diff": {"$ref": "#/components/schemas/VersionDiff"},
        }))}})),
        "DatasetVersionList": list_of("versions", "DatasetVersion"),
        "Tag": obj(json!({"name": ns, "description": ns})),
        "TagInput": obj(json!({"description": ns})),
        "TagList": list_of("tags", "Tag"),
        "Job": obj(json!({
            "id": id2, "type": ns, "name": ns, "simpleName": ns, "parentJobName": ns, "parentJobUuid": ns,
            "createdAt": ns, "updatedAt": ns, "namespace": ns, "inputs": {"type": "array", "items": id2},
            "outputs": {"type": "array", "items": id2}, "location": ns, "description": ns, "latestRun": run,
            "facets": facets, "currentVersion": ns, "tags": {"type": "array", "items": ns}, "deleted": s("boolean"), "nodeId": ns,
        })),
        "JobList": list_of("jobs", "Job"),
        "JobVersion": obj(json!({
            "id": id3, "name": ns, "namespace": ns, "version": ns, "createdAt": ns, "validFrom": ns, "validTo": ns,
            "location": ns, "sourceCodeLocation": {"type": "object"}, "sql": ns,
            "inputs": {"type": "array", "items": id2}, "outputs": {"type": "array", "items": id2}, "definedByJobEvent": s("boolean"),
        })),
        "JobVersionList": list_of("versions", "JobVersion"),
        "Run": run,
        "LineageGraph": lineage_graph,
        "LineageStats": {"type": "array", "items": obj(json!({"startInterval": ns, "endInterval": ns, "start": s("integer"),
            "complete": s("integer"), "fail": s("integer"), "abort": s("integer"), "running": s("integer"), "other": s("integer")}))},
        "IntervalStats": {"type": "array", "items": obj(json!({"startInterval": ns, "endInterval": ns, "count": s("integer")}))},
        "RunList": list_of("runs", "Run"),
        "RunFacets": obj(json!({"runId": ns, "facets": facets})),
        "SearchResult": obj(json!({"totalCount": s("integer"), "results": {"type": "array", "items": obj(json!({
            "type": {"type": "string", "enum": ["DATASET", "JOB"]}, "name": ns, "namespace": ns, "updatedAt": ns, "nodeId": ns,
        }))}})),
    })
}

/// Properties that every answer carries with a value; any other property may be `null` (an
/// optional field of the model, such as a run's `endedAt` or a job's `latestRun`).
const NEVER_NULL: &[&str] = &[
    "id",
    "name",
    "namespace",
    "nodeId",
    "totalCount",
    "code",
    "message",
    "errors",
    "status",
];

/// Declares every property outside `NEVER_NULL` nullable, through the whole tree of schemas.
fn nullable(mut schema: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (key, inner) in map.iter_mut() {
                    match (key.as_str(), inner) {
                        ("properties", Value::Object(props)) => {
                            for (name, prop) in props.iter_mut() {
                                walk(prop);
                                if !NEVER_NULL.contains(&name.as_str()) {
                                    or_null(prop);
                                }
                            }
                        }
                        (_, inner) => walk(inner),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    fn or_null(prop: &mut Value) {
        if let Some(t) = prop.get("type").and_then(Value::as_str).map(str::to_string) {
            prop["type"] = json!([t, "null"]);
        } else if prop.get("$ref").is_some() {
            *prop = json!({"anyOf": [prop.clone(), {"type": "null"}]});
        }
    }
    walk(&mut schema);
    schema
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPS {
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        let mut responses = Map::new();
        responses.insert(
            op.ok.0.to_string(),
            json!({"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", op.ok.1)}}}}),
        );
        let open = matches!(op.path, "/healthz" | "/readyz");
        let access: &[(&str, &str)] = if open {
            &[]
        } else {
            &[
                (
                    "401",
                    "no API key, or one that is not valid, where the auth mode needs one",
                ),
                (
                    "403",
                    "the key lacks the scope, or the write came from another site",
                ),
            ]
        };
        let typed: &[(&str, &str)] = if op.method == "get" {
            &[]
        } else {
            &[("415", "a body that is not application/json")]
        };
        for &(code, what) in access.iter().chain(typed).chain(&[
            ("400", "bad request: every problem, with its JSON pointer"),
            ("404", "not found"),
            ("413", "body too large"),
            ("500", "internal error (the log has the cause)"),
            (
                "503",
                "database unavailable, out of room or timed out; retry after Retry-After",
            ),
        ]) {
            responses.insert(code.into(), json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
        }
        match op.path {
            "/api/v1/lineage/batch" => {
                // Some events failed (207) or all did (400): the batch answer lists them.
                let batch = json!({"$ref": "#/components/schemas/BatchResponse"});
                let error = json!({"$ref": "#/components/schemas/Error"});
                responses.insert("207".into(), json!({"description": "some events stored, the others listed", "content": {"application/json": {"schema": batch}}}));
                responses.insert("400".into(), json!({"description": "no event stored: a bad body, or every event refused", "content": {"application/json": {"schema": {"anyOf": [error, batch]}}}}));
            }
            "/api/v1/integrations/lakefs" => {
                responses.insert("412".into(), json!({"description": "pre-merge: an expectation is not met (each listed in errors and missing); lakeFS blocks the merge", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
            }
            "/api/v1/graphql" => {
                // GraphQL answers its own error shape, as JSON or, when the client accepts it,
                // as application/graphql-response+json.
                let schema = json!({"schema": {"$ref": "#/components/schemas/GraphQLResponse"}});
                let content = json!({"application/json": schema, "application/graphql-response+json": schema});
                responses.insert(
                    "200".into(),
                    json!({"description": "OK", "content": content}),
                );
                for code in ["400", "401", "403", "413", "415", "503"] {
                    responses.insert(code.into(), json!({"description": "refused: see errors[].extensions.code", "content": content}));
                }
            }
            _ => {}
        }
        let mut operation = json!({
            "summary": op.summary,
            "operationId": format!("{}{}", op.method, op.path.replace(['/', '{', '}', '.'], "_")),
            "parameters": op.params.iter().map(|p| param(p)).collect::<Vec<_>>(),
            "responses": responses,
        });
        if !open {
            // Anonymous where the auth mode allows it, else a key with the scope.
            operation["security"] = json!([{}, {"apiKey": []}]);
        }
        if let Some(body) = op.body {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}}});
        }
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tributary",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OpenLineage-compatible lineage metadata service; Marquez-compatible REST API.",
        },
        "paths": paths,
        "components": {
            "schemas": nullable(components()),
            "securitySchemes": {"apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "A key made with `tributary keys create` (scopes ingest, read, admin); which requests need one depends on the auth mode (off, writes, all)",
            }},
        },
    })
}

/// The document as checked in: pretty JSON with a trailing newline.
pub fn document_text() -> String {
    serde_json::to_string_pretty(&document()).expect("document serialises") + "\n"
}

/// `(METHOD, path)` of every documented operation, for the test that every one is routed.
pub fn operations() -> Vec<(String, String)> {
    OPS.iter()
        .map(|o| (o.method.to_uppercase(), o.path.to_string()))
        .collect()
}
