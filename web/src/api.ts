//! The one place that talks to the server: REST and GraphQL calls, with errors carrying the
//! server's message.

import type {
  ChangedInput,
  Dataset,
  DatasetVersion,
  Direction,
  EventsPage,
  Impact,
  Job,
  JobVersion,
  LineageGraph,
  Namespace,
  Reproduction,
  Run,
  RunState,
  SearchResult,
  VersionDiff,
} from './types';
import { nodeId } from './nodeId';

/** An API failure with the server's `message` (or a description of what went wrong). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string | number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const enc = encodeURIComponent;

// --- API keys -------------------------------------------------------------------------------
// A server may require a key for reads (`auth = "all"`) or for changes (`writes`). The key the
// user gives is kept in this browser and sent as `Authorization: Bearer …`.

const KEY_STORAGE = 'tributary.apiKey';

/** The key this browser sends, if one was given. */
export function apiKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

/** Keeps (or, with null, forgets) the key this browser sends. */
export function setApiKey(key: string | null) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (private mode): the key lasts until the page closes.
  }
}

function withKey(headers: Record<string, string>): Record<string, string> {
  const key = apiKey();
  return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
}

/** A request the server refused for want of a key (401) or of a scope (403). */
export interface KeyRequest {
  status: number;
  message: string;
}

const keyListeners = new Set<(r: KeyRequest) => void>();

/** Calls `fn` whenever a request is refused for want of a key or scope; returns the unsubscribe. */
export function onKeyNeeded(fn: (r: KeyRequest) => void): () => void {
  keyListeners.add(fn);
  return () => {
    keyListeners.delete(fn);
  };
}

function refused(err: ApiError): ApiError {
  if (err.status === 401 || err.status === 403) {
    keyListeners.forEach((fn) => fn({ status: err.status, message: err.message }));
  }
  return err;
}

async function readError(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`.trim();
  let code: string | number | undefined;
  try {
    const body = await res.json();
    if (body && typeof body.message === 'string') message = body.message;
    if (body && Array.isArray(body.errors) && body.errors.length > 0) {
      const details = body.errors
        .map((e: { path?: string; detail?: string; message?: string }) =>
          [e.path, e.detail ?? e.message].filter(Boolean).join(': '),
        )
        .filter((d: string) => d && d !== message);
      if (details.length) message += ` (${details.join('; ')})`;
    }
    code = body?.code;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(message, res.status, code);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { signal, headers: withKey({ Accept: 'application/json' }) });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach the server (${(e as Error).message})`, 0);
  }
  if (!res.ok) throw refused(await readError(res));
  return (await res.json()) as T;
}

