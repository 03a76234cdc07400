/**
 * The web console end to end in real Chromium: `lwm2m server` (UDP + REST API + the console at /, behind
 * a token), a `lwm2m fleet` of 10,000 devices and the example device of `lwm2m client`, all in-process on
 * loopback. The operator's path: token in, device list, the example device's object tree (Read /3/0 shows
 * "Thimble" under resource names), a Write and an Execute that reach the device, an observation that
 * updates the page, the CoAP log, a firmware campaign to "succeeded" with a moving progress bar, and
 * pagination and search over 10,000 registrations each answering within 500 ms; no console errors.
 * Screenshots go to test-artifacts/console/.
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../lwm2m/src/cli/main.js';
import { fileDescriptorLimit } from '../../../lwm2m/src/node/fleet.js';
import { capture, waitFor } from '../../../lwm2m/test/cli/io.js';
import { CHROMIUM_ARGS, chromiumPath } from './chromium.js';

const SUITE = 'web console e2e';
const browserPath = chromiumPath(SUITE);
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ARTIFACTS = here('../../../../test-artifacts/console');
const TOKEN = 'console-e2e-token';
const EP = `console-e2e-${process.pid}`;
const FLEET = 10_000;

describe.skipIf(browserPath === undefined)('web console in Chromium (issue 19)', () => {
  // stopped in this order: the fleet de-registers its devices while the server still answers
  const stopFleet = new AbortController();
  const stop = new AbortController();
  const server = capture();
  const device = capture();
  const fleet = capture();
  const exits: Promise<number>[] = [];
  let url: string;
  let dir: string;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  const shot = async (name: string) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  };
  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) },
    });
    return res;
  };

  beforeAll(async () => {
    // each fleet device holds one UDP socket: say so plainly when the process may not open enough
    const limit = fileDescriptorLimit();
    if (limit !== undefined && limit < FLEET + 1000)
      throw new Error(
        `${SUITE}: needs ${FLEET + 1000} open files, ulimit -n is ${limit} (raise it: ulimit -n 20000)`,
      );
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = await mkdtemp(join(tmpdir(), 'thimble-console-'));
    // the console as it ships: Vite's production build (into a temporary folder, not the package's dist)
    await build({
      root: here('../..'),
      configFile: here('../../vite.config.ts'),
      logLevel: 'warn',
      build: { outDir: join(dir, 'console'), emptyOutDir: true },
    });
    exits.push(
      main(
        [
          'server',
          '--coap-port',
          '0',
          '--http-port',
          '0',
          '--coap-host',
          '127.0.0.1',
          '--token',
          TOKEN,
          '--console',
          join(dir, 'console'),
        ],
        server.io,
        stop.signal,
      ),
    );
    const m = await waitFor(
      () => /udp \S+:(\d+), REST API on (http:\/\/\S+)\/api/.exec(server.out()) ?? undefined,
      10_000,
    );
    url = m[2]!;
    const coap = `coap://127.0.0.1:${m[1]}`;
    exits.push(
      main(
        ['client', '--endpoint', EP, '--server', coap, '--host', '127.0.0.1', '--interval', '1'],
        device.io,
        stop.signal,
      ),
    );
    exits.push(
      main(
        [
          'fleet',
          '--count',
          String(FLEET),
          '--server',
          coap,
          '--rate',
          '4000',
          '--interval',
          '0',
          '--progress',
          '5',
        ],
        fleet.io,
        stopFleet.signal,
      ),
    );
    await waitFor(() => server.out().includes(`registered "${EP}"`), 10_000);
    await waitFor(() => fleet.out().includes(`all ${FLEET} devices registered`), 60_000);

    browser = await chromium.launch({ executablePath: browserPath!, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    // a step that does not happen fails with Playwright's message, before the test's own limit
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    stopFleet.abort();
    expect(await exits[2]).toBe(0);
    stop.abort();
    for (const code of await Promise.all(exits)) expect(code).toBe(0);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('takes the token and lists the devices', async () => {
    await page.goto(`${url}/`);
    // without the token the API's refusal is shown in place
    await page.getByRole('alert').filter({ hasText: 'unauthorized' }).first().waitFor();
    await page.getByPlaceholder('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page
      .getByTestId('page-info')
      .filter({ hasText: `of ${FLEET + 1}` })
      .waitFor();
    // the refusals before the token was given were expected (and shown): errors count from here
    consoleErrors.length = 0;
    const rows = page.locator('table.devices tbody tr');
    expect(await rows.count()).toBe(50);
    expect(await rows.first().textContent()).toContain(EP);
    expect(await page.evaluate("sessionStorage.getItem('thimble-console-token')")).toBe(TOKEN);
    await shot('devices');
  }, 30_000);

  it(`pages and searches ${FLEET} registrations, each answer on the page within 500 ms`, async () => {
    const info = page.getByTestId('page-info');
    const timings: number[] = [];
    const timed = async (act: () => Promise<unknown>, text: string) => {
      const t0 = Date.now();
      await act();
      try {
        await info.filter({ hasText: text }).waitFor({ timeout: 5000 });
      } catch (e) {
        throw new Error(
          `"${text}" not shown: the page says "${await info.textContent()}" (${(e as Error).message})`,
        );
      }
      timings.push(Date.now() - t0);
    };
    await timed(() => page.getByRole('button', { name: 'Next →' }).click(), `51–100 of ${FLEET + 1}`);
    await timed(() => page.getByRole('button', { name: 'Next →' }).click(), `101–150 of ${FLEET + 1}`);
    await timed(() => page.getByRole('button', { name: '← Previous' }).click(), `51–100 of ${FLEET + 1}`);
    await timed(() => page.getByLabel('Endpoint starts with').fill('fleet-042'), '1–10 of 10');
    expect(await page.locator('table.devices tbody tr').first().textContent()).toContain('fleet-0420');
    await timed(() => page.getByLabel('Endpoint starts with').fill('fleet-9'), `1–50 of 1000`);
    await timed(() => page.getByLabel('LwM2M version').selectOption('1.1'), `1–50 of 1000`);
    await timed(() => page.getByLabel('Endpoint starts with').fill(''), `1–50 of ${FLEET + 1}`);
    console.info(`console e2e: list answers on the page in ${timings.join(', ')} ms`);
    for (const t of timings) expect(t).toBeLessThan(500);
    await shot('devices-search');
  }, 30_000);

  it('reads /3/0 in the object tree: "Thimble" under resource names', async () => {
    await page.goto(`${url}/#/devices/${EP}`);
    await page.getByText('Manufacturer').first().waitFor();
    const instance = page.locator('.instance').filter({ has: page.locator('[data-path="/3/0/0"]') });
    await instance.getByRole('button', { name: 'Read', exact: true }).first().click();
    await expect.poll(() => page.getByTestId('value-/3/0/0').textContent()).toBe('Thimble');
    expect(await page.getByTestId('value-/3/0/1').textContent()).toBe('Thimble example device');
    expect(await page.locator('[data-path="/3/0/0"] .res-name').textContent()).toBe('Manufacturer');
    expect(await page.locator('[data-path="/3/0/4"] .res-name').textContent()).toBe('Reboot');
  }, 30_000);

  it('writes a resource and executes one: both reach the device', async () => {
    const row = page.locator('[data-path="/3/0/14"]');
    await row.getByLabel('New value of UTC Offset').fill('+02:00');
    await row.getByRole('button', { name: 'Write' }).click();
    await page.getByText('Wrote /3/0/14').waitFor();
    const read = await (await api(`/api/clients/${EP}/3/0/14`)).json();
    expect(read).toMatchObject({ value: '+02:00' });

    const reboot = page.locator('[data-path="/3/0/4"]');
    await reboot.getByRole('button', { name: 'Execute' }).click();
    await page.getByText('Executed /3/0/4').waitFor();
    await waitFor(() => device.out().includes('reboot requested'), 5000);
  }, 30_000);

  it('observes the temperature: the value updates in place at least twice and is charted', async () => {
    const row = page.locator('[data-path="/3303/0/5700"]');
    await row.getByRole('button', { name: 'Observe' }).click();
    const value = page.getByTestId('value-/3303/0/5700');
    await expect.poll(() => value.textContent()).not.toBe('');
    const seen = new Set<string | null>([await value.textContent()]);
    const end = Date.now() + 15_000;
    while (seen.size < 3 && Date.now() < end) {
      seen.add(await value.textContent());
      await new Promise((r) => setTimeout(r, 100));
    }
    // the first value and at least two notified ones
    expect(seen.size).toBeGreaterThanOrEqual(3);
    await row.locator('svg.spark').waitFor();
    // the CoAP log streams the device's messages (notifications are 2.05 Content)
    await page.locator('.log tbody tr').filter({ hasText: '2.05' }).first().waitFor();
    await shot('device');
    // composite: Read-Composite and Observe-Composite of the resources ticked
    await page.getByLabel('Select Manufacturer for Read-Composite').check();
    await page.getByLabel('Select Sensor Value for Read-Composite').check();
    await page.getByRole('button', { name: 'Read composite (2)' }).click();
    await page.getByText('Read-Composite /3/0/0,/3303/0/5700').waitFor();
    await page.getByRole('button', { name: 'Observe composite' }).click();
    await page.getByText('Observe-Composite of').waitFor();
    await page.locator('p.row').getByRole('button', { name: 'Cancel' }).click();
    await page.getByText('Observe-Composite of').waitFor({ state: 'detached' });
  }, 30_000);

  it('runs a firmware campaign to "succeeded" with its progress bar moving', async () => {
    await page.goto(`${url}/#/firmware`);
    const size = 256 * 1024;
    const image = Buffer.alloc(size, 0x5a);
    image.write('THIMBLE-FW 2.0.0\n', 0, 'latin1');
    await page.setInputFiles('input[type=file]', {
      name: 'fw-2.0.0.bin',
      mimeType: 'application/octet-stream',
      buffer: image,
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    const sha = page.getByTestId('sha256').first();
    await sha.waitFor();
    expect(await sha.textContent()).toMatch(/^[0-9a-f]{64}$/);
    // watch every progress value the page shows
    // (browser code as text: this file is typed for Node, without the DOM)
    await page.evaluate(`
      window.progressSeen = [];
      new MutationObserver((records) => {
        for (const r of records)
          if ((r.target.getAttribute('aria-label') ?? '').startsWith('campaign '))
            window.progressSeen.push(Number(r.target.getAttribute('aria-valuenow')));
      }).observe(document.body, { subtree: true, attributes: true, attributeFilter: ['aria-valuenow'] });
    `);
    await page.locator('select[name=imageId]').selectOption({ index: 1 });
    await page.getByLabel('Devices (names)').fill(EP);
    await page.getByRole('button', { name: 'Start campaign' }).click();
    try {
      await page.getByTestId('campaign-state').filter({ hasText: 'succeeded' }).waitFor({ timeout: 20_000 });
    } catch (e) {
      await shot('firmware-failed');
      const shown = await page.locator('main').textContent();
      throw new Error(`no succeeded campaign: ${(e as Error).message}\n${shown}`);
    }
    const progress = (await page.evaluate('window.progressSeen')) as number[];
    expect(progress.some((p) => p > 0 && p < 100)).toBe(true);
    expect(progress[progress.length - 1]).toBe(100);
    const version = await (await api(`/api/clients/${EP}/3/0/3`)).json();
    expect(version).toMatchObject({ value: '2.0.0' });
    await shot('firmware');
  }, 30_000);

  it('shows the security and bootstrap pages, keys write-only', async () => {
    await page.goto(`${url}/#/security`);
    await page.getByLabel('Endpoint').fill('fleet-00001');
    await page.getByLabel('PSK identity').fill('fleet-00001-id');
    await page.getByLabel('Key (hex)').fill('00112233445566778899aabbccddeeff');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved credentials of fleet-00001').waitFor();
    const row = page.locator('tr').filter({ hasText: 'fleet-00001-id' });
    expect(await row.textContent()).toMatch(/[0-9a-f]{16}/);
    expect(await page.content()).not.toContain('00112233445566778899aabbccddeeff');
    await shot('security');
    await page.goto(`${url}/#/bootstrap`);
    await page.getByText('no bootstrap store').waitFor();
  }, 30_000);

  it('has a dark theme, fits a phone-sized window, and logged no console errors', async () => {
    await page.goto(`${url}/#/devices`);
    await page.getByRole('button', { name: /Switch to dark theme/ }).click();
    await expect.poll(() => page.evaluate('document.documentElement.dataset.theme')).toBe('dark');
    await page.getByTestId('page-info').filter({ hasText: 'of' }).waitFor();
    await shot('devices-dark');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}/#/devices/${EP}`);
    await page.getByText('Manufacturer').first().waitFor();
    const overflow = (await page.evaluate(
      'document.documentElement.scrollWidth - window.innerWidth',
    )) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await shot('device-phone');
    // keyboard: on a fresh load the first Tab reaches the skip link, the next ones the navigation
    await page.reload();
    await page.getByText('Manufacturer').first().waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Devices');
    if (consoleErrors.length > 0) console.info(consoleErrors.join('\n'));
    expect(consoleErrors).toEqual([]);
  }, 30_000);
});
