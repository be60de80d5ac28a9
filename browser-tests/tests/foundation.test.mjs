// The foundation as a person clicks through it: first-run setup, register
// by e-mail, log out, log in with the password, enable 2FA, log in again on
// a new device with a TOTP code, and QR login with a phone.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, phoneContext, totp, nextStep, codeFromOutbox } from "./lib.mjs";

const PASSWORD = "correct horse battery";
let server, browser, admin;
let secret, enrolStep;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("first-run setup creates the organisation and its owner", async () => {
  const context = await browser.newContext({ baseURL: server.url });
  admin = await context.newPage();
  await admin.goto("/");
  assert.match(admin.url(), /\/setup$/);
  await admin.getByTestId("setup-org").fill("港鐵貿易有限公司");
  await admin.getByTestId("setup-name").fill("陳大文");
  await admin.getByTestId("setup-email").fill("owner@example.com");
  await admin.getByTestId("setup-password").fill(PASSWORD);
  await admin.getByTestId("setup-submit").click();
  await admin.waitForURL(`${server.url}/`);
  assert.match(await admin.textContent("body"), /陳大文/);
});

test("register by e-mail, log out, log in with the password", async () => {
  const context = await browser.newContext({ baseURL: server.url });
  const page = await context.newPage();
  await page.goto("/register");
  await page.getByTestId("register-channel-email").click();
  await page.getByTestId("register-email").fill("ada@example.com");
  await page.getByTestId("register-send-code").click();
  await page.getByTestId("register-code").waitFor();
  const code = await codeFromOutbox(admin, "ada@example.com");
  await page.getByTestId("register-code").fill(code);
  await page.getByTestId("register-name").fill("Ada Lovelace");
  await page.getByTestId("register-password").fill(PASSWORD);
  await page.getByTestId("register-company").fill("數據分析有限公司");
  await page.getByTestId("register-submit").click();
  await page.waitForURL(`${server.url}/`);
  assert.match(await page.textContent("body"), /Ada Lovelace/);

  await page.getByTestId("user-menu").click();
  await page.getByTestId("logout").click();
  await page.waitForURL(/\/login/);
  await page.getByTestId("login-identifier").fill("ada@example.com");
  await page.getByTestId("login-password").fill(PASSWORD);
  await page.getByTestId("login-submit").click();
  await page.waitForURL(`${server.url}/`);
  assert.match(await page.textContent("body"), /數據分析有限公司/);

  // Turn on 2FA.
  await page.goto("/settings/security");
  await page.getByTestId("totp-begin").click();
  secret = (await page.getByTestId("totp-secret").textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  enrolStep = Math.floor(Date.now() / 30000);
  await page.getByTestId("totp-confirm-code").fill(totp(secret, enrolStep));
  await page.getByTestId("totp-confirm-submit").click();
  const codes = await page.getByTestId("recovery-codes").textContent();
  assert.equal(codes.match(/[a-z2-7]{4}-[a-z2-7]{4}/g).length, 10);
  await context.close();
});

test("a new device must give the TOTP code", async () => {
  const context = await browser.newContext({ baseURL: server.url });
  const page = await context.newPage();
  await page.goto("/login");
  await page.getByTestId("login-identifier").fill("ada@example.com");
  await page.getByTestId("login-password").fill(PASSWORD);
  await page.getByTestId("login-submit").click();
  await page.waitForURL(/\/login\/2fa/);
  // A wrong code is refused with a message, then the right one works.
  await page.getByTestId("totp-code").fill("000000");
  await page.getByTestId("totp-submit").click();
  await page.locator(".field-error, .alert.error").first().waitFor();
  const step = await nextStep(enrolStep);
  await page.getByTestId("totp-code").fill(totp(secret, step));
  await page.getByTestId("totp-submit").click();
  await page.waitForURL(`${server.url}/`);
  assert.match(await page.textContent("body"), /Ada Lovelace/);
  await context.close();
});

test("QR login: the phone confirms and the desktop logs in by itself", async () => {
  // The phone is the owner, logged in on a phone-sized browser.
  const phoneCtx = await phoneContext(browser);
  const phone = await phoneCtx.newPage();
  await phone.goto(`${server.url}/login`);
  await phone.getByTestId("login-identifier").fill("owner@example.com");
  await phone.getByTestId("login-password").fill(PASSWORD);
  await phone.getByTestId("login-submit").click();
  await phone.waitForURL(`${server.url}/`);

  const desktopCtx = await browser.newContext({ baseURL: server.url });
  const desktop = await desktopCtx.newPage();
  await desktop.goto("/login?mode=qr");
  const scanUrl = await desktop.getByTestId("qr-login").getAttribute("data-scan-url");
  assert.ok(scanUrl.startsWith(server.url + "/qr/"), scanUrl);
  assert.ok(await desktop.locator("#qr-login svg").count() > 0, "the QR code is drawn");

  await phone.goto(scanUrl);
  assert.match(await phone.textContent("body"), /Chrome|Chromium/);
  await phone.getByTestId("qr-confirm").click();
  const confirmedAt = Date.now();
  await desktop.waitForURL(`${server.url}/`, { timeout: 5000 });
  const elapsed = Date.now() - confirmedAt;
  assert.ok(elapsed < 1500, `desktop logged in ${elapsed} ms after the confirmation`);
  assert.match(await desktop.textContent("body"), /陳大文/);
  await phoneCtx.close();
  await desktopCtx.close();
});
