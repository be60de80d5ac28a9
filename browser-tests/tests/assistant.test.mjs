// The AI assistant as people meet it: Ada, the org's owner, adds an FAQ and
// uploads a Markdown document on the assistant's page and puts the
// assistant in her group; Ben asks it a
// question; the answer shows live in his pane, quoting him, with a link to
// the entry it came from and buttons to rate it; his rating sticks and he
// can change it; the link opens the entry.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, setUpOrg, joinOrg, messages, online } from "./lib.mjs";

let server, browser, ada, ben, groupId, robot;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A JSON API call from the page, as its own scripts make them. */
const api = (page, method, path, body) =>
  page.evaluate(([m, p, b]) => window.tram.api(m, p, b), [method, path, body]);

test("a group with a member, and the assistant in it", async () => {
  ada = await setUpOrg(browser, server.url, { org: "港灣科技有限公司", name: "陳大文", email: "ada@example.com" });
  ben = await joinOrg(browser, ada, { name: "李小明", email: "ben@example.com" });
  ada.on("dialog", (dialog) => dialog.accept());
  await ada.goto("/chat");
  await ada.getByTestId("new-group").click();
  await ada.getByTestId("group-name").fill("人事查詢");
  await ada.getByTestId("group-member").check();
  await ada.getByTestId("group-create").click();
  await ada.waitForURL(/\/chat\/[0-9a-f-]+$/);
  groupId = new URL(ada.url()).pathname.split("/").pop();
  // The group's admin adds it from the robots section of the group panel.
  await ada.getByTestId("chat-settings").click();
  const robots = ada.getByTestId("robots");
  await robots.getByTestId("assistant-add-save").click();
  await robots.getByTestId("robot-name").filter({ hasText: "AI" }).waitFor();
  assert.equal(await robots.getByTestId("assistant-add").count(), 0, "offered once");
  assert.equal(await robots.getByTestId("robot-new-token").count(), 0, "no webhook to manage");
  const list = await api(ada, "GET", `/api/v1/conversations/${groupId}/robots`);
  robot = list.body.find((r) => r.kind === "assistant");
  assert.ok(robot, JSON.stringify(list.body));
});

test("the owner adds an FAQ on the assistant's page", async () => {
  await ada.goto("/assistant");
  await ada.getByTestId("add-entry-open").click();
  const form = ada.getByTestId("add-entry");
  await form.locator("select[name=kind]").selectOption("faq");
  await form.locator("input[name=title]").fill("年假有多少天？");
  await form.locator("textarea[name=body]").fill("入職首年享有 12 天年假，其後每年增加 1 天。");
  await form.locator("textarea[name=phrasings]").fill("有幾多日年假\nannual leave");
  await form.locator("button[type=submit]").click();
  await ada.getByTestId("entry").filter({ hasText: "年假有多少天？" }).waitFor();
});

test("the owner uploads a Markdown document", async () => {
  await ada.goto("/assistant");
  await ada.getByTestId("add-entry-open").click();
  const form = ada.getByTestId("add-entry");
  await form.getByTestId("entry-file").setInputFiles({
    name: "IT 安全政策.md",
    mimeType: "text/markdown",
    buffer: Buffer.from("# 密碼\n密碼最少 12 個字元，每 90 天更換一次。\n\n# USB\n公司電腦禁止使用 USB 儲存裝置。\n"),
  });
  await ada.waitForFunction(() => document.querySelector("#body-new").value.includes("90 天"));
  assert.equal(await form.locator("input[name=title]").inputValue(), "IT 安全政策");
  assert.equal(await form.locator("select[name=kind]").inputValue(), "doc");
  await form.locator("button[type=submit]").click();
  await ada.getByTestId("entry").filter({ hasText: "IT 安全政策" }).waitFor();
});

test("a member asks, sees the cited answer live, and rates it", async () => {
  await ben.goto(`/chat/${groupId}`);
  await online(ben);
  const sent = await api(ben, "POST", `/api/v1/conversations/${groupId}/messages`, {
    body: `@${robot.name} 我一年有幾多日年假？`,
    robot_mentions: [robot.id],
  });
  assert.equal(sent.ok, true, JSON.stringify(sent.body));
  const answer = ben.getByTestId("message").filter({ has: messages(ben, "12 天年假") });
  await answer.waitFor({ timeout: 15000 });
  await assert.doesNotReject(answer.getByTestId("reply-quote").filter({ hasText: "我一年有幾多日年假" }).waitFor());
  const helpful = answer.getByTestId("rate-helpful");
  const unhelpful = answer.getByTestId("rate-not-helpful");
  await helpful.click();
  await ben.waitForFunction(() => document.querySelector('[data-testid="rate-helpful"]')?.getAttribute("aria-pressed") === "true");
  assert.match(await helpful.textContent(), /1$/);
  await unhelpful.click();
  await ben.waitForFunction(() => document.querySelector('[data-testid="rate-not-helpful"]')?.getAttribute("aria-pressed") === "true");
  assert.match(await helpful.textContent(), /0$/);
  assert.match(await unhelpful.textContent(), /1$/);
  // After a reload the rating is still his.
  await ben.reload();
  await ben.waitForFunction(() => document.querySelector('[data-testid="rate-not-helpful"]')?.getAttribute("aria-pressed") === "true");
  // The uploaded document answers with its passage.
  await api(ben, "POST", `/api/v1/conversations/${groupId}/messages`, {
    body: `@${robot.name} 密碼最少要幾多個字元？`,
    robot_mentions: [robot.id],
  });
  await messages(ben, "最少 12 個字元").waitFor({ timeout: 15000 });
  // The citation opens the entry.
  await ben.getByTestId("message-body").getByRole("link", { name: "年假有多少天？" }).click();
  await ben.getByTestId("entry-title").filter({ hasText: "年假有多少天？" }).waitFor();
});
