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

export interface Fixtures {
  memberEmail: string;
  memberPassword: string;
  /** An API key of the admin, made with `jupyter axon create-api-key`. */
  adminApiKey: string;
}

/**
 * What the suite shares besides the admin: a second user (plan `pro`, role member) and
 * an admin API key, both made with the real CLI. The CLI costs seconds per call on a
 * busy machine, so run.ts makes them once, concurrently, and passes them down.
 */
export async function makeFixtures(srv: ServerInfo): Promise<Fixtures> {
  const memberEmail = `${uniq('member')}@example.com`;
  const memberPassword = `pw-${randomBytes(8).toString('hex')}`;
  const [, adminApiKey] = await Promise.all([
    axonCli(srv.dataDir, [
      'create-user',
      '--email',
      memberEmail,
      '--password',
      memberPassword,
      '--plan',
      'pro',
    ]),
    axonCli(srv.dataDir, ['create-api-key', '--email', srv.adminEmail, '--name', 'suite']),
  ]);
  return { memberEmail, memberPassword, adminApiKey };
}

let fixtures: Promise<Fixtures> | null = null;

export function sharedFixtures(): Promise<Fixtures> {
  const memberEmail = process.env.AXON_TEST_MEMBER_EMAIL;
  if (memberEmail) {
    return Promise.resolve({
      memberEmail,
      memberPassword: process.env.AXON_TEST_MEMBER_PASSWORD ?? '',
      adminApiKey: process.env.AXON_TEST_ADMIN_API_KEY ?? '',
    });
  }
  fixtures ??= server().then(makeFixtures);
  return fixtures;
}

/** The second user (a member on plan pro), in a client of its own login. */
export async function member(): Promise<TestUser> {
  const [srv, fx] = await Promise.all([server(), sharedFixtures()]);
  const client = await AxonOS.login(fx.memberEmail, fx.memberPassword, { baseUrl: srv.apiUrl });
  return { email: fx.memberEmail, password: fx.memberPassword, client };
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
