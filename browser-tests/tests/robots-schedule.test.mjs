// A scheduled robot as a group admin sets it up in three steps: Ada opens
// her group's panel, names the robot (step 1), picks "Monday to Friday" at
// 09:15 and sees the next three runs in Hong Kong time (step 2), writes the
// message (step 3) and creates it; the section lists it with its next run.
// A bad time or cron shows an error under the field. Then a check-in
// robot running every minute (real time: the server's own runner) posts
// its card in Ben's pane; its button opens the run's page, where Ben checks
// in once and the roster shows who has and who has not.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, setUpOrg, joinOrg, online } from "./lib.mjs";

let server, browser, ada, ben, groupPath;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test("a group", async () => {
  ada = await setUpOrg(browser, server.url, { org: "港鐵貿易有限公司", name: "陳大文", email: "ada@example.com" });
  ben = await joinOrg(browser, ada, { name: "李小明", email: "ben@example.com" });
  ada.on("dialog", (dialog) => dialog.accept());
  await ada.goto("/chat");
  await ada.getByTestId("new-group").click();
  await ada.getByTestId("group-name").fill("財務部");
  await ada.getByTestId("group-member").check();
  await ada.getByTestId("group-create").click();
  await ada.waitForURL(/\/chat\/[0-9a-f-]+$/);
  groupPath = new URL(ada.url()).pathname;
  await online(ada);
});

test("the three-step wizard previews the next runs and makes the robot", async () => {
  await ada.getByTestId("chat-settings").click();
  const section = ada.getByTestId("schedules");
  await section.waitFor();
  await section.getByTestId("schedule-add-open").click();
  // Step 1: the name.
  await section.getByTestId("wizard-name").fill("現金流提醒");
  await section.getByTestId("wizard-next-1").click();
  // Step 2: when, with a preview.
  // Cron: only its field shows, and a bad one is explained under it.
  await section.getByTestId("wizard-rule").selectOption("cron");
  assert.ok(await section.getByTestId("wizard-time").isHidden());
  await section.getByTestId("wizard-cron").fill("0 25 * * *");
  const cronError = section.locator('[data-step="2"] [data-error-for="cron"]');
  await cronError.waitFor({ state: "visible" });
  assert.match(await cronError.textContent(), /25/);
  await section.getByTestId("wizard-rule").selectOption("weekdays");
  assert.ok(await section.getByTestId("wizard-cron").isHidden());
  await section.getByTestId("wizard-time").fill("25:00");
  const error = section.locator('[data-step="2"] [data-error-for="time"]');
  await error.waitFor({ state: "visible" });
  assert.match(await error.textContent(), /HH:MM/);
  await section.getByTestId("wizard-time").fill("09:15");
  const items = section.getByTestId("wizard-preview").locator("li");
  await items.nth(2).waitFor();
  const labels = await items.allTextContents();
  assert.equal(labels.length, 3);
  for (const label of labels) {
    assert.match(label, /^\d{4}-\d\d-\d\d \((Mon|Tue|Wed|Thu|Fri)\) 09:15$/);
  }
  assert.ok(await error.isHidden());
  await section.getByTestId("wizard-next-2").click();
  // Step 3: the message.
  await section.getByTestId("wizard-body").fill("請提交昨日現金流報表");
  await section.getByTestId("wizard-save").click();
  // The section reloads with the robot and its next run.
  await ada.getByTestId("schedule").waitFor();
  assert.equal(await ada.getByTestId("schedule-name").textContent(), "現金流提醒");
  assert.match(await ada.getByTestId("schedule-next").textContent(), /09:15$/);
  assert.equal(labels[0], (await ada.getByTestId("schedule-next").textContent()).trim());
  // Edited: a new time, the same message.
  const robot = ada.getByTestId("schedule");
  await robot.locator("summary").first().click();
  await robot.locator('input[name="time"]').fill("10:30");
  await robot.getByTestId("schedule-save").click();
  await ada.getByTestId("schedule-next").filter({ hasText: "10:30" }).waitFor();
  assert.match(await ada.getByTestId("schedule").textContent(), /請提交昨日現金流報表/);
  // Paused, then resumed.
  await ada.getByTestId("schedule-pause").click();
  await ada.getByTestId("schedule-paused").waitFor();
  await ada.getByTestId("schedule-pause").click();
  await ada.getByTestId("schedule-paused").waitFor({ state: "detached" });
});

test("a check-in card opens the run's page, where a member checks in once", { timeout: 120000 }, async () => {
  const section = ada.getByTestId("schedules");
  await section.getByTestId("schedule-add-open").click();
  await section.getByTestId("wizard-kind").selectOption("checkin");
  await section.getByTestId("wizard-name").fill("打卡機器人");
  await section.getByTestId("wizard-next-1").click();
  await section.getByTestId("wizard-rule").selectOption("cron");
  await section.getByTestId("wizard-cron").fill("* * * * *");
  await section.getByTestId("wizard-preview").locator("li").nth(2).waitFor();
  await section.getByTestId("wizard-next-2").click();
  await section.getByTestId("wizard-remind").waitFor();
  await section.getByTestId("wizard-body").fill("早晨！請打卡");
  await section.getByTestId("wizard-save").click();
  await ada.getByTestId("schedule").nth(1).waitFor();

  await ben.goto(groupPath);
  await online(ben);
  const card = ben.getByTestId("message").filter({ hasText: "早晨！請打卡" }).first();
  await card.waitFor({ timeout: 75000 });
  const button = card.locator("a.card-button");
  assert.equal((await button.textContent()).trim(), "打卡");
  const href = await button.getAttribute("href");
  assert.match(href, new RegExp(`^${groupPath}/checkins/[0-9a-f-]+/\\d+$`));
  await ben.goto(server.url + href);
  await ben.getByTestId("checkin-button").click();
  await ben.locator('[data-testid="checkin-entry"][data-checked="yes"]').waitFor();
  assert.equal(await ben.getByTestId("checkin-button").count(), 0, "once");
  assert.equal(await ben.locator('[data-testid="checkin-entry"][data-checked="no"]').count(), 1, "Ada has not");
  await ada.goto(href);
  assert.match(await ada.getByTestId("checkin-count").textContent(), /1 \/ 2/);
  await ada.getByTestId("checkin-button").waitFor();
});
