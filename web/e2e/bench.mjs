// Benchmark: a 1,000-node lineage graph (500 datasets, 500 jobs) sent to a real server, opened
// in the explorer in headless Chromium; measures the time until it is laid out and drawn
// (the graph's `data-ready` attribute), and the gzipped size of the initial bundle.
//
//   npm run bench            (TRIBUTARY_BIN: the server binary; BENCH_RUNS: repetitions, default 5)

import fs from 'node:fs';
import { initialBundle, launchBrowser, makeTmp, postEvents, startServer, uiBase } from './lib.mjs';

const LAYERS = 9;
const WIDTH = 55;
const SINKS = 9;
const RUNS = Number(process.env.BENCH_RUNS || 5);
const NS = 'bench';
const PRODUCER = 'https://github.com/tributary/web-bench';
const SCHEMA_URL = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';

const RAW = { namespace: NS, name: 'raw.events' };
const ds = (l, i) => ({ namespace: NS, name: `l${l}.table_${String(i).padStart(2, '0')}` });

/** One raw dataset feeding 9 layers of 55 datasets, each written by its own job from two
 *  datasets of the layer before, and 9 export jobs reading the last layer: 496 datasets and
 *  504 jobs (1,000 nodes, 1,504 edges), all downstream of the raw dataset within 20 edges. */
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

async function main() {
  const tmp = makeTmp('tributary-bench-');
  const server = await startServer({ tmp });
  let ui;
  let ctx;
  try {
    const events = benchEvents();
    for (let i = 0; i < events.length; i += 250) await postEvents(server.base, events.slice(i, i + 250));
    ui = await uiBase(server.base);
    ctx = await launchBrowser(tmp);
    const page = await ctx.newPage();
    const url = `${ui.base}/lineage?nodeId=${encodeURIComponent(`dataset:${RAW.namespace}:${RAW.name}`)}&depth=20`;
    const times = [];
    const layoutMs = [];
    let nodes = 0;
    for (let r = 0; r < RUNS; r++) {
      await page.goto('about:blank');
      const t0 = Date.now();
      await page.goto(url);
      await page.waitForSelector('.graph[data-ready="true"]', { timeout: 60_000 });
      times.push(Date.now() - t0);
      nodes = Number(await page.getAttribute('.graph', 'data-node-count'));
      const inPage = await page.evaluate(() => {
        const nav = performance.getEntriesByType('navigation')[0];
        const gql = performance.getEntriesByType('resource').find((e) => e.name.includes('/graphql'));
        return { dcl: Math.round(nav.domContentLoadedEventEnd), now: Math.round(performance.now()), gql: gql && [Math.round(gql.startTime), Math.round(gql.responseEnd)] };
      });
      layoutMs.push(Number(await page.getAttribute('.graph', 'data-layout-ms')));
      if (process.env.BENCH_VERBOSE) console.log(JSON.stringify(inPage));
    }
    const drawn = await page.locator('.gnode').count();
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const bundle = initialBundle();
    const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
    console.log(`graph: ${nodes} nodes laid out, ${drawn} drawn`);
    console.log(`time to laid out and drawn (navigation → data-ready), ${RUNS} runs: median ${median} ms, min ${sorted[0]} ms, max ${sorted[sorted.length - 1]} ms`);
    console.log(`of which layout (dagre): ${layoutMs.join(', ')} ms`);
    console.log(`initial bundle (gzip -9): ${kb(bundle.initial)} [${bundle.files.join(', ')}]; all chunks: ${kb(bundle.all)}`);
    const ok = median <= 3000 && bundle.initial <= 500 * 1024 && nodes >= 1000;
    console.log(ok ? 'targets met (≤ 3 s, ≤ 500 KB, ≥ 1,000 nodes)' : 'TARGETS MISSED');
    if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify({ nodes, times, median, bundle }, null, 2));
    process.exitCode = ok ? 0 : 1;
  } finally {
    await ctx?.close();
    await ui?.stop();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
