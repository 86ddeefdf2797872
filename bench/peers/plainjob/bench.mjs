// plainjob peer of the sitq benchmark (bench/run.sh runs it).
//   node bench.mjs --tasks N --dir DIR [--workers 2] [--run R] [--json FILE]
// Enqueues N no-op jobs with queue.add (one call, one commit each), then
// measures how fast `workers` worker processes (plainjob's way to use more
// than one core: one defineWorker per process, as in its own multi-process
// example) drain them. Also times addMany (one transaction) for N jobs on a
// second database. Prints JSON lines in the format of sitq_bench.
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { better, defineQueue, defineWorker, JobStatus } from "plainjob";

const silent = { error() {}, warn() {}, info() {}, debug() {} };

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

function rm(file) {
  for (const f of [file, file + "-wal", file + "-shm"]) fs.rmSync(f, { force: true });
}

if (process.argv.includes("--worker")) {
  // Child: one plainjob worker on the shared database.
  const queue = defineQueue({ connection: better(new Database(arg("--db"))), logger: silent });
  const worker = defineWorker("bench", async () => {}, { queue, pollIntervall: 10, logger: silent });
  process.on("message", async (m) => {
    if (m === "go") void worker.start();
    if (m === "stop") {
      await worker.stop();
      queue.close();
      process.exit(0);
    }
  });
  process.send("ready");
} else {
  const n = Number(arg("--tasks", "10000"));
  const workers = Number(arg("--workers", "2"));
  const dir = arg("--dir", ".");
  const run = Number(arg("--run", "1"));
  const json = arg("--json", null);
  const emit = (scenario, metric, value, unit) => {
    const line = JSON.stringify({ system: "plainjob", scenario, variant: "NORMAL", metric, value, unit, run });
    console.log(line);
    if (json) fs.appendFileSync(json, line + "\n");
  };
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  fs.mkdirSync(dir, { recursive: true });

  // addMany: N jobs in one transaction.
  const dbBatch = path.join(dir, `plainjob-batch-${process.pid}.db`);
  rm(dbBatch);
  {
    const q = defineQueue({ connection: better(new Database(dbBatch)), logger: silent });
    const data = Array.from({ length: n }, () => ({}));
    const t0 = now();
    q.addMany("bench", data);
    emit("enqueue_batch", "tasks_per_s", n / (now() - t0), "tasks/s");
    q.close();
    rm(dbBatch);
  }

  // add: one job per call, then drained by the worker processes.
  const db = path.join(dir, `plainjob-${process.pid}.db`);
  rm(db);
  const queue = defineQueue({ connection: better(new Database(db)), logger: silent });
  let t0 = now();
  for (let i = 0; i < n; i++) queue.add("bench", {});
  emit("enqueue_single", "tasks_per_s", n / (now() - t0), "tasks/s");

  const me = new URL(import.meta.url).pathname;
  const children = [];
  let ready = 0;
  await new Promise((resolve) => {
    for (let i = 0; i < workers; i++) {
      const c = fork(me, ["--worker", "--db", db]);
      c.on("message", (m) => {
        if (m === "ready" && ++ready === workers) resolve();
      });
      children.push(c);
    }
  });
  const reader = new Database(db, { readonly: true });
  const done = reader.prepare("SELECT count(*) AS c FROM plainjob_jobs WHERE status = ?");
  t0 = now();
  for (const c of children) c.send("go");
  const deadline = t0 + 600;
  while (done.get(JobStatus.Done).c < n) {
    if (now() > deadline) {
      console.error("plainjob: jobs did not finish in time");
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const dt = now() - t0;
  emit("e2e", "tasks_per_s", n / dt, "tasks/s");
  reader.close();
  await Promise.all(children.map((c) => new Promise((r) => { c.on("exit", r); c.send("stop"); })));
  queue.close();
  rm(db);
}
