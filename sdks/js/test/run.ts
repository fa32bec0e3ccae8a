/**
 * `npm test`: start one real `jupyter axon` for the whole suite, run every compiled
 * `*.test.js` with node's test runner against it, stop the server, exit with the result.
 */

import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SHARED_SERVER_ARGS, makeFixtures } from './support/env.js';
import { startServer } from './support/server.js';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((name) => name.endsWith('.test.js'))
  .filter((name) => only.length === 0 || only.some((o) => name.includes(o)))
  .sort()
  .map((name) => join(here, name));

const started = Date.now();
const srv = await startServer({ args: SHARED_SERVER_ARGS });
console.log(`axon server up at ${srv.apiUrl} in ${Date.now() - started} ms`);
const fixtures = await makeFixtures(srv).catch(async (err) => {
  await srv.stop();
  throw err;
});

let stopping = false;
const shutdown = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await srv.stop();
  process.exit(code);
};
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));

const child = spawn(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      AXON_TEST_API_URL: srv.apiUrl,
      AXON_TEST_DATA_DIR: srv.dataDir,
      AXON_TEST_ADMIN_EMAIL: srv.adminEmail,
      AXON_TEST_ADMIN_PASSWORD: srv.adminPassword,
      AXON_TEST_MEMBER_EMAIL: fixtures.memberEmail,
      AXON_TEST_MEMBER_PASSWORD: fixtures.memberPassword,
      AXON_TEST_ADMIN_API_KEY: fixtures.adminApiKey,
    },
  },
);
child.on('exit', (code, signal) => {
  const status = code ?? (signal ? 1 : 0);
  if (status !== 0) {
    console.error('--- server log (tail) ---\n' + srv.log().slice(-4000));
  }
  console.log(`suite finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  void shutdown(status);
});
