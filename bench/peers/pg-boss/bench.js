// pg-boss peer of the benchmark's PostgreSQL part (bench/pg_part.sh runs it).
//
//   node bench.js enqueue --tasks N [--json FILE --run R]
//   node bench.js drain --tasks N [--batch B] [--json FILE --run R]
//
// DATABASE_URL names the database (its own one on the throwaway cluster).
// enqueue: N no-op jobs in one boss.insert() call (the bulk insert, like
//   sitq's enqueue_batch), after start() and createQueue, untimed.
// drain: 2 concurrent loops of boss.fetch(batchSize B, default 1) then
//   boss.complete() of the fetched ids; timed from their start until no job
//   is left before "completed". pg-boss's own work() sleeps its polling
//   interval (0.5 s at least) between fetches, so a loop is its fastest use.
// Each phase is its own process, so that bench/pg_part.sh can count the
// database's commits of the drain alone.
const fs = require("fs");
const PgBoss = require("pg-boss");

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const mode = args[0];
const N = +opt("--tasks", 10000);
const B = +opt("--batch", 1);
const Q = "bench";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function emit(scenario, variant, metric, value, unit) {
  const line = JSON.stringify({ system: "pg-boss", scenario, variant, metric, value, unit,
                                run: +opt("--run", 1) });
  console.log(line);
  const json = opt("--json");
  if (json) fs.appendFileSync(json, line + "\n");
}

async function main() {
  const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, max: 6,
                            supervise: false, schedule: false });
  boss.on("error", (e) => console.error(e));
  await boss.start();
  if (mode === "enqueue") {
    await boss.createQueue(Q);
    const jobs = [];
    for (let i = 0; i < N; i++) jobs.push({ name: Q, data: { i } });
    const t0 = performance.now();
    await boss.insert(jobs);
    emit("pg_enqueue", "insert", "tasks_per_s", N / ((performance.now() - t0) / 1000), "tasks/s");
  } else {
    let done = 0;
    const t0 = performance.now();
    const loop = async () => {
      while (done < N) {
        const jobs = await boss.fetch(Q, { batchSize: B });
        if (!jobs || jobs.length === 0) { await sleep(2); continue; }
        await boss.complete(Q, jobs.map((j) => j.id));
        done += jobs.length;
      }
    };
    await Promise.all([loop(), loop()]);
    while (+(await boss.getQueueSize(Q, { before: "completed" })) > 0) await sleep(2);
    const dt = (performance.now() - t0) / 1000;
    emit("pg_e2e", B > 1 ? "fetch_batch" + B : "fetch_1", "tasks_per_s", N / dt, "tasks/s");
  }
  await boss.stop({ graceful: true, wait: true, timeout: 5000 });
}

main().then(() => process.exit(0)).catch((e) => { console.error(e); process.exit(1); });
