'use strict';
// Starts a real `osmosis serve` for one test file and builds SDK clients the way an
// application does, plus the checks every test shares: responses validated with the
// SDK's own zod schemas (and their key sets), errors checked by SDK class and key.
//
// Environment:
//   OSMOSIS_BIN                 the osmosis binary; default: $CARGO_TARGET_DIR/debug/osmosis,
//                               else ~/.cache/osmosis-target-sdk/debug/osmosis, else
//                               <repo>/target/debug/osmosis (the first that exists)
//   OSMOSIS_TEST_DATABASE_URL   database for the server; a postgres:// URL gets a fresh
//                               database created for the run (with psql) and dropped
//                               after; anything else is passed through as is. Default:
//                               SQLite in a fresh temporary data dir.
//   OSMOSIS_TEST_LOG            set to 1 to echo the server's stderr.

const assert = require('node:assert/strict');
const { before, after } = require('node:test');
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const sdk = require('@membranehq/sdk');

const REPO = path.resolve(__dirname, '..', '..');

function osmosisBin() {
  if (process.env.OSMOSIS_BIN) return process.env.OSMOSIS_BIN;
  const candidates = [
    process.env.CARGO_TARGET_DIR && path.join(process.env.CARGO_TARGET_DIR, 'debug', 'osmosis'),
    path.join(os.homedir(), '.cache', 'osmosis-target-sdk', 'debug', 'osmosis'),
    path.join(REPO, 'target', 'debug', 'osmosis'),
  ].filter(Boolean);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(`No osmosis binary: build it with \`cargo build -p osmosis\` or set OSMOSIS_BIN (looked at ${candidates.join(', ')})`);
  }
  return found;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function b64url(buf) {
  return Buffer.from(buf).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** An HS256 JWT over `payload`, signed with `secret` (what an app's backend mints). */
function signJwt(payload, secret, alg = 'HS256') {
  const hash = { HS256: 'sha256', HS512: 'sha512' }[alg];
  const input = `${b64url(JSON.stringify({ alg, typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}`;
  const sig = crypto.createHmac(hash, secret).update(input).digest();
  return `${input}.${b64url(sig)}`;
}

/** A fresh PostgreSQL database for this run, made from the admin URL given. */
function createPostgresDatabase(adminUrl) {
  const name = `osmosis_sdk_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  execFileSync('psql', [adminUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE "${name}"`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop() {
      execFileSync('psql', [adminUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    },
  };
}

/**
 * Starts `osmosis serve` on a free port with a fresh data dir and workspace; resolves
 * once `/health` answers 200. Call `stop()` at the end: it sends SIGTERM and fails
 * unless the server exits 0.
 *
 * `options` (all optional), for a test that runs several servers over one database:
 *   dataDir          the data dir to use instead of a fresh one (with SQLite, the
 *                    database; always, the credentials key)
 *   database         the PostgreSQL database to use instead of a fresh one: the
 *                    `server.database` ({url, drop}) of an earlier server (ignored
 *                    unless OSMOSIS_TEST_DATABASE_URL is a postgres:// URL)
 *   workspaceKey,    the workspace the server ensures at start (created when
 *   workspaceSecret  missing) instead of a fresh one; a database keeps every
 *                    workspace made in it
 *   keepData         `stop()` leaves the data dir (and the PostgreSQL database) in
 *                    place for a next server; the last server of the chain, started
 *                    without it, removes them
 */
async function startServer(options = {}) {
  const bin = osmosisBin();
  const dataDir = options.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'osmosis-sdk-'));
  const workspaceKey = options.workspaceKey || `wk-${crypto.randomBytes(6).toString('hex')}`;
  const workspaceSecret = options.workspaceSecret || crypto.randomBytes(24).toString('hex');
  const keepData = Boolean(options.keepData);
  let database = null;
  const dbEnv = process.env.OSMOSIS_TEST_DATABASE_URL;
  const args = [];
  if (dbEnv && /^postgres(ql)?:\/\//.test(dbEnv)) {
    database = options.database || createPostgresDatabase(dbEnv);
    args.push('--database', database.url);
  } else if (dbEnv) {
    args.push('--database', dbEnv);
  }
  let child;
  let port;
  let stderr = '';
  let stdout = '';
  let exit = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    port = await freePort();
    stderr = '';
    stdout = '';
    exit = null;
    child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...args], {
      env: {
        ...process.env,
        OSMOSIS_WORKSPACE_KEY: workspaceKey,
        OSMOSIS_WORKSPACE_SECRET: workspaceSecret,
        // The mock APIs (and the browser suite's) listen on this machine.
        OSMOSIS_OUTBOUND_ALLOW: '127.0.0.0/8,::1',
        RUST_LOG: process.env.RUST_LOG || 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (process.env.OSMOSIS_TEST_LOG) process.stderr.write(d);
    });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve((exit = { code, signal }))));
    child.exited = exited;
    const deadline = Date.now() + 60_000;
    let healthy = false;
    while (Date.now() < deadline && !exit) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/health`);
        if (r.status === 200) {
          healthy = true;
          break;
        }
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    if (healthy) break;
    if (!exit) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`osmosis did not become healthy within 60 s\n${stderr}`);
    }
    if (!/cannot listen/.test(stderr)) {
      throw new Error(`osmosis exited (${JSON.stringify(exit)}) before becoming healthy\n${stderr}`);
    }
    // Lost the port to someone else between probing and binding: try another.
  }
  if (exit) throw new Error(`osmosis could not bind a port\n${stderr}`);
  const apiUri = `http://127.0.0.1:${port}`;
  const adminToken = signJwt({ iss: workspaceKey, isAdmin: true }, workspaceSecret);

  const server = {
    apiUri,
    port,
    workspaceKey,
    workspaceSecret,
    dataDir,
    /** The PostgreSQL database ({url, drop}) made or given for this server, else null. */
    database,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    /** The admin client: an app's backend with a workspace admin token. */
    admin() {
      return new sdk.MembraneClient({ token: adminToken, apiUri });
    },
    adminToken,
    /** A customer client exactly as an app builds one: the SDK mints its own tokens. */
    customer(tenantKey, extra = {}) {
      return new sdk.MembraneClient({ workspaceKey, workspaceSecret, tenantKey, apiUri, ...extra });
    },
    /** A client carrying a token the test signed itself. */
    withToken(token) {
      return new sdk.MembraneClient({ token, apiUri });
    },
    async stop() {
      if (!exit) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await child.exited;
        clearTimeout(timer);
      }
      if (!keepData) {
        try {
          if (database) database.drop();
        } finally {
          fs.rmSync(dataDir, { recursive: true, force: true });
        }
      }
      assert.deepEqual(exit, { code: 0, signal: null }, `osmosis should drain and exit 0 on SIGTERM\n${stderr.slice(-4000)}`);
    },
  };
  return server;
}

