/**
 * The web console end to end in real Chromium: `lwm2m server` (UDP + REST API + the console at /, behind
 * a token), a `lwm2m fleet` of 10,000 devices and the example device of `lwm2m client`, all in-process on
 * loopback. The operator's path: token in, device list, the example device's object tree (Read /3/0 shows
 * "Thimble" under resource names), a Write and an Execute that reach the device, an observation that
 * updates the page, Discover after Write-Attributes, an instance Write, Create and Delete of /3303/7, the
 * CoAP log, a firmware campaign to "succeeded" with a moving progress bar, a 101-device campaign's table paged,
 * and pagination and search over 10,000 registrations each answering within 500 ms; no console errors. The
 * bootstrap page runs against a second, in-process REST API with a JSON-file bootstrap store (the CLI's has
 * none), in the same browser.
 * Screenshots go to test-artifacts/console/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UdpTransport } from '@thimble/coap-core/node';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../lwm2m/src/cli/main.js';
import { JsonFileBootstrapConfigStore } from '../../../lwm2m/src/node/bootstrap-store.js';
import { fileDescriptorLimit } from '../../../lwm2m/src/node/fleet.js';
import { createRestApi, startRestApi } from '../../../lwm2m/src/node/rest/app.js';
import { Lwm2mServer } from '../../../lwm2m/src/server/server.js';
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

  it('discovers an instance, writes its attributes (Core §5.1.2), and Discover then shows them', async () => {
    const instance = page.locator('.instance').filter({ has: page.locator('[data-path="/3303/0/5700"]') });
    const head = instance.locator('.inst-head');
    await head.getByRole('button', { name: 'Discover' }).click();
    const result = page.getByRole('region', { name: 'Discover /3303/0' });
    await result.waitFor();
    // the links of the instance and its resources, no attributes yet
    expect(await result.locator('pre').textContent()).toContain('/3303/0/5700');
    expect(await result.locator('pre').textContent()).not.toContain('pmin');

    await head.getByRole('button', { name: 'Attributes' }).click();
    const form = page.getByRole('region', { name: 'Write-Attributes /3303/0' });
    await form.getByLabel('pmin').fill('7');
    await form.getByLabel('pmax').fill('61');
    await form.getByRole('button', { name: 'Write attributes' }).click();
    await page.getByRole('region', { name: 'Write-Attributes /3303/0' }).locator('pre').waitFor();

    await head.getByRole('button', { name: 'Discover' }).click();
    const again = page.getByRole('region', { name: 'Discover /3303/0' }).locator('pre');
    await expect.poll(() => again.textContent()).toContain('pmin');
    const text = (await again.textContent()) ?? '';
    expect(text).toMatch(/"pmin":\s*"?7\b/);
    expect(text).toMatch(/"pmax":\s*"?61\b/);
    // and the device itself answers the same through the API
    const links = JSON.stringify(await (await api(`/api/clients/${EP}/3303/0/discover`)).json());
    expect(links).toMatch(/"pmin":"?7\b/);
    await shot('device-discover');
    // "-" removes them again (the observation test below relies on the default periods)
    await head.getByRole('button', { name: 'Attributes' }).click();
    const clear = page.getByRole('region', { name: 'Write-Attributes /3303/0' });
    await clear.getByLabel('pmin').fill('-');
    await clear.getByLabel('pmax').fill('-');
    await clear.getByRole('button', { name: 'Write attributes' }).click();
    await clear.locator('pre').waitFor();
    expect(await clear.locator('pre').textContent()).toMatch(/"pmin":\s*null/);
    await head.getByRole('button', { name: 'Discover' }).click();
    await expect.poll(() => again.textContent()).not.toContain('pmin');
    expect(await again.textContent()).not.toContain('pmax');
  }, 30_000);

  it('writes an instance (partial update, Core §6.3.3): the new value reaches the device', async () => {
    const instance = page.locator('.instance').filter({ has: page.locator('[data-path="/3303/0/5700"]') });
    await instance.locator('.inst-head').getByRole('button', { name: 'Write' }).click();
    const form = page.getByRole('region', { name: 'Write /3303/0' });
    await form
      .getByLabel('Resources of /3303/0')
      .fill(JSON.stringify({ resources: [{ id: 5750, value: 'written by the console' }] }));
    await form.getByRole('button', { name: 'Write' }).click();
    await page.getByRole('region', { name: 'Wrote /3303/0 (partial update)' }).waitFor();
    const read = await (await api(`/api/clients/${EP}/3303/0/5750`)).json();
    expect(read).toMatchObject({ value: 'written by the console' });
    // the other resources of the instance are still there (a partial update, not a replace)
    const temp = await (await api(`/api/clients/${EP}/3303/0/5700`)).json();
    expect(typeof (temp as { value: unknown }).value).toBe('number');
  }, 30_000);

  it('creates an instance of /3303 (Core §6.3.7) and deletes it (Core §6.3.8)', async () => {
    const object = page.locator('details').filter({ has: page.locator('summary', { hasText: '/3303' }) });
    await object.locator('summary').getByRole('button', { name: 'Create' }).click();
    const form = page.getByRole('region', { name: 'Create in /3303' });
    await form
      .getByLabel('New instance of /3303 (optionally with "id")')
      .fill(JSON.stringify({ id: 7, resources: [{ id: 5750, value: 'made by the console' }] }));
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('region', { name: 'Created /3303/7' }).waitFor();
    // the tree shows the new instance after its refresh, and the device has it
    await page.getByText('Instance 7').waitFor();
    const read = await (await api(`/api/clients/${EP}/3303/7/5750`)).json();
    expect(read).toMatchObject({ value: 'made by the console' });
    await shot('device-created');

    const created = page.locator('.instance').filter({ hasText: 'Instance 7' });
    page.once('dialog', (d) => {
      expect(d.message()).toBe(`Delete /3303/7 on ${EP}?`);
      void d.accept();
    });
    await created.locator('.inst-head').getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('region', { name: 'Deleted /3303/7' }).waitFor();
    await page.getByText('Instance 7').waitFor({ state: 'detached' });
    expect((await api(`/api/clients/${EP}/3303/7/5750`)).status).toBe(404);
    // instance 0 is untouched
    expect((await api(`/api/clients/${EP}/3303/0/5750`)).status).toBe(200);
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

  it('pages through a campaign of 101 devices: every device reachable, not only the first rows', async () => {
    // fleet devices have no Firmware Update object: each fails quickly, which is all the table needs
    await page.getByLabel('Devices (names)').fill('fleet-0100');
    await page.getByLabel('and every endpoint starting with').fill('fleet-00');
    await page.getByLabel('Concurrency').fill('101');
    await page.getByRole('button', { name: 'Start campaign' }).click();
    const campaign = page.locator('details.campaign').first();
    try {
      await campaign
        .getByTestId('campaign-state')
        .filter({ hasText: 'finished' })
        .waitFor({ timeout: 30_000 });
    } catch (e) {
      await shot('firmware-pages-failed');
      throw new Error(
        `campaign not finished: ${(e as Error).message}\n${await page.locator('main').textContent()}`,
      );
    }
    // a finished campaign's table is folded: unfold it
    await campaign.evaluate((d) => {
      (d as unknown as { open: boolean }).open = true;
    });
    const info = campaign.getByTestId('campaign-page-info');
    const rows = campaign.locator('tbody tr');
    try {
      await info.filter({ hasText: '1–100 of 101' }).waitFor();
    } catch (e) {
      await shot('firmware-pages-failed');
      const open = await campaign.evaluate((d) => (d as unknown as { open: boolean }).open);
      throw new Error(
        `no page info (open: ${open}): ${(e as Error).message}\n${await campaign.locator('summary').textContent()}`,
      );
    }
    expect(await rows.count()).toBe(100);
    expect(await rows.first().locator('td').first().textContent()).toBe('fleet-0100');
    await campaign.getByRole('button', { name: 'Next →' }).click();
    await info.filter({ hasText: '101–101 of 101' }).waitFor();
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('td').first().textContent()).toBe('fleet-0099');
    expect(await campaign.getByRole('button', { name: 'Next →' }).isDisabled()).toBe(true);
    await campaign.getByRole('button', { name: '← Previous' }).click();
    await info.filter({ hasText: '1–100 of 101' }).waitFor();
    expect(await rows.nth(1).locator('td').first().textContent()).toBe('fleet-0000');
    await shot('firmware-pages');
    // every device failed (no /5 on fleet devices): the page says so, row by row
    expect(await campaign.locator('summary').textContent()).toContain('101 failed');
  }, 45_000);

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

  it('manages bootstrap configurations (Core §6.1.7) against a REST API with a bootstrap store', async () => {
    // the `lwm2m server` command has no bootstrap store yet: an API made in-process with one (a JSON file),
    // serving the same console build, next to the CLI's
    const file = join(dir, 'bootstrap.json');
    const store = new JsonFileBootstrapConfigStore(file);
    const transport = await UdpTransport.bind({ address: '127.0.0.1', port: 0 });
    const bsServer = new Lwm2mServer({ transport });
    const app = await createRestApi({
      server: bsServer,
      bootstrap: store,
      token: TOKEN,
      console: join(dir, 'console'),
    });
    const bsPage = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    bsPage.setDefaultTimeout(10_000);
    const errors: string[] = [];
    bsPage.on('pageerror', (e) => errors.push(e.message));
    try {
      const bsUrl = await startRestApi(app, { port: 0 });
      // the token is kept per tab (sessionStorage): give it before opening the page
      await bsPage.goto(`${bsUrl}/`);
      await bsPage.getByPlaceholder('API token').fill(TOKEN);
      await bsPage.getByRole('button', { name: 'Use token' }).click();
      bsPage.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(msg.text());
      });
      await bsPage.goto(`${bsUrl}/#/bootstrap`);
      await bsPage.getByText('No configurations.').waitFor();

      // create: a PSK account, whose key the list must not show
      const key = '000102030405060708090a0b0c0d0e0f';
      const config = {
        security: {
          '0': {
            uri: 'coaps://127.0.0.1:5684',
            bootstrapServer: false,
            securityMode: 'psk',
            pskIdentity: 'bs-dev-1-id',
            pskKey: key,
            shortServerId: 7,
          },
        },
        servers: { '0': { shortServerId: 7, lifetime: 600, binding: 'U' } },
      };
      await bsPage.getByLabel('Endpoint').fill('bs-dev-1');
      await bsPage.getByLabel('Configuration (JSON)').fill(JSON.stringify(config, null, 2));
      await bsPage.getByRole('button', { name: 'Save' }).click();
      const entry = bsPage
        .locator('details')
        .filter({ has: bsPage.locator('summary', { hasText: 'bs-dev-1' }) });
      await entry.waitFor();
      // it reached the store and its file
      expect(store.get('bs-dev-1')).toEqual(config);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ 'bs-dev-1': config });

      // view: the configuration, the key redacted to its length
      await entry.locator('summary').click();
      const shown = (await entry.locator('pre').textContent()) ?? '';
      expect(shown).toContain('"lifetime": 600');
      expect(shown).toContain('bs-dev-1-id');
      expect(shown).toContain('(16 bytes)');
      expect(await bsPage.locator('main').textContent()).not.toContain(key);
      await bsPage.screenshot({ path: join(ARTIFACTS, 'bootstrap.png') });

      // Edit loads it into the form; a second one saved from there
      await entry.getByRole('button', { name: 'Edit' }).click();
      expect(await bsPage.getByLabel('Endpoint').inputValue()).toBe('bs-dev-1');
      await bsPage.getByLabel('Endpoint').fill('bs-dev-2');
      await bsPage.getByRole('button', { name: 'Save' }).click();
      await bsPage.locator('summary', { hasText: 'bs-dev-2' }).waitFor();
      expect(store.get('bs-dev-2')).toEqual(config);

      // delete the first: gone from the page, the store and the file
      await entry.getByRole('button', { name: 'Delete' }).click();
      await entry.waitFor({ state: 'detached' });
      expect(store.get('bs-dev-1')).toBeUndefined();
      expect(Object.keys(JSON.parse(readFileSync(file, 'utf8')))).toEqual(['bs-dev-2']);
      expect(await bsPage.locator('summary').count()).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await bsPage.close();
      await app.close();
      await bsServer.close();
    }
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
