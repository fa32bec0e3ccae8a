/**
 * The server a test file talks to. `run.ts` starts one for the whole suite and passes it
 * down in AXON_TEST_* variables; a file run on its own (`node --test build-test/test/x.test.js`)
 * starts its own and stops it when the process exits.
 */

import { randomBytes } from 'node:crypto';

import { AxonOS, type ClientOptions } from '@axonos/sdk';

import { axonCli, startServer, type ServerInfo } from './server.js';

/** Traits of the shared server: a 1 MiB body cap so 413 is cheap to provoke. */
export const SHARED_SERVER_ARGS = ['--AxonApp.max_body_size=1048576'];
export const MAX_BODY_SIZE = 1_048_576;

let started: Promise<ServerInfo> | null = null;

export function server(): Promise<ServerInfo> {
  const apiUrl = process.env.AXON_TEST_API_URL;
  if (apiUrl) {
    return Promise.resolve({
      apiUrl,
      dataDir: process.env.AXON_TEST_DATA_DIR ?? '',
      adminEmail: process.env.AXON_TEST_ADMIN_EMAIL ?? '',
      adminPassword: process.env.AXON_TEST_ADMIN_PASSWORD ?? '',
    });
  }
  started ??= startServer({ args: SHARED_SERVER_ARGS }).then((srv) => {
    process.on('exit', () => srv.process.kill('SIGKILL'));
    return srv;
  });
  return started;
}

/** A short random tag to keep one test's objects apart from every other's. */
export function uniq(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** A client logged in as the bootstrap admin. */
export async function adminClient(options: ClientOptions = {}): Promise<AxonOS> {
  const srv = await server();
  return AxonOS.login(srv.adminEmail, srv.adminPassword, { baseUrl: srv.apiUrl, ...options });
}

export interface TestUser {
  email: string;
  password: string;
  client: AxonOS;
}

/** A new member created with the real CLI (`jupyter axon create-user`), logged in. */
export async function newUser(plan = 'standard'): Promise<TestUser> {
  const srv = await server();
  const email = `${uniq('u')}@example.com`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  await axonCli(srv.dataDir, [
    'create-user',
    '--email',
    email,
    '--password',
    password,
    '--plan',
    plan,
  ]);
  const client = await AxonOS.login(email, password, { baseUrl: srv.apiUrl });
  return { email, password, client };
}

/** A workflow definition every server accepts: a manual trigger feeding a log node. */
export function simpleDefinition(message = 'hello') {
  return {
    nodes: [
      { id: 'start', type: 'node_manual_trigger', position: { x: 0, y: 0 } },
      { id: 'log', type: 'node_log', position: { x: 200, y: 0 }, config: { message } },
    ],
    connections: [{ from: 'start', to: 'log', sourcePort: 'output', targetPort: 'input' }],
  };
}
