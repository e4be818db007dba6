// Starts the real salon binary on a free port with its own SQLite file, and a headless Chromium.
import { spawn, execFile } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = process.env.SALON_BIN || join(root, 'target/debug/salon');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The API (and the site it serves). `extra` adds environment (SALON_PUBLIC_INTAKE_URL, …);
// `port` and `dir` restart it where an earlier one ran (same address, same store).
export async function startSalon({ extra = {}, port: wanted, dir: reuse } = {}) {
  const dir = reuse || (await mkdtemp(join(tmpdir(), 'salon-browser-')));
  const port = wanted || (await freePort());
  // Every browser books from 127.0.0.1: the per-address booking limit is not what these test.
  const env = { ...process.env, DATABASE_URL: `sqlite://${join(dir, 'salon.db')}`, SALON_LOG: 'warn', SALON_RATE_BOOKINGS: '100000', SALON_DEMO: 'true', ...extra };
  // Nothing from the caller's environment decides where links point or whether real Stripe or
  // mail servers are called.
  for (const k of ['SALON_PUBLIC_API_BASE', 'SALON_PUBLIC_INTAKE_URL', 'SALON_SITE_ORIGIN', 'SALON_PUBLIC_URL', 'STRIPE_SECRET_KEY', 'STRIPE_API_BASE', 'STRIPE_WEBHOOK_SECRET', 'SMTP_URL']) {
    if (!(k in extra)) delete env[k];
  }
  const child = spawn(BIN, ['serve', '--addr', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`salon exited with ${child.exitCode}`);
    try {
      const ready = await fetch(url + '/readyz');
      const services = ready.ok && (await (await fetch(url + '/api/v1/services')).json());
      if (services && services.count > 0) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error('salon did not become ready');
    await sleep(100);
  }
  return {
    url,
    port,
    dir,
    env,
    async get(path) {
      const r = await fetch(url + path);
      if (!r.ok) throw new Error(`${path}: ${r.status}`);
      return r.json();
    },
    // The log's events (of `type`), without the demo salon's own seeding (its past visits).
    async events(type) {
      const { stdout } = await promisify(execFile)(BIN, ['events', 'export'], { env, maxBuffer: 64 << 20 });
      return stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l))
        .filter((e) => (!type || e.event_type === type) && e.metadata?.reason !== 'demo data');
    },
    // `salon token create` against this store: a bearer token with `scope`.
    async token(scope = 'write') {
      const { stdout } = await promisify(execFile)(BIN, ['token', 'create', '--name', `test-${scope}-${Date.now()}`, '--scope', scope], { env });
      const token = stdout.trim();
      // Another process wrote it: wait until the server's read model knows it.
      for (const deadline = Date.now() + 10000; ; await sleep(50)) {
        const r = await fetch(url + '/api/v1/bookings?limit=1', { headers: { authorization: `Bearer ${token}` } });
        if (r.ok) return token;
        if (Date.now() > deadline) throw new Error(`the server does not know the new token: ${r.status}`);
      }
    },
    // Stops the server; `keep` leaves its store for a restart.
    async stop({ keep = false } = {}) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(timer);
      }
      if (!keep) await rm(dir, { recursive: true, force: true });
    },
  };
}

// A SALON_SECRET_KEY for tests that need a client's review link: the server signs links with a
// key derived from it (commands/src/links.rs), so the test holds the same link the "how was
// it?" email carries. Start the salon with `extra: { SALON_SECRET_KEY: LINK_SECRET }`.
export const LINK_SECRET = 'browser-tests: a secret key of at least 32 characters';
const linkKey = createHash('sha256').update('salon client links\0').update(LINK_SECRET).digest();
export const reviewToken = (booking) => createHmac('sha256', linkKey).update(`review:${booking}`).digest('hex').slice(0, 32);
export const reviewLink = (booking) => `/?review=${booking}&token=${reviewToken(booking)}`;

export const INTAKE_TOKEN = 'browser-test-intake-token';

// `salon intake` with its own SQLite file, forwarding to `apiUrl`; retries capped at 500 ms.
export async function startIntake({ apiUrl, port: wanted } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'salon-intake-'));
  const port = wanted || (await freePort());
  const env = {
    ...process.env,
    SALON_INTAKE_DB: `sqlite://${join(dir, 'intake.db')}`,
    SALON_API_URL: apiUrl || '',
    SALON_INTAKE_TOKEN: INTAKE_TOKEN,
    SALON_INTAKE_RETRY_MAX_MS: '500',
    SALON_LOG: 'warn',
  };
  delete env.SMTP_URL;
  delete env.SALON_SITE_ORIGIN;
  const child = spawn(BIN, ['intake', '--addr', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`salon intake exited with ${child.exitCode}`);
    try {
      if ((await fetch(url + '/healthz')).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error('salon intake did not start');
    await sleep(100);
  }
  return {
    url,
    async entries(state = 'all') {
      const r = await fetch(`${url}/intake/entries?state=${state}`, { headers: { authorization: `Bearer ${INTAKE_TOKEN}` } });
      if (!r.ok) throw new Error(`entries: ${r.status}`);
      return (await r.json()).results;
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// `salon export-site DIR …` into a new temporary directory; returns the directory.
export async function exportSite(args = []) {
  const dir = await mkdtemp(join(tmpdir(), 'salon-export-'));
  await promisify(execFile)(BIN, ['export-site', dir, ...args], { env: { ...process.env, SALON_LOG: 'warn' } });
  return dir;
}

const TYPES = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css', svg: 'image/svg+xml', webmanifest: 'application/manifest+json' };

// A plain static file server (as a CDN would be) for an exported site.
export async function serveStatic(dir, wanted) {
  const server = createHttpServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const name = path === '/' ? 'index.html' : path.slice(1);
    if (name.includes('..') || name.includes('/')) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(dir, name));
      res.writeHead(200, { 'content-type': TYPES[name.split('.').pop()] || 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  const port = wanted || (await freePort());
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise((r) => server.close(r)),
  };
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

// Console errors and uncaught exceptions of a page. Chromium itself logs every failed request
// as "Failed to load resource"; requests the test aborts on purpose are not the page's errors.
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

// Walks the booking flow up to the details form: service, stylist, the first free slot.
export async function chooseSlot(page, { service = 'Retwist', stylist = 'Keisha Brown' } = {}) {
  await page.getByRole('link', { name: 'Book now' }).click();
  await page.getByRole('button', { name: new RegExp(service) }).click();
  await page.getByRole('button', { name: new RegExp(stylist) }).click();
  const slot = page.locator('button.slot').first();
  await slot.waitFor();
  const start = await slot.getAttribute('data-id');
  const who = await slot.getAttribute('data-stylist');
  await slot.click();
  await page.getByRole('heading', { name: 'Your details' }).waitFor();
  return { start, stylist: who };
}

export async function fillDetails(page) {
  await page.getByLabel('Name', { exact: true }).fill('Nia Thompson');
  await page.getByLabel('Email', { exact: true }).fill('nia@example.com');
  await page.getByLabel('Phone', { exact: true }).fill('+1 212 555 0134');
}

export { sleep };
