import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tempDir } from './helpers/db.ts';

/**
 * Shutdown ends whatever stdout is and whoever sent the signal: the two ways a server was once left
 * running (a log reader that went away; npm start's shell that swallowed SIGTERM).
 */
const root = join(import.meta.dirname, '..');
const GRACE_MS = 1500;

function env() {
  return {
    ...process.env,
    DHS_DATA_DIR: tempDir(),
    PORT: '0',
    HOST: '127.0.0.1',
    DHS_LOG_LEVEL: 'debug',
    DHS_SHUTDOWN_GRACE_MS: String(GRACE_MS),
  };
}

/** Running (a zombie waiting to be reaped has ended). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (alive(pid)) {
    if (Date.now() - started > timeoutMs) {
      process.kill(pid, 'SIGKILL');
      assert.fail(`process ${pid} still running ${timeoutMs} ms after the signal`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

/** Reads a child's output until `pattern` matches; resolves with the match. */
function waitForLine(stream: NodeJS.ReadableStream, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`no ${what} in 60 s: ${buf.slice(-2000)}`)), 60_000);
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = pattern.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

describe('shutdown', () => {
  test('a parent that pipes stdout, signals the group and exits without reading: the server ends', async () => {
    // The parent is a process of its own, as a test runner or supervisor would be.
    const parentCode = `
      const { spawn } = require('node:child_process');
      const server = spawn(process.execPath, [${JSON.stringify(join(root, 'bin/dhs.mjs'))}, 'serve'], {
        stdio: ['ignore', 'pipe', 'pipe'], detached: true,
      });
      let buf = '';
      server.stdout.on('data', (d) => {
        buf += d;
        if (buf.includes('dhs ready')) {
          server.stdout.pause(); // stops reading: the pipe fills, then its reader is gone
          process.stdout.write(String(server.pid) + '\\n', () => {
            process.kill(-server.pid, 'SIGTERM');
            process.exit(0);
          });
        }
      });
      server.on('exit', (code) => { process.stdout.write('early exit ' + code + '\\n'); process.exit(1); });
    `;
    const parent = spawn(process.execPath, ['-e', parentCode], {
      env: env(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [, pid] = await waitForLine(parent.stdout, /^(\d+)\n/m, 'server pid');
    const took = await waitGone(Number(pid), GRACE_MS + 8000);
    assert.ok(took < GRACE_MS + 8000);
  });

  test('SIGTERM to the npm start process alone stops the server under it', async () => {
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: root,
      env: env(),
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    try {
      const [, pid] = await waitForLine(npm.stdout, /"pid":(\d+)[^\n]*"msg":"dhs ready"/, 'ready line');
      assert.notEqual(Number(pid), npm.pid, 'npm runs the server as a child');
      npm.kill('SIGTERM'); // only the top process, as systemd or a container runtime would
      await waitGone(Number(pid), GRACE_MS + 8000);
    } finally {
      if (npm.pid !== undefined && alive(npm.pid)) process.kill(-npm.pid, 'SIGKILL');
    }
  });
});
