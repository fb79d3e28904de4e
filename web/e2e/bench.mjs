// Benchmark: a 1,000-node lineage graph (496 datasets, 504 jobs) sent to a real server, opened
// in the explorer in headless Chromium; measures the time until it is laid out and drawn
// (the graph's `data-ready` attribute), and the gzipped size of the initial bundle.
//
//   npm run bench            (TRIBUTARY_BIN: the server binary; BENCH_RUNS: repetitions, default 5)

import fs from 'node:fs';
import { initialBundle, launchBrowser, makeTmp, postEvents, startServer, uiBase } from './lib.mjs';
import { benchEvents, RAW } from './bench-graph.mjs';

const RUNS = Number(process.env.BENCH_RUNS || 5);

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
