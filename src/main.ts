import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { AppError } from './domain/errors.ts';
import { checkEngines, formatChecks } from './engines/remote/check.ts';
import type { Worker } from './jobs/worker.ts';
import { AccountsRepository } from './repositories/accounts.repository.ts';
import { systemClock } from './repositories/clock.ts';
import { openDatabase } from './repositories/db/connect.ts';
import { openBlobStore } from './repositories/blob-stores.ts';
import { cryptoRandom } from './repositories/random.ts';
import { migrateStorage } from './migrate-storage.ts';
import { LogDestination } from './log-destination.ts';
import { WorkerProcess } from './worker-process.ts';
import { createRuntime, type Runtime } from './runtime.ts';
import { CUSTOMER_USAGE, isCustomerCommand, runCustomer } from './cli/customer.ts';

/** How long the last log lines may take to leave; and what shutdown may take past the grace period. */
const LOG_FLUSH_MS = 1000;
const SHUTDOWN_SLACK_MS = 5000;

const USAGE = `dhs — Digital Human Server

Usage:
  dhs serve                 HTTP API and a worker (a child process; DHS_WORKER_CONCURRENCY, default 1)
  dhs worker                worker only (more workers: run more processes against the same database)
  dhs account create --points N --lite N --pro N [--json]
  dhs account topup ACCESS_KEY --points N
  dhs account quota ACCESS_KEY [--lite N] [--pro N]
  dhs account list [--json]
  dhs account disable ACCESS_KEY
  dhs engines check [--json]  each configured remote engine: reachable, its version where it tells
  dhs migrate-storage --from DATA_DIR [--from-database sqlite:FILE]
                            copy a single box's rows and blobs into this environment's database and
                            blob store (DHS_DATABASE_URL, DHS_BLOB_URL); safe to run again

Server and operator commands read their configuration from the environment only (see README): run
account commands with the server's DHS_DATA_DIR / DHS_DATABASE_URL, or they write to another database.

${CUSTOMER_USAGE}`;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<void> {
  try {
    const [cmd, ...rest] = argv;
    if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
      console.log(USAGE);
      return;
    }
    // customer commands are HTTP clients of a server: no configuration, no database
    if (isCustomerCommand(cmd)) {
      process.exitCode = await runCustomer(argv);
      return;
    }
    const config = loadConfig();
    if (cmd === 'serve') return await serve(config, true);
    if (cmd === 'worker') return await serve(config, false);
    if (cmd === 'account') return await account(config, rest);
    if (cmd === 'engines') return await engines(config, rest);
    if (cmd === 'migrate-storage') return await migrateStorageCommand(config, rest);
    throw new UsageError(`unknown command "${cmd}"`);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      console.error(`dhs: ${err.message}`);
      if (err instanceof UsageError) console.error(`\n${USAGE}`);
      process.exit(2);
    }
    if (err instanceof AppError) {
      console.error(`dhs: ${err.detail.en}`);
      process.exit(1);
    }
    console.error(`dhs: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

/** `migrate-storage`: the single box at --from into the database and blob store of this environment. */
async function migrateStorageCommand(config: Config, args: string[]): Promise<void> {
  const from = flag(args, 'from');
  if (from === undefined) throw new UsageError("--from DATA_DIR is required (the single box's DHS_DATA_DIR)");
  const fromDir = resolve(from);
  const fromDatabase = flag(args, 'from-database') ?? `sqlite:${join(fromDir, 'dhs.sqlite')}`;
  if (!fromDatabase.startsWith('sqlite:') && !/^postgres(ql)?:/.test(fromDatabase)) {
    throw new UsageError('--from-database must be sqlite:FILE or postgres://...');
  }
  if (
    fromDatabase === config.databaseUrl ||
    (config.databaseUrl === undefined && fromDir === config.dataDir)
  ) {
    throw new UsageError(
      'the source and the target are the same database: set DHS_DATABASE_URL to the new one',
    );
  }
  const sourceBlobDir = join(fromDir, 'blobs');
  if (config.blobs.kind === 'file' && resolve(config.blobs.root) === sourceBlobDir) {
    throw new UsageError(
      'the source and the target are the same blob folder: set DHS_BLOB_URL to the new store',
    );
  }
  const source = await openDatabase({ url: fromDatabase, dataDir: fromDir });
  const target = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    console.error(`dhs: copying ${fromDatabase} and ${sourceBlobDir} into ${describeDatabase(config)}`);
    await migrateStorage({
      source,
      target,
      sourceBlobDir,
      targetBlobs: openBlobStore(config.blobs, { dataDir: config.dataDir, publicUrl: config.publicUrl }),
      log: (line) => console.log(line),
    });
  } finally {
    await source.close();
    await target.close();
  }
}

/** `serve` (API + worker) and `worker` (worker only): start, mark ready, and shut down gracefully. */
async function serve(config: Config, withHttp: boolean): Promise<void> {
  const output = new LogDestination(1);
  const log = pino(
    {
      level: config.logLevel,
      base: { pid: process.pid, role: withHttp ? 'serve' : 'worker' },
    },
    output,
  );
  const runtime = await createRuntime(config, { log, httpLogger: log });
  await sweepWorkspaces(runtime, log);
  const app = withHttp ? await runtime.app() : null;
  // serve: the worker runs as a child process unless told to share the API's thread
  const ownProcess = withHttp && config.workerConcurrency > 0 && config.workerIsolation === 'process';
  const worker: Worker | null = ownProcess ? null : runtime.worker(log);
  const workerProcess = ownProcess ? new WorkerProcess(log) : null;
  // SQLite cannot tell another process that an item is due: serve tells its worker child itself over
  // the IPC channel (on PostgreSQL every worker LISTENs; a `dhs worker` of its own polls on SQLite).
  if (workerProcess !== null && runtime.database.dialect === 'sqlite')
    runtime.queue.onDue(() => workerProcess.wake());
  if (worker !== null && process.send !== undefined) {
    process.on('message', (m) => {
      if (m === 'wake') worker.wake();
    });
    // the channel alone does not keep a worker alive (it exits on its own signal handling)
    process.channel?.unref();
  }

  let stopping = false;
  /** The last lines get a moment to reach the log reader, never more: it may be gone. */
  const exit = async (code: number) => {
    await output.flush(LOG_FLUSH_MS);
    process.exit(code);
  };
  const shutdown = async (signal: string) => {
    if (stopping) {
      // a second signal: the operator does not want to wait
      process.exit(130);
    }
    stopping = true;
    runtime.ready = false;
    // Bounded whatever is stuck (a job that ignores its abort, a database that does not answer).
    setTimeout(() => {
      log.error('shutdown took too long: exiting');
      void exit(1);
    }, config.jobs.shutdownGraceMs + SHUTDOWN_SLACK_MS).unref();
    log.info({ signal }, 'shutting down: no new jobs; finishing running ones');
    try {
      await app?.close();
      await Promise.all([
        worker?.stop(config.jobs.shutdownGraceMs),
        workerProcess?.stop(config.jobs.shutdownGraceMs + SHUTDOWN_SLACK_MS / 2),
      ]);
      await runtime.close();
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      return exit(1);
    }
    log.info('stopped');
    return exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  if (app !== null) await app.listen({ port: config.port, host: config.host });
  worker?.start();
  workerProcess?.start();
  if (config.workerConcurrency > 0) await runtime.scheduleRetention(0);
  runtime.ready = true;
  log.info(
    {
      port: withHttp ? config.port : undefined,
      publicUrl: config.publicUrl,
      database: runtime.database.dialect,
      dataDir: config.dataDir,
    },
    'dhs ready',
  );
}

/** Leftover temp directories of items no worker holds any more (a crash's leftovers). */
async function sweepWorkspaces(runtime: Runtime, log: pino.Logger): Promise<void> {
  const removed = await runtime.workspaces.sweep(async (name) => {
    const item = await runtime.queue.get(name);
    return item !== null && item.state === 'active' && (item.lease_until ?? 0) > runtime.clock.now();
  });
  if (removed > 0) log.info({ removed }, 'removed leftover job directories');
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i === -1) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value`);
  return v;
}

