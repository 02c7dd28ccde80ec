// End-to-end test of the web console in headless Chromium, driven by playwright-core.
//
// Run by tests/browser/test_console.py against a real appliance (default project loaded):
//   node console_e2e.mjs   with CONSOLE_URL, ZIP_PATH, ARTIFACTS set in the environment.
// Every assertion reads the DOM; every wait is on a DOM condition with a generous deadline.
// Prints one "ok - <step>" line per step; on failure, "not ok - <step>: <error>" and exit 1.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'gateway', 'console', 'package.json'));
const { chromium } = require('playwright-core');

const URL = process.env.CONSOLE_URL;
const ZIP = process.env.ZIP_PATH;
const ARTIFACTS = process.env.ARTIFACTS || join(here, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 30000;            // a DOM condition
const SLOW = 180000;           // upload + executor restart + start
if (!URL || !ZIP) throw new Error('set CONSOLE_URL and ZIP_PATH');

const profile = mkdtempSync(join(tmpdir(), 'robotctl-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    // CHROMIUM_ARGS: e.g. --ignore-certificate-errors-spki-list=<hash> to trust a test cert
    ...(process.env.CHROMIUM_ARGS || '').split(' ').filter(Boolean)],
  viewport: { width: 1280, height: 900 },
});
context.setDefaultTimeout(WAIT);
const pages = [];
let current = 'launch';

async function openConsole(name) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log('# ' + name + ' page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') console.log('# ' + name + ' console: ' + m.text()); });
  pages.push([name, page]);
  await page.goto(URL);
  return page;
}

async function step(name, fn) {
  current = name;
  await fn();
  console.log('ok - ' + name);
}

const text = (page, selector) => page.locator(selector).first().innerText();
const isDisabled = (page, selector) => page.$eval(selector, (e) => e.matches(':disabled'));

/** The reply <output> of the describe form of object.method. */
const method = (obj, name) => `#describe-tree .method[data-object="${obj}"][data-method="${name}"]`;

async function callMethod(page, obj, name, values) {
  const block = method(obj, name);
  await page.waitForSelector(block + ' form button:not([disabled])');
  await page.$eval(block + ' output', (o) => { o.textContent = ''; delete o.dataset.status; delete o.dataset.code; });
  for (const [field, value] of Object.entries(values)) await page.fill(`${block} input[name="${field}"]`, value);
  await page.click(block + ' form button');
  await page.waitForSelector(`${block} output[data-status="success"], ${block} output[data-status="error"]`, { timeout: SLOW });
  return { status: await page.$eval(block + ' output', (o) => o.dataset.status), text: await text(page, block + ' output'),
    code: await page.$eval(block + ' output', (o) => o.dataset.code || null) };
}

/** Count distinct colours of a PNG by drawing it on a canvas in the browser. */
async function distinctColours(page, path) {
  const data = 'data:image/png;base64,' + readFileSync(path).toString('base64');
  return page.evaluate(async (src) => {
    const img = new Image();
    img.src = src;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, img.width, img.height).data;
    const seen = new Set();
    for (let i = 0; i < px.length; i += 4) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
    return seen.size;
  }, data);
}

async function screenshot(page, name) {
  const path = join(ARTIFACTS, name + '.png');
  await page.screenshot({ path, fullPage: true });
  const colours = await distinctColours(page, path);
  if (colours < 16) throw new Error(`${name}.png looks blank: ${colours} distinct colours`);
  console.log(`# ${path}: ${colours} distinct colours`);
}