/**
 * Registers hooks that start a server before the enclosing suite and stop it after;
 * `ready(server)` receives it (register further `before` hooks after this call).
 */
function useServer(ready) {
  let server;
  before(async () => {
    server = await startServer();
    ready(server);
  });
  after(async () => {
    await server?.stop();
  });
}

/** The zod the SDK itself uses (no dependency of ours): for the shapes below. */
const z = require(require.resolve('zod', { paths: [path.dirname(require.resolve('@membranehq/sdk'))] }));

// dist/dts/workspace-elements/base/connectors/operations/index.d.ts: OperationBase.
const OperationListItem = z.object({
  key: z.string(),
  name: z.string(),
  isReadOnly: z.boolean().optional(),
  description: z.string().optional(),
  tags: z.array(z.string()).optional(),
});

/**
 * Response shapes the SDK declares only as TypeScript (no zod schema exported),
 * written out from its .d.ts so their key sets are checked like the others.
 */
const TYPED_ONLY = {
  OperationListItem,
  OperationSpec: OperationListItem.extend({ inputSchema: z.any().optional(), outputSchema: z.any().optional() }),
  // GET /external-api-logs/{id} has no SDK accessor nor schema: the list item's
  // schema plus the masked exchange Osmosis keeps (crates/engine/src/connections/api_logs.rs).
  ExternalApiLogDetail: sdk.ExternalApiLogApiResponse.extend({
    request: z.object({ method: z.string(), url: z.string(), headers: z.record(z.string(), z.string()), body: z.any() }),
    response: z.object({ status: z.number().nullable(), headers: z.any(), body: z.any(), streamed: z.literal(true).optional() }),
    error: z.any(),
  }),
  // GET /action-run-logs/{id}?details=true: the record plus the external calls the run
  // made, masked as external API logs are (crates/engine/src/actions/run_logs.rs).
  ActionRunLogDetail: sdk.ActionRunLogRecordApiResponse.extend({
    details: z.object({ externalApiCalls: z.array(z.any()) }),
  }),
  // GET /incoming-webhooks/{id}: the list item's schema plus the delivery as received,
  // secrets masked (crates/engine/src/events/logs.rs).
  IncomingWebhookDetail: sdk.IncomingWebhookApiResponse.extend({
    subscriptionType: z.string(),
    error: z.string().nullable(),
    processedAt: z.string().optional(),
    request: z.object({ method: z.string(), path: z.string(), query: z.record(z.string(), z.string()), headers: z.record(z.string(), z.string()), body: z.any() }),
  }),
};

