//! Shapes of the Tributary API answers the UI reads (only the fields it uses).

export type NodeKind = 'DATASET' | 'JOB';
export type Direction = 'UPSTREAM' | 'DOWNSTREAM' | 'BOTH';
export type RunState = 'NEW' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'ABORTED';

export interface LineageNode {
  id: string;
  kind: NodeKind;
  namespace: string;
  name: string;
  datasetType?: string | null;
  /** Latest run state of a job, when known (from the REST lineage answer). */
  runState?: RunState | null;
}

export interface LineageEdge {
  source: string;
  target: string;
}

export interface LineageGraph {
  nodes: LineageNode[];
  edges: LineageEdge[];
  truncated: boolean;
}

export interface Affected {
  node: LineageNode;
  distance: number;
  path: string[];
}

export interface Impact {
  affected: Affected[];
  truncated: boolean;
}

export interface SearchResult {
  nodeId: string;
  type: 'DATASET' | 'JOB';
  name: string;
  namespace: string;
  updatedAt?: string;
}

export interface Namespace {
  name: string;
  ownerName?: string | null;
  description?: string | null;
  createdAt?: string;
  updatedAt?: string;
}

export interface Field {
  name: string;
  type?: string | null;
  description?: string | null;
  tags?: string[];
}

export interface DatasetId {
  namespace: string;
  name: string;
}

export interface Dataset {
  id: DatasetId;
  type?: string;
  name: string;
  physicalName?: string;
  namespace: string;
  sourceName?: string | null;
  fields: Field[];
  tags?: string[];
  facets?: Record<string, unknown>;
  currentVersion?: string | null;
  createdAt?: string;
  updatedAt?: string;
  lastModifiedAt?: string | null;
  lastLifecycleState?: string | null;
  description?: string | null;
}

export interface RunRef {
  id: string;
  state?: RunState;
  [key: string]: unknown;
}

export interface DatasetVersion {
  id?: DatasetId;
  version: string;
  producerVersion?: string | null;
  createdAt: string;
  fields?: Field[];
  facets?: Record<string, unknown>;
  createdByRun?: RunRef | null;
  versionTags?: string[];
  tags?: string[];
  checksum?: string | null;
  lifecycleState?: string | null;
}

export interface VersionRef {
  namespace: string;
  name: string;
  version: string;
}

export interface Run {
  id: string;
  state: RunState;
  createdAt?: string;
  updatedAt?: string;
  startedAt?: string | null;
  endedAt?: string | null;
  durationMs?: number | null;
  nominalStartTime?: string | null;
  nominalEndTime?: string | null;
  inputDatasetVersions?: { datasetVersionId: VersionRef; facets?: Record<string, unknown> }[];
  outputDatasetVersions?: { datasetVersionId: VersionRef; facets?: Record<string, unknown> }[];
  jobVersion?: { namespace: string; name: string; version: string } | null;
  facets?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Job {
  id: DatasetId;
  type?: string;
  name: string;
  namespace: string;
  inputs?: DatasetId[];
  outputs?: DatasetId[];
  location?: string | null;
  description?: string | null;
  latestRun?: Run | null;
  facets?: Record<string, unknown>;
  tags?: string[];
  currentVersion?: string | null;
  createdAt?: string;
  updatedAt?: string;
}

export interface JobVersion {
  version: string;
  createdAt?: string;
  validFrom?: string | null;
  validTo?: string | null;
  location?: string | null;
  inputs?: DatasetId[];
  outputs?: DatasetId[];
  [key: string]: unknown;
}

export interface VersionSide {
  version: string;
  producerVersion?: string | null;
  createdAt?: string;
  createdByRun?: RunRef | null;
  tags?: string[];
}

export interface FieldDiff {
  name: string;
  type?: string | null;
  description?: string | null;
}

export interface StatDiff {
  from: number | null;
  to: number | null;
  delta: number | null;
}

export interface VersionDiff {
  datasetId: string | DatasetId;
  from: VersionSide;
  to: VersionSide;
  fieldsAdded: FieldDiff[];
  fieldsRemoved: FieldDiff[];
  fieldsChanged: {
    name: string;
    from: { type?: string | null; description?: string | null };
    to: { type?: string | null; description?: string | null };
  }[];
  facetsChanged: string[];
  statistics?: { rowCount?: StatDiff | null; bytes?: StatDiff | null } | null;
}

export interface EventsPage {
  events: Record<string, unknown>[];
  totalCount: number;
}

/** How one input's exact data comes back (`GET …/reproduce`). */
export interface Recovery {
  datasetId: string;
  namespace: string;
  name: string;
  version?: string | null;
  producerVersion?: string | null;
  kind: 'dvc' | 'delta' | 'iceberg' | 'lakefs' | 'other' | 'fingerprint' | 'none';
  command?: string | null;
  exact: boolean;
  note: string;
  readByRun: string;
}

/** A dataset version, the run that wrote it, and how to get each input back exactly. */
export interface Reproduction {
  datasetId: string;
  version: string;
  producerVersion?: string | null;
  exact: boolean;
  manifest: { runId: string; state: string; startedAt?: string | null; endedAt?: string | null; job: { namespace: string; name: string; version?: string | null } };
  inputs: Recovery[];
}

/** An input whose dataset moved on since a run read it. */
export interface ChangedInput {
  datasetId: string;
  usedVersion?: string | null;
  currentVersion?: string | null;
}