let failed = false;
try {
  const a = await openConsole('A');

  await step('page A connects as controller and shows server_info', async () => {
    await a.waitForSelector('#conn-state[data-state="controller"]');
    await a.waitForSelector('#info:not([hidden])');
    const version = await text(a, '#info-version');
    if (!version || version === '—') throw new Error('no version shown');
    await a.waitForFunction(() => document.getElementById('project-name').textContent === 'default');
    await a.waitForFunction(() => document.getElementById('info-instance').textContent.length > 1);
  });

  await step('the JS SHA-256 (for plain-http robots) matches WebCrypto', async () => {
    const same = await a.evaluate(async () => {
      const bytes = new Uint8Array(200003).map((_, i) => (i * 7919) & 255);
      const sub = await crypto.subtle.digest('SHA-256', bytes);
      const hex = Array.from(new Uint8Array(sub), (x) => x.toString(16).padStart(2, '0')).join('');
      return hex === window.RCHash.sha256js(bytes) && window.RCHash.sha256js(new Uint8Array(0)) ===
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    });
    if (!same) throw new Error('sha256js differs from crypto.subtle');
  });

  await step('drive: StandUp, hold the Move pad (10 Hz), release sends StopMove', async () => {
    await a.waitForSelector('#drive-controls:not([disabled])');
    await a.click('[data-command="StandUp"]');
    await a.waitForFunction(() => /StandUp: .*standing/.test(document.getElementById('drive-status').textContent));
    const pad = await a.$('[data-move="1,0,0"]');
    const box = await pad.boundingBox();
    await a.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const pressed = Date.now();
    await a.mouse.down();
    await a.waitForSelector('#live-rows tr[data-event="robot_state"]');
    await a.waitForFunction(() => {
      const m = /Moving \((\d+) Move/.exec(document.getElementById('drive-status').textContent);
      return m && Number(m[1]) >= 5;
    });
    const sent = Number(/Moving \((\d+)/.exec(await text(a, '#drive-status'))[1]);
    const seconds = (Date.now() - pressed) / 1000;
    await a.mouse.up();
    await a.waitForFunction(() => /^Stopped: /.test(document.getElementById('drive-status').textContent));
    if (sent > seconds * 10 + 3) throw new Error(`${sent} Move commands in ${seconds} s: faster than 10 Hz`);
    await a.click('[data-command="StandDown"]');
    await a.waitForFunction(() => /StandDown: .*lying/.test(document.getElementById('drive-status').textContent));
  });

  await step('image view: the default camera is live, old frames are revoked; a field plots', async () => {
    await a.click('[data-command="StartCamera"]');
    await a.waitForFunction(() => /StartCamera: .*"on"/.test(document.getElementById('drive-status').textContent));
    await a.waitForFunction(() => {
      const img = document.getElementById('image-view');
      return !img.hidden && Number(img.dataset.frames) >= 3 && img.naturalWidth === 160 &&
        img.naturalHeight === 120 && img.dataset.source === 'camera' && img.src.startsWith('blob:');
    });
    const first = await a.$eval('#image-view', (img) => ({ src: img.src, frames: Number(img.dataset.frames) }));
    await a.waitForFunction((n) => Number(document.getElementById('image-view').dataset.frames) >= n + 2, first.frames);
    const revoked = await a.evaluate((src) => fetch(src).then(() => false, () => true), first.src);
    if (!revoked) throw new Error('the object URL of an old frame was not revoked');
    await a.waitForSelector('#image-caption:has-text("160×120 · camera.png · PNG")');
    await a.click('#plot-fields [data-field="camera.seq"]');
    await a.click('#plot-fields [data-field="camera.time"]');
    await a.waitForFunction(() => Number(document.getElementById('plot').dataset.points) >= 20 &&
      document.getElementById('plot').dataset.series === '2');
    const colours = await a.$eval('#plot', (canvas) => {
      const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set();
      for (let i = 0; i < px.length; i += 4) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2] | (px[i + 3] << 24));
      return seen.size;
    });
    if (colours < 3) throw new Error('the plot canvas looks blank: ' + colours + ' colours');
    await a.waitForSelector('#live-rows tr[data-event="camera"]:has-text("<")');   // the table stays
    await a.locator('#views').screenshot({ path: join(ARTIFACTS, 'views.png') });
    await screenshot(a, 'camera');
    await a.click('[data-command="StopCamera"]');
    await a.waitForFunction(() => /StopCamera: .*"off"/.test(document.getElementById('drive-status').textContent));
  });

  await step('upload a project through the file input: progress reaches 100%, project name changes', async () => {
    await a.evaluate(() => {
      window.__progress = [];
      const bar = document.getElementById('upload-progress');
      new MutationObserver(() => window.__progress.push(bar.value)).observe(bar, { attributes: true });
    });
    await a.setInputFiles('#upload-file', ZIP);
    await a.click('#upload-button');
    await a.waitForSelector('#upload-status[data-kind="success"], #upload-status[data-kind="error"]', { timeout: SLOW });
    const status = await text(a, '#upload-status');
    if (!/^Started: /.test(status)) throw new Error('upload/start failed: ' + status);
    const seen = await a.evaluate(() => window.__progress);
    if (seen[seen.length - 1] !== 100) throw new Error('progress ended at ' + seen[seen.length - 1]);
    if (!seen.some((v) => v > 0 && v < 100)) throw new Error('no intermediate progress: ' + seen.join(','));
    await a.waitForFunction(() => !['default', '—', ''].includes(document.getElementById('project-name').textContent));
    await a.waitForFunction(() => document.getElementById('project-origin').textContent === 'upload');
    console.log(`# progress ${seen.join(' ')}; project ${await text(a, '#project-name')}`);
  });

  await step('call a method through the describe form', async () => {
    const r = await callMethod(a, 'bot', 'add', { a: '2', b: '40' });
    if (r.status !== 'success' || !/\n42$/.test(r.text)) throw new Error('add(2, 40): ' + r.text);
    const f = await callMethod(a, 'bot', 'fail', { text: 'no luck' });
    if (f.status !== 'error' || !f.text.includes('no luck')) throw new Error('fail(): ' + f.text);
    if (f.code !== 'user_exception') throw new Error('fail() has the code ' + f.code);
    const slow = await callMethod(a, 'bot', 'sleep', { seconds: '8' });
    if (slow.code !== 'timeout' || !slow.text.includes('check its state before repeating it')) {
      throw new Error('sleep(8) past max_execution_time: ' + slow.code + ' ' + slow.text);
    }
  });

  await step('see a log line and pushed events in the live panel', async () => {
    const r = await callMethod(a, 'bot', 'print_text', { text: 'hello from the console test' });
    if (r.status !== 'success') throw new Error('print_text: ' + r.text);
    await a.waitForSelector('#live-rows tr[data-kind="stdout"]:has-text("hello from the console test")');
    const b = await callMethod(a, 'bot', 'burst', { count: '3', event: 'console_e2e' });
    if (b.status !== 'success') throw new Error('burst: ' + b.text);
    await a.waitForFunction(() => document.querySelectorAll('#live-rows tr[data-event="console_e2e"]').length >= 3);
    await a.waitForSelector('#live-rows tr[data-event="console_e2e"]:has-text(\'{"i":2}\')');
    await screenshot(a, 'controller');
  });

  const b = await openConsole('B');

  await step('page B is refused as controller and falls back to observer mode', async () => {
    await b.waitForSelector('#conn-state[data-state="observer"]');
    await b.waitForSelector('#banner:not([hidden]):has-text("controls the robot")');
    await b.waitForSelector('#holder-line:not([hidden]):has-text("127.0.0.1")');
    await b.waitForFunction(() => document.getElementById('project-name').textContent !== '—');
    await b.waitForSelector(method('bot', 'add'));
    for (const sel of ['#upload-button', '#start-button', '[data-command="StandUp"]', '[data-move="1,0,0"]',
      method('bot', 'add') + ' form button']) {
      if (!await isDisabled(b, sel)) throw new Error(sel + ' is enabled for an observer');
    }
    if (await isDisabled(a, method('bot', 'add') + ' form button')) throw new Error('controller A lost its controls');
  });

  await step('the observer still sees pushed events', async () => {
    const r = await callMethod(a, 'bot', 'burst', { count: '2', event: 'observer_sees' });
    if (r.status !== 'success') throw new Error('burst: ' + r.text);
    await b.waitForFunction(() => document.querySelectorAll('#live-rows tr[data-event="observer_sees"]').length >= 2);
    await screenshot(b, 'observer');
  });

  await step('take over: B becomes controller, A is told and drops to observer', async () => {
    await b.click('#takeover');
    await b.waitForSelector('#conn-state[data-state="controller"]');
    await a.waitForSelector('#conn-state[data-state="observer"]');
    await a.waitForSelector('#banner:not([hidden]):has-text("taken over")');
    await b.waitForSelector(method('bot', 'add') + ' form button:not([disabled])');
    if (!await isDisabled(a, '#upload-button')) throw new Error('A still has control widgets');
    const r = await callMethod(b, 'bot', 'add', { a: '1' });
    if (r.status !== 'success' || !/\n1$/.test(r.text)) throw new Error('add(1) from B: ' + r.text);
    await screenshot(a, 'taken-over');
  });

  await step('role toggle: B steps down to observer, A requests control and gets it', async () => {
    await b.click('#role-toggle');
    await b.waitForSelector('#conn-state[data-state="observer"]');
    await a.click('#role-toggle');
    await a.waitForSelector('#conn-state[data-state="controller"]');
    await a.waitForSelector('#upload-button:not([disabled]), #start-button:not([disabled])');
    if (!await isDisabled(b, '#start-button')) throw new Error('B still has control widgets');
  });
} catch (e) {
  failed = true;
  console.log(`not ok - ${current}: ${e && e.message ? e.message.split('\n').slice(0, 6).join('\n# ') : e}`);
  for (const [name, page] of pages) {
    try {
      await page.screenshot({ path: join(ARTIFACTS, `failure-${name}.png`), fullPage: true });
      writeFileSync(join(ARTIFACTS, `failure-${name}.txt`), await page.evaluate(() => document.body.innerText));
      console.log(`# page ${name}: ${await text(page, '#conn-state')} | banner: ${await text(page, '#banner').catch(() => '')}`);
    } catch (err) { console.log('# could not save the failure state of page ' + name + ': ' + err.message); }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
