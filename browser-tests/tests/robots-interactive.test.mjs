// Interactive robots, no code: Ada gives her group's robot a callback
// address (its app secret shown once), Ben @mentions the robot from the
// composer's picker and the robot's answer shows; Ada composes a card with
// a link button and a callback button; Ben clicks the callback button and
// the robot's answer appears in the group. The robot's server is a small
// HTTP server here that checks the `sign` header DingTalk's way.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import { startServer, launchBrowser, setUpOrg, joinOrg, messages, online } from "./lib.mjs";

let server, browser, ada, ben, groupPath, appSecret, robotServer, robotUrl;
const received = [];

/** The developer's server: records callbacks and answers each in the body. */
function startRobotServer() {
  return new Promise((resolve) => {
    const srv = createServer((req, res) => {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => {
        const body = JSON.parse(data || "{}");
        const ts = req.headers["timestamp"];
        const expected = createHmac("sha256", appSecret).update(`${ts}\n${appSecret}`).digest("base64");
        received.push({ body, signed: req.headers["sign"] === expected });
        const words = body.msgtype === "actionCallback"
          ? `已收到按鈕：${body.actionCallback.value}（${body.senderNick}）`
          : `你好 ${body.senderNick}，你說：${body.text.content.trim()}`;
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ msgtype: "text", text: { content: words } }));
      });
    });
    srv.listen(0, "127.0.0.1", () => resolve(srv));
  });
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  robotServer = await startRobotServer();
  robotUrl = `http://127.0.0.1:${robotServer.address().port}/dingtalk/callback`;
});

after(async () => {
  await browser?.close();
  await server?.stop();
  robotServer?.close();
});

test("a group, its robot, and the robot's callback address", async () => {
  ada = await setUpOrg(browser, server.url, { org: "港鐵貿易有限公司", name: "陳大文", email: "ada@example.com" });
  ben = await joinOrg(browser, ada, { name: "李小明", email: "ben@example.com" });
  ada.on("dialog", (d) => d.accept());
  await ada.goto("/chat");
  await ada.getByTestId("new-group").click();
  await ada.getByTestId("group-name").fill("差旅群組");
  await ada.getByTestId("group-member").check();
  await ada.getByTestId("group-create").click();
  await ada.waitForURL(/\/chat\/[0-9a-f-]+$/);
  groupPath = new URL(ada.url()).pathname;
  await ben.goto(groupPath);
  await online(ada);
  await online(ben);

  await ada.getByTestId("chat-settings").click();
  const robots = ada.getByTestId("robots");
  await robots.waitFor();
  await robots.getByTestId("robot-add-name").fill("差旅助手");
  await robots.getByTestId("robot-add-signing").check();
  await robots.getByTestId("robot-add-save").click();
  await ada.getByTestId("robot-issued").waitFor();
  // A bad address is refused with a message, and nothing is set.
  const outgoing = ada.getByTestId("robot-outgoing");
  await outgoing.locator("summary").click();
  await outgoing.getByTestId("robot-callback-url").fill("ftp://erp.example.com/cb");
  await outgoing.getByTestId("robot-outgoing-save").click();
  await outgoing.locator('[data-error-for="callback_url"]').waitFor();
  await outgoing.getByTestId("robot-callback-url").fill(robotUrl);
  await outgoing.getByTestId("robot-outgoing-save").click();
  await ada.getByTestId("robot-app-secret").waitFor();
  appSecret = (await ada.getByTestId("robot-app-secret").textContent()).trim();
  assert.equal(appSecret.length, 64);
  assert.match(await ada.getByTestId("robot-scope-list").textContent(), /\S/);
});

test("a member @mentions the robot from the picker and its answer shows", async () => {
  const composer = ben.getByTestId("composer-text");
  await composer.fill("@差旅");
  await ben.getByTestId("mention-robot").first().click();
  await composer.press("End");
  await composer.type("明天的航班？");
  await composer.press("Enter");
  await messages(ben, "你好 李小明，你說：明天的航班？").waitFor({ timeout: 10000 });
  const mention = received.find((r) => r.body.msgtype === "text");
  assert.ok(mention.signed, "signed with the app secret");
  assert.equal(mention.body.text.content.trim(), "明天的航班？");
  assert.equal(mention.body.conversationTitle, "差旅群組");
  // The @name reads as written in Ben's message.
  await messages(ben, "@差旅助手 明天的航班？").waitFor();
});

test("the admin composes a card and a member's click brings the robot's answer", async () => {
  const compose = ada.getByTestId("card-compose");
  await compose.getByTestId("card-compose-open").click();
  await compose.getByTestId("card-title").fill("出差申請：東京 3 日");
  await compose.getByTestId("card-text").fill("**陳大文** 申請出差，請審批");
  await compose.getByTestId("card-b0-label").fill("查看行程");
  await compose.getByTestId("card-b0-kind").selectOption("url");
  await compose.getByTestId("card-b0-target").fill("https://erp.example.com/trip/7");
  await compose.getByTestId("card-b1-label").fill("同意");
  await compose.getByTestId("card-b1-kind").selectOption("callback");
  await compose.getByTestId("card-b1-value").fill("approve-7");
  await compose.getByTestId("card-send").click();

  const card = ben.getByTestId("message").filter({ hasText: "出差申請：東京 3 日" });
  await card.waitFor({ timeout: 10000 });
  assert.equal(await card.locator("a.card-button").getAttribute("href"), "https://erp.example.com/trip/7");
  await card.getByTestId("card-callback").click();
  await messages(ben, "已收到按鈕：approve-7（李小明）").waitFor({ timeout: 10000 });
  await messages(ada, "已收到按鈕：approve-7（李小明）").waitFor({ timeout: 10000 });
  const click = received.find((r) => r.body.msgtype === "actionCallback");
  assert.ok(click.signed);
  assert.equal(click.body.actionCallback.buttonTitle, "同意");
});