function intFlag(args: string[], name: string, def: number | undefined, min = 0): number | undefined {
  const v = flag(args, name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer${min === 0 ? ' >= 0' : ''}, got "${v}"`);
  return n;
}

function positional(args: string[], what: string): string {
  const v = args[0];
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${what} is required`);
  return v;
}

async function account(config: Config, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  // Account commands touch only the database: no media tools needed.
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  // which database: a wrong DHS_DATA_DIR otherwise makes keys the server has never heard of (20001).
  // stderr, so that --json output stays one line.
  console.error(`dhs: database ${describeDatabase(config)}`);
  const accounts = new AccountsRepository(database, systemClock, cryptoRandom);
  try {
    const json = rest.includes('--json');
    switch (sub) {
      case 'create': {
        const created = await accounts.create({
          points: intFlag(rest, 'points', 0) ?? 0,
          lite: intFlag(rest, 'lite', 0) ?? 0,
          pro: intFlag(rest, 'pro', 0) ?? 0,
        });
        if (json) console.log(JSON.stringify(created));
        else {
          console.log(`userId:        ${created.userId}`);
          console.log(`accessKey:     ${created.accessKey}`);
          console.log(`secretKey:     ${created.secretKey}`);
          console.log(`webhookSecret: ${created.webhookSecret}`);
        }
        return;
      }
      case 'topup': {
        const key = positional(rest, 'ACCESS_KEY');
        const points = intFlag(rest, 'points', undefined, Number.MIN_SAFE_INTEGER);
        if (points === undefined) throw new UsageError('--points is required');
        const a = await accounts.topup(key, points);
        console.log(
          json ? JSON.stringify({ accessKey: key, balance: a.balance }) : `balance of ${key}: ${a.balance}`,
        );
        return;
      }
      case 'quota': {
        const key = positional(rest, 'ACCESS_KEY');
        const lite = intFlag(rest, 'lite', undefined);
        const pro = intFlag(rest, 'pro', undefined);
        if (lite === undefined && pro === undefined) throw new UsageError('--lite or --pro is required');
        const a = await accounts.setQuota(key, {
          ...(lite === undefined ? {} : { lite }),
          ...(pro === undefined ? {} : { pro }),
        });
        console.log(`quota of ${key}: LITE ${a.lite_used}/${a.lite_total}, PRO ${a.pro_used}/${a.pro_total}`);
        return;
      }
      case 'list': {
        const all = await accounts.list();
        const rows = all.map((a) => ({
          userId: a.id,
          accessKey: a.access_key,
          balance: a.balance,
          lite: `${a.lite_used}/${a.lite_total}`,
          pro: `${a.pro_used}/${a.pro_total}`,
          disabled: a.disabled !== 0,
        }));
        if (json) console.log(JSON.stringify(rows));
        else if (rows.length === 0) console.log('no accounts');
        else console.table(rows);
        return;
      }
      case 'disable': {
        const key = positional(rest, 'ACCESS_KEY');
        await accounts.disable(key);
        console.log(`disabled ${key}`);
        return;
      }
      default:
        throw new UsageError(`unknown account command "${sub ?? ''}"`);
    }
  } finally {
    await database.close();
  }
}

/** `dhs engines check`: exit code 1 when a configured engine does not answer as it should. */
async function engines(config: Config, args: string[]): Promise<void> {
  if (args[0] !== 'check') throw new UsageError(`unknown engines command "${args[0] ?? ''}"`);
  const checks = await checkEngines(config.engines);
  if (args.includes('--json')) console.log(JSON.stringify(checks));
  else console.log(formatChecks(checks, config.lipSyncEngine, config.engines));
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

/** The database operator commands use, as an operator can compare it with the server's (no password). */
function describeDatabase(config: Config): string {
  const url = config.databaseUrl;
  if (url !== undefined && /^postgres(ql)?:/.test(url)) {
    try {
      const u = new URL(url);
      u.password = '';
      return `PostgreSQL ${u.toString()}`;
    } catch {
      return 'PostgreSQL (DHS_DATABASE_URL)';
    }
  }
  const file = url?.startsWith('sqlite:') ? url.slice('sqlite:'.length) : join(config.dataDir, 'dhs.sqlite');
  return `SQLite ${resolve(file)}`;
}
