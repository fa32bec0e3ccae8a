/**
 * A real Axon server for the tests: `jupyter axon` on a free port, with a temporary data
 * dir and a bootstrap admin, stopped (and its data dir removed) afterwards.
 *
 * The command is `jupyter` from PATH, or `$AXON_PYTHON -m jupyter` when AXON_PYTHON is
 * set (the pytest wrapper sets it, so the server is the one installed for that Python).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ServerInfo {
  /** `http://127.0.0.1:PORT/axon/v1` */
  apiUrl: string;
  dataDir: string;
  adminEmail: string;
  adminPassword: string;
}

export interface AxonServer extends ServerInfo {
  process: ChildProcess;
  stop(): Promise<void>;
  log(): string;
}

export interface StartOptions {
  /** Extra command-line arguments, e.g. `--AxonApp.max_body_size=1048576`. */
  args?: string[];
  env?: Record<string, string>;
  /** Milliseconds to wait for /health. Default 90000 (two busy cores). */
  startTimeout?: number;
}

export function jupyterCommand(): [string, string[]] {
  const python = process.env.AXON_PYTHON;
  return python ? [python, ['-m', 'jupyter']] : ['jupyter', []];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Run `jupyter axon <subcommand> ...` against a data dir; resolve with its stdout. */
export async function axonCli(dataDir: string, args: string[]): Promise<string> {
  const [cmd, prefix] = jupyterCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...prefix, 'axon', ...args, '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`jupyter axon ${args[0]} failed (${code}): ${err.trim()}`));
    });
  });
}

export async function startServer(options: StartOptions = {}): Promise<AxonServer> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'axon-sdk-js-'));
  const adminEmail = 'admin@example.com';
  const adminPassword = `pw-${randomBytes(9).toString('hex')}`;
  const logPath = join(dataDir, 'server.log');
  const logFd = openSync(logPath, 'w');
  const [cmd, prefix] = jupyterCommand();
  const child = spawn(
    cmd,
    [
      ...prefix,
      'axon',
      `--port=${port}`,
      '--ip=127.0.0.1',
      `--ServerApp.token=${randomBytes(16).toString('hex')}`,
      `--AxonApp.data_dir=${dataDir}`,
      '--ServerApp.port_retries=0',
      ...(options.args ?? []),
    ],
    {
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        AXON_ADMIN_EMAIL: adminEmail,
        AXON_ADMIN_PASSWORD: adminPassword,
        ...(options.env ?? {}),
      },
    },
  );
  closeSync(logFd);
  const log = () => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  let exited: number | null = null;
  const exitedPromise = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : 1);
      resolve();
    }),
  );
  const stop = async () => {
    if (exited === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exitedPromise;
      clearTimeout(killer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  const apiUrl = `http://127.0.0.1:${port}/axon/v1`;
  const deadline = Date.now() + (options.startTimeout ?? 90_000);
  for (;;) {
    if (exited !== null) {
      const text = log();
      await stop();
      throw new Error(`jupyter axon exited with ${exited} before answering:\n${text.slice(-3000)}`);
    }
    try {
      const res = await fetch(`${apiUrl}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const text = log();
      await stop();
      throw new Error(`jupyter axon did not answer /health in time:\n${text.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return { apiUrl, dataDir, adminEmail, adminPassword, process: child, stop, log };
}
