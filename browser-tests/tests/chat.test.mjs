// Chat as two colleagues use it, each in their own browser: Ada opens a
// 1:1 chat with Ben from the contacts page; messages arrive live both
// ways; Ben's quiet hours silence a plain message but let an @mention
// through; Ben's browser drops offline, reconnects by itself and shows
// what was sent meanwhile exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, phoneContext, setUpOrg, joinOrg, PASSWORD, messages, online, send, seqs } from "./lib.mjs";

let server, browser, ada, ben, chatPath;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("two colleagues in one organisation", async () => {
  ada = await setUpOrg(browser, server.url, { org: "港鐵貿易有限公司", name: "陳大文", email: "ada@example.com" });
  ben = await joinOrg(browser, ada, { name: "李小明", email: "ben@example.com" });
  assert.match(await ben.textContent("body"), /港鐵貿易有限公司/);
});

test("a message button in contacts opens the 1:1 chat, and messages arrive live both ways", async () => {
  await ada.goto("/contacts");
  await ada.locator('[data-testid="message-colleague"][data-name="李小明"]').click();
  await ada.waitForURL(/\/chat\/[0-9a-f-]+$/);
  chatPath = new URL(ada.url()).pathname;
  assert.equal(await ada.getByTestId("chat-title").textContent(), "李小明");

  // Ben finds the conversation in his list and opens it.
  await ben.goto("/chat");
  await ben.locator(`[data-testid="conversation"][href="${chatPath}"]`).click();
  await ben.waitForURL(`${server.url}${chatPath}`);
  await online(ada);
  await online(ben);

  await send(ada, "大文：今日三點開會");
  await messages(ben, "大文：今日三點開會").waitFor({ timeout: 5000 });
  // Outside quiet hours a message alerts Ben (the check below, that quiet
  // hours silence one, means something only because this one alerts).
  await ben.getByTestId("notification").first().waitFor({ timeout: 5000 });

  await send(ben, "小明：收到，<b>準時</b>");
  await messages(ada, "小明：收到，<b>準時</b>").waitFor({ timeout: 5000 });
  assert.equal(await ada.locator('[data-testid="message-body"] b').count(), 0, "text is shown as text, not HTML");
  // Ben has read Ada's message: her receipt says so.
  await ada.locator('[data-testid="receipt"]').first().waitFor();
  assert.deepEqual(await seqs(ada), [1, 2]);
  assert.deepEqual(await seqs(ben), [1, 2]);
});

test("quiet hours: a plain message does not alert, an @mention does", async () => {
  await ben.goto("/settings/notifications");
  await ben.getByTestId("quiet-enabled").check();
  await ben.getByTestId("quiet-zone").fill("Asia/Hong_Kong");
  await ben.getByTestId("quiet-add").click();
  const period = ben.locator('#periods [data-testid="quiet-period"]').last();
  for (const day of await period.locator("[data-day]").all()) await day.check();
  await period.getByTestId("quiet-start").fill("00:00");
  await period.getByTestId("quiet-end").fill("00:00");
  await ben.getByTestId("quiet-allow-mentions").check();
  await ben.getByTestId("quiet-save").click();
  await ben.getByTestId("quiet-saved").waitFor();

  // A bad zone shows the API's message at the field and saves nothing.
  await ben.getByTestId("quiet-zone").fill("Mars/Base");
  await ben.getByTestId("quiet-save").click();
  await ben.locator('[data-error-for="time_zone"]:not([hidden])').waitFor();
  await ben.getByTestId("quiet-zone").fill("Asia/Hong_Kong");
  await ben.getByTestId("quiet-save").click();
  await ben.getByTestId("quiet-saved").waitFor();

  await ben.goto(chatPath);
  await online(ben);
  await send(ada, "安靜時段的一般訊息");
  await messages(ben, "安靜時段的一般訊息").waitFor({ timeout: 5000 });
  // A `notify` follows its message at once on the same socket; give it time anyway.
  await ben.waitForTimeout(1500);
  assert.equal(await ben.getByTestId("notification").count(), 0, "no alert during quiet hours");

  // Ada @mentions Ben through the picker.
  const box = ada.getByTestId("composer-text");
  await box.fill("");
  await box.pressSequentially("@李");
  await ada.getByTestId("mention-option").filter({ hasText: "李小明" }).click();
  await box.pressSequentially("請看報表");
  await box.press("Enter");
  await messages(ben, "請看報表").waitFor({ timeout: 5000 });
  const alert = ben.getByTestId("notification").first();
  await alert.waitFor({ timeout: 5000 });
  assert.match(await alert.textContent(), /請看報表/);
});

test("after a drop the page reconnects by itself and shows what it missed once", async () => {
  await ben.context().setOffline(true);
  await ben.locator('[data-testid="connection"][data-state="offline"]').waitFor({ timeout: 10000 });
  await send(ada, "離線期間的訊息");
  await ben.waitForTimeout(500);
  assert.equal(await messages(ben, "離線期間的訊息").count(), 0);

  await ben.context().setOffline(false);
  await online(ben);
  await messages(ben, "離線期間的訊息").waitFor({ timeout: 10000 });
  await ben.waitForTimeout(1000);
  assert.equal(await messages(ben, "離線期間的訊息").count(), 1, "shown once");
  const shown = await seqs(ben);
  assert.deepEqual(shown, [...shown].sort((a, b) => a - b), "in order");
  assert.equal(new Set(shown).size, shown.length, "no duplicates");
  assert.equal(shown.length, 5);
});

