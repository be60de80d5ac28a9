// Shared helpers: start a real Tram server on a free port with its own data
// directory, launch Debian's Chromium through playwright-core, compute TOTP
// codes the way an authenticator app does.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/**
 * Starts the server; `env` adds settings the way an operator would
 * (`TRAM_CHAT__MAX_UPLOAD_BYTES` sets `chat.max_upload_bytes`).
 */
export async function startServer({ env = {} } = {}) {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "tram-browser-"));
  const url = `http://127.0.0.1:${port}`;
  const launch = async () => {
    const proc = spawn(process.env.TRAM_BIN, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
      env: { ...process.env, TRAM_PUBLIC_URL: url, TRAM_LOG: "warn", ...env },
      stdio: ["ignore", "inherit", "inherit"],
    });
    for (let i = 0; i < 200; i++) {
      try {
        const res = await fetch(`${url}/healthz`);
        if (res.ok) break;
      } catch {}
      await new Promise((r) => setTimeout(r, 50));
    }
    return proc;
  };
  const halt = async (proc) => {
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
  };
  let proc = await launch();
  return {
    url,
    /** Stops the server, runs `meanwhile`, and starts it again on the same address and data. */
    async restart(meanwhile = async () => {}) {
      await halt(proc);
      await meanwhile();
      proc = await launch();
    },
    async stop() {
      await halt(proc);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
}

const PHONE = {
  viewport: { width: 390, height: 844 },
  userAgent:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
  isMobile: true,
  hasTouch: true,
};
export const phoneContext = (browser) => browser.newContext(PHONE);

function base32Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of text.replace(/=+$/, "").toUpperCase()) {
    const v = alphabet.indexOf(ch);
    if (v < 0) continue;
    bits += v.toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The 6-digit TOTP code (RFC 6238, SHA-1, 30 s) for `secret` at `step`. */
export function totp(secret, step = Math.floor(Date.now() / 30000)) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(value).padStart(6, "0");
}

/** Waits until the TOTP time step is later than `step` (codes are single-use). */
export async function nextStep(step) {
  while (Math.floor(Date.now() / 30000) <= step) await new Promise((r) => setTimeout(r, 250));
  return Math.floor(Date.now() / 30000);
}

/** The newest code sent to `destination`, read by the admin from the dev outbox. */
export async function codeFromOutbox(adminPage, destination) {
  const res = await adminPage.request.get(`/api/v1/dev/outbox?to=${encodeURIComponent(destination)}`);
  const entries = await res.json();
  const match = entries.length ? entries[0].body.match(/\b(\d{6})\b/) : null;
  if (!match) throw new Error(`no code for ${destination}: ${JSON.stringify(entries)}`);
  return match[1];
}

export const PASSWORD = "correct horse battery";

/** First-run setup in a new browser context: `org`'s owner, logged in. */
export async function setUpOrg(browser, url, { org, name, email }) {
  const ctx = await browser.newContext({ baseURL: url });
  const page = await ctx.newPage();
  await page.goto("/setup");
  await page.getByTestId("setup-org").fill(org);
  await page.getByTestId("setup-name").fill(name);
  await page.getByTestId("setup-email").fill(email);
  await page.getByTestId("setup-password").fill(PASSWORD);
  await page.getByTestId("setup-submit").click();
  await page.waitForURL(`${url}/`);
  return page;
}

/** A colleague invited by `adminPage` who registers by e-mail in a new browser context, logged in. */
export async function joinOrg(browser, adminPage, { name, email }) {
  const url = new URL(adminPage.url()).origin;
  await adminPage.goto("/admin/members");
  await adminPage.getByTestId("invite-create").click();
  const invitation = (await adminPage.getByTestId("invite-code").textContent()).trim();
  const ctx = await browser.newContext({ baseURL: url });
  const page = await ctx.newPage();
  await page.goto(`/register?channel=email&invitation=${encodeURIComponent(invitation)}`);
  await page.getByTestId("register-email").fill(email);
  await page.getByTestId("register-send-code").click();
  await page.getByTestId("register-code").waitFor();
  await page.getByTestId("register-code").fill(await codeFromOutbox(adminPage, email));
  await page.getByTestId("register-name").fill(name);
  await page.getByTestId("register-password").fill(PASSWORD);
  await page.getByTestId("register-submit").click();
  await page.waitForURL(`${url}/`);
  return page;
}

// ---- the chat page

/** The message bodies in `page`'s pane that contain `text`. */
export const messages = (page, text) => page.getByTestId("message-body").filter({ hasText: text });

/** Waits until the page's live connection is up. */
export async function online(page) {
  await page.locator('[data-testid="connection"][data-state="online"]').waitFor({ timeout: 10000 });
}

/** Sends `text` from the composer and waits until it is shown. */
export async function send(page, text) {
  await page.getByTestId("composer-text").fill(text);
  await page.getByTestId("composer-text").press("Enter");
  await messages(page, text).waitFor();
}

/** Every message's sequence number in the pane, top to bottom. */
export const seqs = (page) => page.$$eval('[data-testid="message"]', (nodes) => nodes.map((n) => Number(n.dataset.seq)));
