// graphile-worker peer of the benchmark's PostgreSQL part (bench/pg_part.sh runs it).
//
//   node bench.js enqueue --tasks N [--json FILE --run R]
//   node bench.js drain --tasks N [--batched] [--json FILE --run R]
//
// DATABASE_URL names the database (its own one on the throwaway cluster).
// enqueue: N no-op jobs in one addJobs call (the bulk insert, like sitq's
//   enqueue_batch); graphile-worker's schema is installed first, untimed.
// drain: one run() with concurrency 2 and a no-op task; timed from run()
//   until the jobs table is empty (graphile-worker deletes a job when it
//   completes). --batched: localQueue.size 500 and completeJobBatchDelay 0,
//   the documented options that batch claims and completions; without it,
//   graphile-worker's defaults (one claim and one completion call per job).
// Each phase is its own process, so that bench/pg_part.sh can count the
// database's commits of the drain alone.
const fs = require("fs");
const { run, makeWorkerUtils, Logger } = require("graphile-worker");
const { Client } = require("pg");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const mode = args[0];
const N = +opt("--tasks", 10000);
const BATCHED = args.includes("--batched");
const connectionString = process.env.DATABASE_URL;
const logger = new Logger(() => () => {});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function emit(scenario, variant, metric, value, unit) {
  const line = JSON.stringify({ system: "graphile-worker", scenario, variant, metric, value,
                                unit, run: +opt("--run", 1) });
  console.log(line);
  const json = opt("--json");
  if (json) fs.appendFileSync(json, line + "\n");
}

async function enqueue() {
  const utils = await makeWorkerUtils({ connectionString, logger });
  await utils.migrate();
  const specs = [];
  for (let i = 0; i < N; i++) specs.push({ identifier: "noop", payload: { i } });
  const t0 = performance.now();
  await utils.addJobs(specs);
  const dt = (performance.now() - t0) / 1000;
  await utils.release();
  emit("pg_enqueue", "addJobs", "tasks_per_s", N / dt, "tasks/s");
}

async function drain() {
  let done = 0, resolve;
  const all = new Promise((r) => (resolve = r));
  const preset = BATCHED
    ? { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0 } } : undefined;
  const t0 = performance.now();
  const runner = await run({ connectionString, concurrency: 2, logger, noHandleSignals: true,
                             taskList: { noop: async () => {} }, preset });
  runner.events.on("job:success", () => { if (++done === N) resolve(); });
  await all;
  // A success is reported when the task returns; its completion may still be
  // on its way (batched): the end is when no job is left in the table.
  const c = new Client({ connectionString });
  await c.connect();
  while ((await c.query("SELECT count(*)::int AS n FROM graphile_worker._private_jobs")).rows[0].n)
    await sleep(2);
  const dt = (performance.now() - t0) / 1000;
  await c.end();
  await runner.stop();
  emit("pg_e2e", BATCHED ? "batched" : "defaults", "tasks_per_s", N / dt, "tasks/s");
}

(mode === "enqueue" ? enqueue() : drain())
  .then(() => process.exit(0))
  .catch((e) => { console.error(e); process.exit(1); });
