// Starts the real salon binary on a free port with its own SQLite file, and a headless Chromium.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = process.env.SALON_BIN || join(root, 'target/debug/salon');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
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

export async function startSalon() {
  const dir = await mkdtemp(join(tmpdir(), 'salon-browser-'));
  const port = await freePort();
  const env = { ...process.env, DATABASE_URL: `sqlite://${join(dir, 'salon.db')}`, SALON_LOG: 'warn' };
  delete env.SALON_NO_DEMO;
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
    env,
    async get(path) {
      const r = await fetch(url + path);
      if (!r.ok) throw new Error(`${path}: ${r.status}`);
      return r.json();
    },
    async events(type) {
      const { stdout } = await promisify(execFile)(BIN, ['events', 'export'], { env, maxBuffer: 64 << 20 });
      return stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => !type || e.event_type === type);
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
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
