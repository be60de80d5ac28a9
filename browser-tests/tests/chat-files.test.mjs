// Files, search and the notification centre on the chat page, three
// colleagues in their own browsers: Ada sends Ben an image and a file with
// a hostile name; a file over the server's limit (and an empty one) is
// refused with the server's words and adds nothing; Ben finds a message by
// search, opens it in context and pages both ways from there; Cai, who is
// not in the group, finds nothing; with quiet hours on, a plain message
// lands in Ben's notification centre, which opens it in context.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { deflateSync, crc32 } from "node:zlib";
import { startServer, launchBrowser, setUpOrg, joinOrg, messages, online, seqs } from "./lib.mjs";

const LIMIT = 4096;
const HOSTILE = "<img src=x onerror=alert(1)>.txt";
let server, browser, ada, ben, cai, groupPath, groupId;
const dialogs = [];

before(async () => {
  server = await startServer({ env: { TRAM_CHAT__MAX_UPLOAD_BYTES: String(LIMIT) } });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A real `width`×`height` PNG (RGB, a red-to-blue gradient). */
function png(width, height) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const tail = Buffer.alloc(4);
    tail.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([head, body, tail]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = [];
  for (let y = 0; y < height; y++) {
    rows.push(0); // filter: none
    for (let x = 0; x < width; x++) rows.push(Math.round((255 * x) / width), 0, Math.round((255 * y) / height));
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.from(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Sends through the API with the page's session (quick, for history). */
async function say(page, body) {
  const csrf = await page.evaluate(() => window.tram.csrf());
  const res = await page.request.post(`/api/v1/conversations/${groupId}/messages`, {
    headers: { "X-CSRF-Token": csrf },
    data: { body },
  });
  assert.equal(res.status(), 200, await res.text());
  return res.json();
}

async function scrollPane(page, to) {
  await page.getByTestId("messages").evaluate((pane, to) => {
    pane.scrollTop = to === "top" ? 0 : pane.scrollHeight;
    pane.dispatchEvent(new Event("scroll"));
  }, to);
  await page.waitForTimeout(200);
}

function watchDialogs(page, who) {
  page.on("dialog", (dialog) => {
    dialogs.push(`${who}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
}

test("three colleagues; Ada and Ben share a group", async () => {
  ada = await setUpOrg(browser, server.url, { org: "港鐵貿易有限公司", name: "陳大文", email: "ada@example.com" });
  ben = await joinOrg(browser, ada, { name: "李小明", email: "ben@example.com" });
  cai = await joinOrg(browser, ada, { name: "蔡家欣", email: "cai@example.com" });
  watchDialogs(ada, "ada");
  watchDialogs(ben, "ben");

  await ada.goto("/chat");
  await ada.getByTestId("new-group").click();
  await ada.getByTestId("group-name").fill("財務部");
  await ada.locator("label.check", { hasText: "李小明" }).getByTestId("group-member").check();
  await ada.getByTestId("group-create").click();
  await ada.waitForURL(/\/chat\/[0-9a-f-]+$/);
  groupPath = new URL(ada.url()).pathname;
  groupId = groupPath.split("/").pop();
  await ben.goto(groupPath);
  await online(ada);
  await online(ben);
});

test("an image shows inline and a file's name is text, however it reads", async () => {
  // Hold the upload back a moment to see the composer while it runs.
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  const isUpload = (url) => url.pathname.endsWith("/files");
  await ada.route(isUpload, async (route) => { await held; await route.continue(); });
  await ada.getByTestId("attach").setInputFiles({ name: "圖表.png", mimeType: "image/png", buffer: png(40, 30) });
  await ada.getByTestId("upload-status").waitFor();
  assert.ok(await ada.getByTestId("attach").isDisabled(), "no second upload while one runs");
  release();
  await ada.getByTestId("upload-status").waitFor({ state: "hidden" });
  await ada.unroute(isUpload);
  assert.ok(!(await ada.getByTestId("attach").isDisabled()));

  const image = ben.getByTestId("attachment-image");
  await image.waitFor({ timeout: 5000 });
  await ben.waitForFunction(() => {
    const img = document.querySelector('[data-testid="attachment-image"]');
    return img && img.complete && img.naturalWidth === 40 && img.naturalHeight === 30;
  }, null, { timeout: 5000 });
  assert.match(await image.getAttribute("src"), /^\/api\/v1\/attachments\/[0-9a-f-]+$/);
  assert.equal(await image.getAttribute("alt"), "圖表.png");

  await ada.getByTestId("attach").setInputFiles({ name: HOSTILE, mimeType: "text/html", buffer: Buffer.from("<script>alert(2)</script>") });
  const name = ben.getByTestId("attachment-name");
  await name.waitFor({ timeout: 5000 });
  assert.equal(await name.textContent(), HOSTILE, "the name is shown as it was given");
  const link = ben.getByTestId("attachment").filter({ has: name });
  assert.equal(await link.getAttribute("download"), HOSTILE);
  assert.equal(await ben.locator('[data-testid="messages"] img').count(), 1, "the one image, nothing injected");
  assert.equal(await ben.locator('img[src="x"]').count(), 0);
  assert.equal(await ada.locator('img[src="x"]').count(), 0);

  // The file downloads as what it is, not as a page of the site.
  const res = await ben.request.get(await link.getAttribute("href"));
  assert.equal(res.status(), 200);
  assert.match(res.headers()["content-disposition"], /^attachment;/);
  assert.equal(res.headers()["content-type"], "application/octet-stream");
  assert.equal(await res.text(), "<script>alert(2)</script>");
  await ben.waitForTimeout(300);
  assert.deepEqual(dialogs, [], "no script ran");
});

test("a file over the limit, or an empty one, is refused with the server's words and adds nothing", async () => {
  const before = await seqs(ada);
  await ada.getByTestId("attach").setInputFiles({ name: "報告.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(LIMIT * 3, 1) });
  const error = ada.getByTestId("composer-error");
  await error.waitFor();
  assert.match(await error.textContent(), /4 KiB/, "the message names the limit");
  assert.ok(!(await ada.getByTestId("attach").isDisabled()), "ready for another file");

  // What the page refuses the server refuses too, in the same words.
  const server413 = await ada.evaluate(async ([id, size]) => {
    const r = await window.tram.upload(`/api/v1/conversations/${id}/files?name=big.bin`, new Blob([new Uint8Array(size)]));
    return { status: r.status, code: r.body && r.body.error.code, message: r.body && r.body.error.message };
  }, [groupId, LIMIT * 3]);
  assert.deepEqual(server413, { status: 413, code: "too_large", message: await error.textContent() });

  // An empty file is the server's to refuse.
  const empty = await ada.request.post(`/api/v1/conversations/${groupId}/files?name=x.txt`, {
    headers: { "X-CSRF-Token": await ada.evaluate(() => window.tram.csrf()), "Accept-Language": await ada.evaluate(() => navigator.language) },
    data: Buffer.alloc(0),
  });
  assert.equal(empty.status(), 400);
  const emptyMessage = (await empty.json()).error.message;
  await ada.getByTestId("attach").setInputFiles({ name: "空白.txt", mimeType: "text/plain", buffer: Buffer.alloc(0) });
  await ada.getByTestId("composer-error").filter({ hasText: emptyMessage }).waitFor();

  await ben.waitForTimeout(500);
  assert.deepEqual(await seqs(ada), before, "no message on Ada's page");
  assert.deepEqual(await seqs(ben), before, "nor on Ben's");
});

test("search finds a message; its result opens it in context, and paging works both ways", async () => {
  for (let i = 1; i <= 60; i++) await say(ada, `閒聊 ${i}`);
  const hit = await say(ada, "昨日現金流報表已更新");
  for (let i = 1; i <= 120; i++) await say(ada, `之後 ${i}`);

  await ben.goto("/chat");
  await ben.getByTestId("chat-search").fill("現金流報表");
  await ben.getByTestId("chat-search").press("Enter");
  const result = ben.getByTestId("search-result");
  await result.first().waitFor();
  assert.equal(await result.count(), 1);
  const shown = await result.textContent();
  assert.match(shown, /財務部/, "the conversation");
  assert.match(shown, /陳大文/, "the sender");
  assert.match(shown, /\d{2}:\d{2}/, "the time");
  assert.equal(await result.getByTestId("search-snippet").textContent(), "昨日現金流報表已更新");
  assert.deepEqual(await result.locator("mark").allTextContents(), ["現金流報表"]);

  await result.click();
  await ben.waitForURL(`${server.url}${groupPath}?at=${hit.seq}`);
  const target = ben.locator('[data-testid="message"][data-highlighted="true"]');
  await target.waitFor();
  assert.equal(await target.getAttribute("data-seq"), String(hit.seq));
  assert.match(await target.textContent(), /昨日現金流報表已更新/);
  const pane = await ben.getByTestId("messages").boundingBox();
  const box = await target.boundingBox();
  assert.ok(box.y >= pane.y && box.y + box.height <= pane.y + pane.height, "scrolled into view");
  const first = await seqs(ben);
  assert.ok(first[0] > 1 && first[first.length - 1] < hit.seq + 120, `a window around the hit: ${first[0]}…${first[first.length - 1]}`);

  // A message sent while Ben reads history appears once he scrolls down to it.
  await say(ada, "你睇到呢條未？");
  for (let i = 0; i < 30 && !(await messages(ben, "你睇到呢條未？").count()); i++) await scrollPane(ben, "bottom");
  await messages(ben, "你睇到呢條未？").waitFor();
  for (let i = 0; i < 30 && !(await ben.getByTestId("history-start").count()); i++) await scrollPane(ben, "top");
  await ben.getByTestId("history-start").waitFor();
  const all = await seqs(ben);
  assert.deepEqual(all, Array.from({ length: all.length }, (_, i) => i + 1), "no gaps, no duplicates");
  assert.equal(all.length, hit.seq + 121);

  // Back at the live end, live messages arrive as usual.
  await say(ada, "即時訊息");
  await messages(ben, "即時訊息").waitFor({ timeout: 5000 });
  assert.equal(await messages(ben, "即時訊息").count(), 1);

  // With the group open, a result of it jumps in place.
  await ben.evaluate(() => { window.stayed = true; });
  await ben.getByTestId("chat-search").fill("現金流報表");
  await ben.getByTestId("chat-search").press("Enter");
  await ben.getByTestId("search-result").click();
  await ben.locator(`[data-testid="message"][data-highlighted="true"][data-seq="${hit.seq}"]`).waitFor();
  assert.equal(await ben.evaluate(() => window.stayed), true, "the page was not reloaded");

  // Cai is not in the group: nothing.
  await cai.goto("/chat");
  await cai.getByTestId("chat-search").fill("現金流報表");
  await cai.getByTestId("chat-search").press("Enter");
  await cai.getByTestId("search-none").waitFor();
  assert.equal(await cai.getByTestId("search-result").count(), 0);
});

test("during quiet hours a plain message waits in the notification centre, which opens it in context", async () => {
  const csrf = await ben.evaluate(() => window.tram.csrf());
  const res = await ben.request.put("/api/v1/me/notifications", {
    headers: { "X-CSRF-Token": csrf },
    data: { enabled: true, time_zone: "Asia/Hong_Kong", periods: [{ days: [1, 2, 3, 4, 5, 6, 7], start: "00:00", end: "00:00" }], allow_mentions: true, allow_from: [] },
  });
  assert.equal(res.status(), 200, await res.text());

  await ben.goto("/chat");
  await online(ben);
  await ben.getByTestId("notification-centre-open").click();
  const centre = ben.getByTestId("notification-centre");
  await centre.getByTestId("centre-empty").waitFor();

  // It arrives while the centre is open: listed by itself, no alert.
  const quiet = await say(ada, "安靜時段：請明早覆核付款");
  const item = ben.getByTestId("centre-item");
  await item.waitFor({ timeout: 5000 });
  assert.equal(await item.count(), 1);
  assert.match(await item.textContent(), /財務部/);
  assert.match(await item.textContent(), /陳大文/);
  assert.match(await item.textContent(), /請明早覆核付款/);
  assert.equal(await ben.getByTestId("notification").count(), 0, "no alert during quiet hours");

  await item.click();
  await ben.waitForURL(`${server.url}${groupPath}?at=${quiet.seq}`);
  await ben.locator(`[data-testid="message"][data-highlighted="true"][data-seq="${quiet.seq}"]`).waitFor();
  // Reading it clears it from the centre.
  await ben.getByTestId("notification-centre-open").click();
  await centre.getByTestId("centre-empty").waitFor({ timeout: 5000 });
});
