// What every browser suite needs: a small merchant server (records the notifications it is sent,
// serves its thank-you pages), the mock started as a child process, and headless Chromium
// (Debian's, through playwright-core) with JavaScript off.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.PAY_ACCOUNT_MOCK_BIN || path.join(ROOT, 'target', 'debug', 'pay-account-mock');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR || path.join(ROOT, 'target', 'browser-screenshots');

/**
 * The merchant: every POST to one of `posts` is recorded in `received[path]` as
 * { headers, raw, body } and answered 200; a GET of one of `pages` (path → HTML) is recorded in
 * `visits` and answered with that page. Resolves to { url, received, visits, server }.
 */
function startMerchant({ posts, pages }) {
  const received = Object.fromEntries(posts.map((p) => [p, []]));
  const visits = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const list = received[url.pathname];
    if (req.method === 'POST' && list) {
      let raw = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => { raw += chunk; });
      req.on('end', () => {
        let body = null;
        try { body = JSON.parse(raw); } catch { /* recorded as null */ }
        list.push({ headers: req.headers, raw, body });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
      });
      return;
    }
    const page = pages[url.pathname];
    if (req.method === 'GET' && page) {
      visits.push(req.url);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(page);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not found');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ url: `http://127.0.0.1:${port}`, received, visits, server });
    });
  });
}

/** A merchant page with this heading and text. */
function merchantPage(text) {
  return '<!DOCTYPE html><title>Merchant</title><h1>Merchant thank-you page</h1>'
    + `<p>${text}</p>`;
}

const running = new Set();
process.on('exit', () => running.forEach((child) => child.kill()));

/** Starts the mock on a free port with these flags; resolves to { url, child }. */
function startMock(args) {
  const child = spawn(BIN, ['--port', '0', '--host', '127.0.0.1', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the mock did not start in time\n${stderr}`));
    }, 15000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^pay-account-mock listening on (http:\/\/\S+)$/m);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child });
      }
    });
    child.once('exit', (code) => {
      running.delete(child);
      clearTimeout(timer);
      reject(new Error(`the mock exited (${code}) before listening\n${stderr}`));
    });
  });
}

/** Headless Chromium with JavaScript off, in a fresh profile; resolves to { context, close }. */
async function openBrowser() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pay-account-mock-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    javaScriptEnabled: false,
    viewport: { width: 1400, height: 900 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(profileDir, { recursive: true, force: true });
  };
  return { context, close };
}

/** Stops what `before` started, whichever of it did start. */
async function stopAll({ browser, mock, merchant }) {
  if (browser) await browser.close();
  if (mock && mock.child.exitCode === null && mock.child.signalCode === null) {
    // Waited for: a mock with a state file saves it on the way out, and a caller that removes the
    // file's folder next would race that save.
    const exited = new Promise((resolve) => mock.child.once('exit', resolve));
    mock.child.kill();
    const late = setTimeout(() => mock.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(late);
  }
  if (merchant) await new Promise((r) => merchant.server.close(r));
}

/** The Basic auth header of a server key (empty password). */
const basicAuth = (key) => 'Basic ' + Buffer.from(`${key}:`).toString('base64');

/** A phone number as the pages show it: all but the last four digits hidden. */
function masked(phone) {
  return `+62 ${'*'.repeat(phone.length - 4)}${phone.slice(-4)}`;
}

/** Where the screenshot `name` goes (target/browser-screenshots/ unless SCREENSHOT_DIR says otherwise). */
const shotPath = (name) => path.join(SHOTS, name);

module.exports = {
  startMerchant, merchantPage, startMock, openBrowser, stopAll, basicAuth, masked, shotPath,
};