/** Keys a response may carry beyond its schema's shape (seed-page extras), top level only. */
const EXTRA_KEYS = {
  IntegrationApiResponse: ['appUri', 'isConnected'],
  // When the event was found: the SDK's schema names no time at all.
  ExternalEventLogRecordApiResponse: ['createdAt'],
  IntegrationListItem: ['isConnected'],
  // A workspace's own connectors name it (public ones do not): how Membrane's CLI
  // 1.x tells which connectors to pull (tools/response-keys.json).
  Connector: ['workspaceId'],
};

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The keys of `value`, at any depth, that `schema` does not name, as paths. zod
 * objects strip unknown keys silently, so `safeParse` alone accepts an embedded
 * connection or a record carrying keys the SDK has never heard of. Walks the schema
 * beside the value through optional, nullable, lazy, pipes, arrays, records, unions
 * (the best-fitting option that parses) and intersections (a key is unknown when
 * neither side names it); `any`, `unknown` and passthrough objects end the walk.
 */
function unknownKeys(schema, value, at = '') {
  const def = schema._zod.def;
  const join = (k) => (at ? `${at}.${k}` : k);
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
    case 'nonoptional':
      return value == null ? [] : unknownKeys(def.innerType, value, at);
    case 'lazy':
      return unknownKeys(def.getter(), value, at);
    case 'pipe':
      return unknownKeys(def.in._zod.def.type === 'transform' ? def.out : def.in, value, at);
    case 'array':
      return Array.isArray(value) ? value.flatMap((v, i) => unknownKeys(def.element, v, `${at}[${i}]`)) : [];
    case 'record':
      return isPlainObject(value) ? Object.entries(value).flatMap(([k, v]) => unknownKeys(def.valueType, v, join(k))) : [];
    case 'object': {
      if (!isPlainObject(value)) return [];
      return Object.entries(value).flatMap(([k, v]) => {
        if (Object.hasOwn(def.shape, k)) return unknownKeys(def.shape[k], v, join(k));
        // No catchall: zod's default strips the key. A `never` catchall already failed safeParse.
        return def.catchall ? unknownKeys(def.catchall, v, join(k)) : [join(k)];
      });
    }
    case 'union': {
      const fits = def.options.filter((o) => o.safeParse(value).success).map((o) => unknownKeys(o, value, at));
      return fits.length ? fits.reduce((best, u) => (u.length < best.length ? u : best)) : [];
    }
    case 'intersection': {
      const right = new Set(unknownKeys(def.right, value, at));
      return unknownKeys(def.left, value, at).filter((p) => right.has(p));
    }
    default:
      return [];
  }
}

