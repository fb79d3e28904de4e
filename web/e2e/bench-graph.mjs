// The benchmark's synthetic lineage graph.

export const NS = 'bench';
const LAYERS = 9;
const WIDTH = 55;
const SINKS = 9;
const PRODUCER = 'https://github.com/tributary/web-bench';
const SCHEMA_URL = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';

export const RAW = { namespace: NS, name: 'raw.events' };
const ds = (l, i) => ({ namespace: NS, name: `l${l}.table_${String(i).padStart(2, '0')}` });

/** One raw dataset feeding 9 layers of 55 datasets, each written by its own job from two
 *  datasets of the layer before, and 9 export jobs reading the last layer: 496 datasets and
 *  504 jobs (1,000 nodes, 1,431 distinct edges), all downstream of the raw dataset within 20
 *  edges. */
export function benchEvents() {
  const events = [];
  let n = 0;
  const run = (job, inputs, outputs) => {
    n++;
    events.push({
      eventType: 'COMPLETE',
      eventTime: new Date(Date.UTC(2024, 0, 1) + n * 60_000).toISOString(),
      producer: PRODUCER,
      schemaURL: SCHEMA_URL,
      run: { runId: `0191f7c2-3333-7000-8000-${String(n).padStart(12, '0')}` },
      job: { namespace: NS, name: job },
      inputs,
      outputs,
    });
  };
  for (let i = 0; i < WIDTH; i++) run(`build_l1_${i}`, [RAW], [ds(1, i)]);
  for (let l = 2; l <= LAYERS; l++)
    for (let i = 0; i < WIDTH; i++) run(`build_l${l}_${i}`, [ds(l - 1, i), ds(l - 1, (i * 7 + 3) % WIDTH)], [ds(l, i)]);
  for (let i = 0; i < SINKS; i++) run(`export_${i}`, [ds(LAYERS, i)], []);
  return events;
}

