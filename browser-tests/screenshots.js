// Screenshots of home and every booking step at phone and desktop widths into ../screenshots/.
// Run: node screenshots.js (after cargo build).
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSalon, launch, fillDetails } from './harness.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');
await mkdir(out, { recursive: true });
const salon = await startSalon();
const browser = await launch();
try {
  for (const width of [390, 1280]) {
    for (const offline of [false, true]) {
      const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width, height: 844 } });
      if (offline) await context.route('**/api/**', (r) => r.abort());
      const page = await context.newPage();
      const shot = (name) => page.screenshot({ path: join(out, `${width}-${offline ? 'offline-' : ''}${name}.png`), fullPage: true });
      await page.goto(salon.url + '/');
      await page.getByRole('heading', { name: /Crown/ }).waitFor();
      await page.waitForTimeout(300);
      await shot('1-home');
      await page.getByRole('link', { name: 'Book now' }).click();
      await shot('2-service');
      await page.getByRole('button', { name: /Retwist/ }).click();
      await shot('3-stylist');
      await page.getByRole('button', { name: offline ? /Keisha/ : /Any stylist/ }).click();
      if (offline) {
        await page.getByRole('alert').waitFor();
        await shot('4-time');
        await context.close();
        continue;
      }
      await page.locator('button.slot').first().waitFor();
      await shot('4-time');
      await page.locator('button.slot').nth(2).click();
      await page.getByRole('button', { name: /^Book / }).click();
      await shot('5-details-errors');
      await fillDetails(page);
      await page.getByRole('button', { name: /^Book / }).click();
      await page.getByRole('heading', { name: "You're booked" }).waitFor();
      await shot('6-confirmation');
      await context.close();
    }
  }
} finally {
  await browser.close();
  await salon.stop();
}
console.log(`screenshots in ${out}`);
