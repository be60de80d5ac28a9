// A custom robot as a group admin sets it up and a colleague sees it: Ada
// adds a signing robot in her group's panel and copies its address and
// secret, shown once; an outside system posts a card to it; the card shows
// live in Ben's pane with the robot's name and buttons, and a script in it
// does not run; a new address replaces the old one; the call log lists
// what happened. Ben, a plain member, sees no robots section.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { startServer, launchBrowser, setUpOrg, joinOrg, messages, online } from "./lib.mjs";

let server, browser, ada, ben, groupPath, webhook, secret;
const dialogs = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What an outside system does: a signed POST of DingTalk's JSON. */
async function postSigned(url, body) {
  const ts = Date.now();
  const sign = createHmac("sha256", secret).update(`${ts}\n${secret}`).digest("base64");
  const res = await fetch(`${url}&timestamp=${ts}&sign=${encodeURIComponent(sign)}`, {
    method: "POST",
    headers: { "Content-Type": "application/json; charset=utf-8" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return res.json();
}

test("a group with a member", async () => {
  ada = await setUpOrg(browser, server.url, { org: "港鐵貿易有限公司", name: "陳大文", email: "ada@example.com" });
  ben = await joinOrg(browser, ada, { name: "李小明", email: "ben@example.com" });
  for (const [page, who] of [[ada, "ada"], [ben, "ben"]]) {
    page.on("dialog", (dialog) => {
      if (dialog.type() === "confirm") return dialog.accept();
      dialogs.push(`${who}: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
  }
  await ada.goto("/chat");
  await ada.getByTestId("new-group").click();
  await ada.getByTestId("group-name").fill("資金管理群組");
  await ada.getByTestId("group-member").check();
  await ada.getByTestId("group-create").click();
  await ada.waitForURL(/\/chat\/[0-9a-f-]+$/);
  groupPath = new URL(ada.url()).pathname;
  await ben.goto(groupPath);
  await online(ada);
  await online(ben);
});

test("the admin adds a signing robot and sees its address and secret once", async () => {
  await ada.getByTestId("chat-settings").click();
  const robots = ada.getByTestId("robots");
  await robots.waitFor();
  await robots.getByTestId("robot-add-name").fill("ERP 機器人");
  await robots.getByTestId("robot-add-keywords").fill("審批\n報表");
  await robots.getByTestId("robot-add-signing").check();
  await robots.getByTestId("robot-add-save").click();
  await ada.getByTestId("robot-issued").waitFor();
  webhook = (await ada.getByTestId("robot-webhook").textContent()).trim();
  secret = (await ada.getByTestId("robot-secret").textContent()).trim();
  assert.match(webhook, new RegExp(`^${server.url}/robot/send\\?access_token=[0-9a-f]{64}$`));
  assert.match(secret, /^SEC[0-9a-f]{64}$/);
  assert.equal(await ada.getByTestId("robot").count(), 1);
  assert.equal(await ada.getByTestId("robot-name").textContent(), "ERP 機器人");
  // The rest of the panel is still there (only the robots section reloaded).
  await ada.getByTestId("group-members").waitFor();
  // Reopened, the panel no longer shows the secret.
  await ada.reload();
  await ada.getByTestId("chat-settings").click();
  await ada.getByTestId("robot").waitFor();
  assert.equal(await ada.getByTestId("robot-issued").isVisible(), false);
  assert.equal((await ada.content()).includes(secret), false);

  // Ben is a plain member: no robots section in his panel.
  await ben.getByTestId("chat-settings").click();
  await ben.getByTestId("group-members").waitFor();
  assert.equal(await ben.getByTestId("robots-section").count(), 0);
});

test("a card from an outside system shows live, with its buttons, and runs no script", async () => {
  const answer = await postSigned(webhook, {
    msgtype: "actionCard",
    actionCard: {
      title: "差旅申請",
      text: "### 陳大文 申請出差\n請審批 <img src=x onerror=alert('robot')>",
      btnOrientation: "1",
      btns: [
        { title: "同意", actionURL: "https://erp.example.com/trip/7/yes" },
        { title: "拒絕", actionURL: "dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Ferp.example.com%2Ftrip%2F7%2Fno&pc_slide=false" },
      ],
    },
  });
  assert.deepEqual(answer, { errcode: 0, errmsg: "ok" });
  const card = ben.getByTestId("message").filter({ hasText: "陳大文 申請出差" });
  await card.waitFor({ timeout: 5000 });
  assert.match(await card.locator(".msg-sender").textContent(), /ERP 機器人/);
  await card.getByTestId("robot-badge").waitFor();
  const buttons = card.locator("a.card-button");
  assert.equal(await buttons.count(), 2);
  assert.equal(await buttons.nth(1).getAttribute("href"), "https://erp.example.com/trip/7/no");
  assert.equal(await card.locator("img[src=x]").count(), 0);
  // A robot's message is not Ben's to edit or recall.
  assert.equal(await card.getByTestId("message-edit").count(), 0);
  // A message without the keyword is refused, and shows nowhere.
  assert.equal((await postSigned(webhook, { msgtype: "text", text: { content: "hello" } })).errcode, 310000);
  await messages(ada, "陳大文 申請出差").waitFor({ timeout: 5000 });
  assert.equal(await messages(ada, "hello").count(), 0);
  assert.deepEqual(dialogs, [], "no script ran");
});

test("a new address replaces the old one, and the call log shows every call", async () => {
  const robot = ada.getByTestId("robot");
  await robot.getByTestId("robot-new-token").click();
  await ada.getByTestId("robot-issued").waitFor();
  const renewed = (await ada.getByTestId("robot-webhook").textContent()).trim();
  assert.notEqual(renewed, webhook);
  assert.equal((await postSigned(webhook, { msgtype: "text", text: { content: "報表" } })).errcode, 300005);
  assert.equal((await postSigned(renewed, { msgtype: "text", text: { content: "新地址的報表" } })).errcode, 0);
  await messages(ben, "新地址的報表").waitFor({ timeout: 5000 });

  await ada.getByTestId("robot-log-link").click();
  await ada.waitForURL(/\/robots\/log$/);
  const rows = ada.getByTestId("robot-call");
  assert.equal(await rows.count(), 3, "accepted, refused for the keyword, accepted (the old token belongs to no group)");
  await ada.locator("#outcome").selectOption("failed");
  await ada.getByTestId("robot-log-filter").locator("button[type=submit]").click();
  await ada.waitForURL(/outcome=failed/);
  assert.equal(await rows.count(), 1);
  assert.equal(await rows.first().getAttribute("data-errcode"), "310000");
});