export async function graphql<T>(
  query: string,
  variables: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch('/api/v1/graphql', {
      method: 'POST',
      signal,
      headers: withKey({ 'Content-Type': 'application/json', Accept: 'application/json' }),
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(`Cannot reach the server (${(e as Error).message})`, 0);
  }
  if (!res.ok) throw refused(await readError(res));
  const body = await res.json();
  if (body.errors && body.errors.length > 0) {
    const err = body.errors[0];
    throw new ApiError(err.message, 200, err.extensions?.code);
  }
  return body.data as T;
}

/**
 * Puts a version tag on a dataset version (moving it from the version that had it), or takes it
 * off. Needs a key with the `admin` scope wherever the server requires keys for changes.
 */
export async function setVersionTag(
  ns: string,
  name: string,
  version: string,
  tag: string,
  on: boolean,
): Promise<void> {
  const field = on ? 'tagDatasetVersion' : 'untagDatasetVersion';
  await graphql(
    `mutation SetVersionTag($dataset: ID!, $version: ID!, $tag: String!) {
  ${field}(datasetId: $dataset, version: $version, tag: $tag) { id }
}`,
    { dataset: nodeId('DATASET', ns, name), version, tag },
  );
}

/** Whether a version's snapshot can still be read where the data lives. */
export interface SnapshotState {
  version: string;
  producerVersion: string | null;
  state: 'present' | 'gone' | 'unchecked' | 'none';
  detail: string;
}

export function fetchSnapshot(ns: string, name: string, version: string, signal?: AbortSignal): Promise<SnapshotState> {
  const e = encodeURIComponent;
  return getJson<SnapshotState>(`/api/v1/namespaces/${e(ns)}/datasets/${e(name)}/versions/${e(version)}/snapshot`, signal);
}

const NODE_FIELDS = 'id kind namespace name datasetType';

export interface LineageParams {
  nodeId: string;
  direction: Direction;
  depth: number;
  asOf?: string | null;
}

export async function fetchLineage(p: LineageParams, signal?: AbortSignal): Promise<LineageGraph> {
  const query = `query Lineage($nodeId: ID!, $direction: Direction!, $depth: Int, $asOf: DateTime) {
  lineage(nodeId: $nodeId, direction: $direction, depth: $depth, asOf: $asOf) {
    nodes { ${NODE_FIELDS} } edges { source target } truncated
  }
}`;
  const data = await graphql<{ lineage: LineageGraph }>(
    query,
    { nodeId: p.nodeId, direction: p.direction, depth: p.depth, asOf: p.asOf || null },
    signal,
  );
  return data.lineage;
}

/**
 * Latest run state of each job drawn, keyed by node id, in one request for all of them. The
 * lineage answers do not carry run states, so that the drawing does not wait for them.
 */
export async function fetchJobStates(jobIds: string[], signal?: AbortSignal): Promise<Map<string, RunState>> {
  const states = new Map<string, RunState>();
  if (jobIds.length === 0) return states;
  const query = `query JobStates($nodeIds: [ID!]!) { latestRunStates(nodeIds: $nodeIds) { nodeId state } }`;
  const data = await graphql<{ latestRunStates: { nodeId: string; state: RunState }[] }>(
    query,
    { nodeIds: jobIds },
    signal,
  );
  for (const s of data.latestRunStates) states.set(s.nodeId, s.state);
  return states;
}

export async function fetchImpact(
  p: { nodeId: string; depth?: number | null; asOf?: string | null },
  signal?: AbortSignal,
): Promise<Impact> {
  const query = `query Impact($nodeId: ID!, $depth: Int, $asOf: DateTime) {
  impact(nodeId: $nodeId, depth: $depth, asOf: $asOf) {
    truncated affected { distance path node { ${NODE_FIELDS} } }
  }
}`;
  const data = await graphql<{ impact: Impact }>(
    query,
    { nodeId: p.nodeId, depth: p.depth ?? null, asOf: p.asOf || null },
    signal,
  );
  return data.impact;
}

export const api = {
  search: (q: string, limit = 20, signal?: AbortSignal) =>
    getJson<{ totalCount: number; results: SearchResult[] }>(
      `/api/v1/search?q=${enc(q)}&limit=${limit}`,
      signal,
    ),
  namespaces: (signal?: AbortSignal) =>
    getJson<{ namespaces: Namespace[] }>('/api/v1/namespaces', signal),
  datasets: (ns: string, signal?: AbortSignal) =>
    getJson<{ datasets: Dataset[]; totalCount: number }>(`/api/v1/namespaces/${enc(ns)}/datasets?limit=200`, signal),
  jobs: (ns: string, signal?: AbortSignal) =>
    getJson<{ jobs: Job[]; totalCount: number }>(`/api/v1/namespaces/${enc(ns)}/jobs?limit=200`, signal),
  dataset: (ns: string, name: string, signal?: AbortSignal) =>
    getJson<Dataset>(`/api/v1/namespaces/${enc(ns)}/datasets/${enc(name)}`, signal),
  datasetVersions: (ns: string, name: string, signal?: AbortSignal) =>
    getJson<{ versions: DatasetVersion[]; totalCount: number }>(
      `/api/v1/namespaces/${enc(ns)}/datasets/${enc(name)}/versions?limit=100`,
      signal,
    ),
  datasetDiff: (ns: string, name: string, from: string, to: string, signal?: AbortSignal) =>
    getJson<VersionDiff>(
      `/api/v1/namespaces/${enc(ns)}/datasets/${enc(name)}/versions/diff?from=${enc(from)}&to=${enc(to)}`,
      signal,
    ),
  job: (ns: string, name: string, signal?: AbortSignal) =>
    getJson<Job>(`/api/v1/namespaces/${enc(ns)}/jobs/${enc(name)}`, signal),
  jobRuns: (ns: string, name: string, signal?: AbortSignal) =>
    getJson<{ runs: Run[]; totalCount: number }>(`/api/v1/namespaces/${enc(ns)}/jobs/${enc(name)}/runs?limit=50`, signal),
  jobVersions: (ns: string, name: string, signal?: AbortSignal) =>
    getJson<{ versions: JobVersion[]; totalCount: number }>(
      `/api/v1/namespaces/${enc(ns)}/jobs/${enc(name)}/versions?limit=50`,
      signal,
    ),
  run: (id: string, signal?: AbortSignal) => getJson<Run>(`/api/v1/jobs/runs/${enc(id)}`, signal),
  reproduce: (ns: string, name: string, version: string | null, signal?: AbortSignal) =>
    getJson<Reproduction>(
      version
        ? `/api/v1/namespaces/${enc(ns)}/datasets/${enc(name)}/versions/${enc(version)}/reproduce?depth=3`
        : `/api/v1/namespaces/${enc(ns)}/datasets/${enc(name)}/reproduce?depth=3`,
      signal,
    ),
  changedInputs: (runId: string, signal?: AbortSignal) =>
    getJson<{ changedInputs: ChangedInput[] }>(`/api/v1/jobs/runs/${enc(runId)}/changed-inputs`, signal),
  columnLineage: (datasetNodeId: string, depth: number, withDownstream: boolean, signal?: AbortSignal) =>
    getJson<{ graph: ColumnNode[] }>(
      `/api/v1/column-lineage?nodeId=${enc(datasetNodeId)}&depth=${depth}&withDownstream=${withDownstream}`,
      signal,
    ),
  events: (
    p: { limit: number; offset: number; before?: string; after?: string; sortDirection: 'asc' | 'desc' },
    signal?: AbortSignal,
  ) => {
    const qs = new URLSearchParams({ limit: String(p.limit), offset: String(p.offset), sortDirection: p.sortDirection });
    if (p.before) qs.set('before', p.before);
    if (p.after) qs.set('after', p.after);
    return getJson<EventsPage>(`/api/v1/events/lineage?${qs}`, signal);
  },
};

/** A node of the Marquez-shaped column-lineage answer. */
export interface ColumnNode {
  id: string;
  type: string;
  data?: {
    namespace?: string;
    dataset?: string;
    field?: string;
    fieldType?: string | null;
    transformationDescription?: string | null;
    transformationType?: string | null;
    inputFields?: { namespace: string; dataset: string; field: string; transformationDescription?: string | null; transformationType?: string | null }[];
  } | null;
  inEdges?: { origin: string; destination: string }[];
  outEdges?: { origin: string; destination: string }[];
}
