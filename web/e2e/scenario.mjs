// A small scripted history for the end-to-end tests: a table feeding a model, the table
// rewritten with another schema (two versions to diff), and a job that only exists later
// (so moving the time control changes the graph).

const PRODUCER = 'https://github.com/tributary/web-e2e';
const SCHEMA_URL = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';
const facet = (body) => ({ _producer: PRODUCER, _schemaURL: 'https://openlineage.io/spec/facets/1-0-0/Facet.json', ...body });

export const DB = 'postgres://db:5432';
export const ORDERS = 'shop.public.orders';
export const RAW = 'shop.public.raw_orders';
export const MODEL_NS = 'ml';
export const MODEL = 'churn_model';
export const REVENUE = 'analytics.daily_revenue';
export const ordersId = `dataset:${DB}:${ORDERS}`;

const schema = (fields) => facet({ fields: fields.map(([name, type, description]) => ({ name, type, description })) });

const V1 = [
  ['id', 'bigint', 'Order id'],
  ['amount', 'numeric', 'Order total'],
  ['customer', 'text', 'Customer name'],
];
const V2 = [
  ['id', 'bigint', 'Order id'],
  ['amount', 'decimal(12,2)', 'Order total in EUR'],
  ['customer_id', 'bigint', 'Customer key'],
  ['created_at', 'timestamptz', 'When the order was placed'],
];

let n = 0;
const runId = () => `0191f7c2-2222-7000-8000-${String(++n).padStart(12, '0')}`;

function run({ job, ns, start, end, state = 'COMPLETE', inputs, outputs, sql }) {
  const id = runId();
  const jobFacets = sql ? { sql: facet({ query: sql }) } : {};
  const base = { producer: PRODUCER, schemaURL: SCHEMA_URL, job: { namespace: ns, name: job, facets: jobFacets } };
  return [
    { ...base, eventType: 'START', eventTime: start, run: { runId: id }, inputs, outputs: [] },
    { ...base, eventType: state, eventTime: end, run: { runId: id }, inputs, outputs },
  ];
}

export function scenarioEvents() {
  n = 0;
  const raw = { namespace: DB, name: RAW, facets: { schema: schema([['id', 'bigint'], ['payload', 'jsonb']]) } };
  const ordersOut = (fields) => ({ namespace: DB, name: ORDERS, facets: { schema: schema(fields) } });
  const orders = { namespace: DB, name: ORDERS };
  const model = {
    namespace: MODEL_NS,
    name: MODEL,
    facets: {
      datasetType: facet({ datasetType: 'MODEL' }),
      schema: schema([['customer_id', 'bigint'], ['churn_score', 'double']]),
      columnLineage: facet({
        fields: {
          customer_id: { inputFields: [{ namespace: DB, name: ORDERS, field: 'id' }] },
          churn_score: {
            inputFields: [
              { namespace: DB, name: ORDERS, field: 'amount' },
              { namespace: DB, name: ORDERS, field: 'id' },
            ],
          },
        },
      }),
    },
  };
  return [
    ...run({
      job: 'load_orders', ns: 'etl', start: '2024-03-01T10:00:00Z', end: '2024-03-01T10:05:00Z',
      inputs: [raw], outputs: [ordersOut(V1)], sql: 'INSERT INTO shop.public.orders SELECT id, amount, customer FROM shop.public.raw_orders',
    }),
    ...run({
      job: 'train_churn', ns: 'ml', start: '2024-03-02T08:00:00Z', end: '2024-03-02T09:30:00Z',
      inputs: [orders], outputs: [model],
    }),
    ...run({
      job: 'load_orders', ns: 'etl', start: '2024-04-01T10:00:00Z', end: '2024-04-01T10:07:00Z',
      inputs: [raw], outputs: [ordersOut(V2)], sql: 'INSERT INTO shop.public.orders SELECT id, amount, customer_id, created_at FROM shop.public.raw_orders',
    }),
    ...run({
      job: 'daily_revenue', ns: 'analytics', start: '2024-04-02T06:00:00Z', end: '2024-04-02T06:01:00Z', state: 'FAIL',
      inputs: [orders], outputs: [{ namespace: 'analytics', name: REVENUE, facets: { schema: schema([['day', 'date'], ['revenue', 'numeric']]) } }],
      sql: 'SELECT date_trunc(\'day\', created_at) AS day, sum(amount) FROM shop.public.orders GROUP BY 1',
    }),
  ];
}

/**
 * A Delta table on disk, written twice (version 1 overwrote version 0), with version 0's data
 * file removed as VACUUM removes it; the runs that wrote both versions say so with the `version`
 * and `storage` facets. Returns the events; `dir` is the table's folder.
 */
export function deltaTable(fs, path, dir) {
  const log = path.join(dir, '_delta_log');
  fs.mkdirSync(log, { recursive: true });
  const add = (file) => JSON.stringify({ add: { path: file, size: 1, modificationTime: 0, dataChange: true } });
  const commit = (n, lines) => fs.writeFileSync(path.join(log, `${String(n).padStart(20, '0')}.json`), `${lines.join('\n')}\n`);
  commit(0, [JSON.stringify({ commitInfo: { operation: 'WRITE' } }), add('part-0.parquet')]);
  commit(1, [JSON.stringify({ commitInfo: { operation: 'WRITE' } }), JSON.stringify({ remove: { path: 'part-0.parquet' } }), add('part-1.parquet')]);
  fs.writeFileSync(path.join(dir, 'part-1.parquet'), 'x');
  const out = (v) => ({
    namespace: 'file',
    name: dir,
    facets: {
      version: { _producer: PRODUCER, _schemaURL: 'https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet', datasetVersion: v },
      storage: { _producer: PRODUCER, _schemaURL: 'https://openlineage.io/spec/facets/1-0-1/StorageDatasetFacet.json#/$defs/StorageDatasetFacet', storageLayer: 'delta', fileFormat: 'parquet' },
    },
  });
  return [
    ...run({ job: 'load_lake_orders', ns: 'etl', start: '2024-05-01T10:00:00Z', end: '2024-05-01T10:01:00Z', inputs: [], outputs: [out('0')] }),
    ...run({ job: 'load_lake_orders', ns: 'etl', start: '2024-05-02T10:00:00Z', end: '2024-05-02T10:01:00Z', inputs: [], outputs: [out('1')] }),
  ];
}