test("history: scrolling up loads older pages without gaps or duplicates", async () => {
  // 60 more messages through the API (Ada's browser session and CSRF token).
  const csrf = await ada.evaluate(() => window.tram.csrf());
  const id = chatPath.split("/").pop();
  for (let i = 1; i <= 60; i++) {
    const res = await ada.request.post(`/api/v1/conversations/${id}/messages`, {
      headers: { "X-CSRF-Token": csrf },
      data: { body: `歷史 ${i}` },
    });
    assert.equal(res.status(), 200);
  }
  await ben.goto(chatPath);
  await messages(ben, "歷史 60").waitFor();
  const firstPage = await seqs(ben);
  assert.ok(firstPage.length < 65, `the first page is a page, not everything (${firstPage.length})`);
  for (let i = 0; i < 20 && !(await ben.getByTestId("history-start").count()); i++) {
    await ben.getByTestId("messages").evaluate((pane) => { pane.scrollTop = 0; pane.dispatchEvent(new Event("scroll")); });
    await ben.waitForTimeout(200);
  }
  await ben.getByTestId("history-start").waitFor();
  const all = await seqs(ben);
  assert.deepEqual(all, Array.from({ length: 65 }, (_, i) => i + 1));
});

test("on a phone the list and the conversation stack", async () => {
  const ctx = await phoneContext(browser);
  const phone = await ctx.newPage();
  await phone.goto(`${server.url}/login`);
  await phone.getByTestId("login-identifier").fill("ben@example.com");
  await phone.getByTestId("login-password").fill(PASSWORD);
  await phone.getByTestId("login-submit").click();
  await phone.waitForURL(`${server.url}/`);
  await phone.goto(`${server.url}/chat`);
  assert.ok(await phone.getByTestId("conversation-list").isVisible());
  await phone.locator(`[data-testid="conversation"][href="${chatPath}"]`).click();
  await phone.waitForURL(`${server.url}${chatPath}`);
  assert.ok(await phone.getByTestId("composer").isVisible());
  assert.ok(!(await phone.getByTestId("conversation-list").isVisible()), "the list steps aside for the conversation");
  const box = await phone.getByTestId("composer").boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 391, `the composer fits the screen: ${JSON.stringify(box)}`);
  await ctx.close();
});

test("when the server restarts, the page reconnects by itself and catches up", async () => {
  await ben.goto(chatPath);
  await online(ben);
  await server.restart(async () => {
    await ben.locator('[data-testid="connection"]:not([data-state="online"])').waitFor({ timeout: 10000 });
  });
  // Ada's page is reconnecting too: she sends over plain HTTP.
  const csrf = await ada.evaluate(() => window.tram.csrf());
  const id = chatPath.split("/").pop();
  const res = await ada.request.post(`/api/v1/conversations/${id}/messages`, {
    headers: { "X-CSRF-Token": csrf },
    data: { body: "重新啟動之後" },
  });
  assert.equal(res.status(), 200);
  await online(ben);
  await messages(ben, "重新啟動之後").waitFor({ timeout: 20000 });
  await ben.waitForTimeout(1000);
  assert.equal(await messages(ben, "重新啟動之後").count(), 1);
});

test("a group: create it, pin an announcement, reply, read receipts, edit and recall", async () => {
  await ada.goto("/chat");
  await ada.getByTestId("new-group").click();
  await ada.getByTestId("group-name").fill("資金管理群組");
  await ada.getByTestId("group-member").check();
  await ada.getByTestId("group-create").click();
  await ada.waitForURL(/\/chat\/[0-9a-f-]+$/);
  const groupPath = new URL(ada.url()).pathname;
  assert.notEqual(groupPath, chatPath);
  await ben.goto(groupPath);
  await online(ada);
  await online(ben);

  // Ada pins an announcement; it appears at the top of Ben's page by itself.
  await ada.getByTestId("chat-settings").click();
  await ada.getByTestId("group-announcement").fill("每日 09:15 前提交現金流報表");
  await ada.getByTestId("group-announcement-save").click();
  await ben.getByTestId("announcement").filter({ hasText: "09:15" }).waitFor({ timeout: 5000 });

  await send(ada, "第一季報表");
  await messages(ben, "第一季報表").waitFor({ timeout: 5000 });
  await ben.getByTestId("message").first().getByTestId("message-reply").click();
  await send(ben, "已收到");
  const reply = ada.getByTestId("message").filter({ hasText: "已收到" });
  await reply.waitFor({ timeout: 5000 });
  assert.match(await reply.getByTestId("reply-quote").textContent(), /第一季報表/);
  // Ben has read it: "read by 1 of 1" on Ada's message.
  const mine = ada.getByTestId("message").first();
  await mine.locator('[data-testid="receipt"][data-read="1"][data-of="1"]').waitFor({ timeout: 5000 });

  await mine.getByTestId("message-edit").click();
  await ada.getByTestId("composer-text").fill("第一季報表（修訂）");
  await ada.getByTestId("composer-text").press("Enter");
  await messages(ben, "第一季報表（修訂）").waitFor({ timeout: 5000 });

  ada.once("dialog", (dialog) => dialog.accept());
  await ada.getByTestId("message").first().getByTestId("message-recall").click();
  await ben.locator('[data-testid="message"].recalled').waitFor({ timeout: 5000 });
  assert.equal(await messages(ben, "第一季報表").count(), 0, "the recalled text is gone from Ben's page");
  assert.deepEqual(await seqs(ben), [1, 2]);
});
