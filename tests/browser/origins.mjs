// A frontend served from elsewhere, in headless Chromium (issue 11): a listed origin
// connects; an unlisted one sees what the README's troubleshooting describes (a CORS error
// in the console, `xhr poll error` in connect_error); the console at the gateway's own
// origin keeps working beside the listed one.
// Env: LISTED_URL, UNLISTED_URL (pages that connect to ROBOT_URL), ROBOT_URL, CHROMIUM.
// Prints "origins: ok" on success; throws otherwise.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'gateway', 'console', 'package.json'));
const { chromium } = require('playwright-core');
const WAIT = 30000;

const profile = mkdtempSync(join(tmpdir(), 'robotctl-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
context.setDefaultTimeout(WAIT);

async function outcome(url) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  await page.waitForFunction(() => window.outcome !== undefined, null, { timeout: WAIT });
  return { outcome: await page.evaluate(() => window.outcome), errors };
}

try {
  const listed = await outcome(process.env.LISTED_URL);
  if (listed.outcome !== 'connected') throw new Error('listed origin: ' + JSON.stringify(listed));
  const unlisted = await outcome(process.env.UNLISTED_URL);
  if (unlisted.outcome !== 'xhr poll error') throw new Error('unlisted origin: ' + JSON.stringify(unlisted));
  if (!unlisted.errors.some((e) => e.includes('CORS'))) throw new Error('no CORS error: ' + JSON.stringify(unlisted));
  const console_ = await context.newPage();
  await console_.goto(process.env.ROBOT_URL + '/');
  await console_.waitForSelector('#info:not([hidden])', { timeout: WAIT });   // server_info arrived
  console.log('origins: ok');
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