/**
 * Asserts `value` passes the SDK's zod schema `schemaName` (or one of TYPED_ONLY) and
 * carries no key, at any depth, that the schema does not name (the seed extras
 * aside). Returns `value`.
 */
function check(schemaName, value, where = '') {
  const schema = sdk[schemaName] || TYPED_ONLY[schemaName];
  assert.ok(schema && typeof schema.safeParse === 'function', `no zod schema ${schemaName} in the SDK`);
  assert.ok(isPlainObject(value), `${where} ${schemaName}: expected an object, got ${JSON.stringify(value)}`);
  const r = schema.safeParse(value);
  assert.ok(r.success, `${where} ${schemaName} rejects the response: ${JSON.stringify(r.error && r.error.issues, null, 1)}\n${JSON.stringify(value).slice(0, 2000)}`);
  const extras = EXTRA_KEYS[schemaName] || [];
  const unknown = unknownKeys(schema, value).filter((p) => !extras.includes(p));
  assert.deepEqual(unknown, [], `${where} ${schemaName}: keys the schema does not name (zod would drop them silently)`);
  return value;
}

/** Checks a `{items, cursor?}` page and each of its items. Returns the page. */
function checkPage(schemaName, page, where = '') {
  assert.ok(page && Array.isArray(page.items), `${where}: expected {items, cursor}, got ${JSON.stringify(page).slice(0, 500)}`);
  const unknown = Object.keys(page).filter((k) => k !== 'items' && k !== 'cursor');
  assert.deepEqual(unknown, [], `${where}: page keys outside {items, cursor}`);
  if ('cursor' in page) assert.equal(typeof page.cursor, 'string', `${where}: cursor must be a string`);
  page.items.forEach((item, i) => check(schemaName, item, `${where} items[${i}]`));
  return page;
}

/**
 * Awaits `promise`, which must reject with the SDK error class `className` (e.g.
 * 'BadRequestError') whose `data.key` is `key`. The key is required: a class alone
 * would accept `access_denied` where `not_found` must hide that something exists.
 * Pass `null` where the error carries no key (none of the documented keys applies).
 * Returns the error.
 */
async function expectError(promise, className, key) {
  assert.ok(typeof key === 'string' || key === null, `expectError(${className}) needs the expected error key (a string, or null for none)`);
  let err;
  try {
    const value = await promise;
    assert.fail(`expected ${className} (${key}), but the call succeeded with ${JSON.stringify(value).slice(0, 500)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  const cls = sdk[className];
  assert.ok(
    err instanceof cls,
    `expected ${className}, got ${err && err.constructor && err.constructor.name}: ${err && err.message} ${JSON.stringify(err && (err.data || (err.response && err.response.data)))}`,
  );
  assert.equal(err.data && err.data.key, key ?? undefined, `error key; message: ${err.message}`);
  assert.equal(typeof err.data.message, 'string');
  return err;
}

/**
 * An external API on 127.0.0.1 for connections to call: `route(req, {url, body})`
 * (the body parsed as JSON, or null) answers `[status, payload]`, an undefined
 * payload meaning an empty body. Resolves `{base, close()}`.
 */
async function startMockApi(route) {
  const srv = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const [status, payload] = route(req, { url: new URL(req.url, 'http://x'), body: raw ? JSON.parse(raw) : null });
      res.writeHead(status, payload === undefined ? {} : { 'content-type': 'application/json' });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    });
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${srv.address().port}`, close: () => new Promise((r) => srv.close(r)) };
}

/** A unique suffix so keys never collide between tests of one file. */
let counter = 0;
function unique(prefix) {
  counter += 1;
  return `${prefix}-${counter}-${crypto.randomBytes(3).toString('hex')}`;
}

/** Runs `fn` over `items` with at most `width` calls in flight. */
async function inBatches(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

module.exports = { sdk, startServer, useServer, signJwt, check, checkPage, expectError, startMockApi, unique, inBatches, sleep };
