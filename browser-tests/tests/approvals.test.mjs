// An expense claim of HK$6,200 walked through the approval pages in four
// browsers: Ada (the owner) adds the gallery's expense claim naming Fay as
// finance; Ben fills the form (two lines, the total shown as he types,
// a bad amount refused at its cell first), submits, and sees it with his
// manager Carl; Carl approves from the card in his chat's work notices (a
// dialog with a comment; the card then loses its decision buttons and says
// the outcome, also after a reload), then Ada (second-level manager: over HK$5,000) and Fay approve
// from their inboxes with comments; Ben sees it approved and
// read-only with the full trail, and the A4 print view.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, setUpOrg, joinOrg } from "./lib.mjs";

let server, browser, ada, ben, carl, fay, requestPath;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const me = async (page) => (await (await page.request.get("/api/v1/me")).json()).user.id;

/** Ada sets `who`'s manager (the org chart's own API, as the members page does). */
async function setManager(page, who, manager) {
  const token = await page.locator('meta[name="csrf-token"]').getAttribute("content");
  const res = await page.request.put(`/api/v1/org/members/${who}/manager`, {
    headers: { "x-csrf-token": token },
    data: { manager_user_id: manager },
  });
  assert.equal(res.status(), 200, await res.text());
}

test("an org with a reporting line and a finance person", async () => {
  ada = await setUpOrg(browser, server.url, { org: "港島貿易有限公司", name: "陳大文", email: "ada@example.com" });
  ben = await joinOrg(browser, ada, { name: "李小明", email: "ben@example.com" });
  carl = await joinOrg(browser, ada, { name: "張主任", email: "carl@example.com" });
  fay = await joinOrg(browser, ada, { name: "黃會計", email: "fay@example.com" });
  await ada.goto("/approvals");
  await setManager(ada, await me(ben), await me(carl));
  await setManager(ada, await me(carl), await me(ada));
});

test("the admin adds the gallery's expense claim in one click", async () => {
  await ada.getByTestId("admin-templates").click();
  await ada.getByTestId("finance").selectOption({ label: "黃會計" });
  await ada.getByTestId("gallery-expense").click();
  await ada.getByTestId("template-row").filter({ hasText: /Expense claim|報銷/ }).waitFor();
});

test("Ben fills the claim; a bad amount is refused at its cell, then it is submitted", async () => {
  await ben.goto("/approvals");
  await ben.getByTestId("form-expense").click();
  await ben.locator('[name="reason"]').fill("客戶晚宴");
  await ben.locator('[name="lines[1].date"]').fill("2026-11-02");
  await ben.locator('[name="lines[1].item"]').fill("晚宴");
  await ben.locator('[name="lines[1].amount"]').fill("5,000");
  await ben.getByTestId("add-row-lines").click();
  await ben.locator('[name="lines[2].date"]').fill("2026-11-02");
  await ben.locator('[name="lines[2].item"]').fill("的士");
  await ben.locator('[name="lines[2].amount"]').fill("1200.005");
  await ben.getByTestId("submit").click();
  const error = ben.getByTestId("error-lines[2].amount");
  await error.waitFor();
  assert.match(await error.textContent(), /two decimals|兩位/);
  // What he typed is still there; he corrects the amount.
  assert.equal(await ben.locator('[name="lines[1].item"]').inputValue(), "晚宴");
  await ben.locator('[name="lines[2].amount"]').fill("1,200");
  assert.equal((await ben.getByTestId("total-lines").textContent()).trim(), "HK$6,200.00");
  await ben.getByTestId("submit").click();
  await ben.waitForURL(/\/approvals\/[0-9a-f-]+$/);
  requestPath = new URL(ben.url()).pathname;
  assert.equal(await ben.getByTestId("status").getAttribute("data-status"), "pending");
  await ben.goto("/approvals");
  assert.match(await ben.getByTestId("standing").first().textContent(), /張主任/);
});

/** `page` opens the request from its pending inbox and approves it with `comment`. */
async function approveFromInbox(page, comment) {
  await page.goto("/approvals?box=pending");
  await page.locator(`a[href="${requestPath}"]`).click();
  await page.getByTestId("comment").fill(comment);
  await page.getByTestId("approve").click();
  await page.waitForURL(new RegExp(`${requestPath}$`));
  await page.getByTestId("trail-entry").filter({ hasText: comment }).waitFor();
}

/** `page` approves from the card in its work notices (工作通知) with `comment`. */
async function approveFromChat(page, comment) {
  let notices;
  for (let i = 0; i < 100 && !notices; i++) {
    const list = await (await page.request.get("/api/v1/conversations")).json();
    notices = list.find((c) => c.kind === "notice");
    if (!notices) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(notices, "a work-notice conversation");
  await page.goto(`/chat/${notices.id}`);
  const card = page.locator(".card-msg").filter({ has: page.getByTestId("card-act") }).last();
  const cardId = await card.evaluate((n) => n.closest("article").getAttribute("data-id"));
  await card.getByTestId("card-act").first().click();
  const dialog = page.getByTestId("card-act-dialog");
  await dialog.waitFor();
  await page.getByTestId("card-act-comment").fill(comment);
  await page.getByTestId("card-act-confirm").click();
  await dialog.waitFor({ state: "hidden" });
  // The page marks the card decided at once, then the server closes it in
  // place (live; either may be seen first, so the card is found by its
  // message id): its decision buttons go and it says the outcome. Shown
  // again (a reload) it stays closed.
  const closed = (id) => {
    const article = document.querySelector(`article[data-id="${id}"]`);
    return !!article && !article.querySelector('[data-testid="card-act"]')
      && /已批准|Approved/.test(article.textContent);
  };
  await page.waitForFunction(closed, cardId, { timeout: 10000 });
  await page.reload();
  await page.locator(`article[data-id="${cardId}"]`).waitFor();
  assert.ok(await page.evaluate(closed, cardId), "the decided card stays closed");
}

test("manager, second-level manager and finance approve it to the archive", async () => {
  await approveFromChat(carl, "同意");
  await carl.goto(requestPath);
  await carl.getByTestId("trail-entry").filter({ hasText: "同意" }).waitFor();
  await approveFromInbox(ada, "超過五千，批准");
  await approveFromInbox(fay, "已核對收據");
  await ben.goto(requestPath);
  assert.equal(await ben.getByTestId("status").getAttribute("data-status"), "approved");
  assert.equal(await ben.getByTestId("actions").count(), 0);
  assert.equal(await ben.getByTestId("withdraw").count(), 0);
  const trail = await ben.getByTestId("trail").textContent();
  for (const text of ["張主任", "同意", "陳大文", "超過五千，批准", "黃會計", "已核對收據"]) {
    assert.ok(trail.includes(text), `the trail has ${text}`);
  }
  // The browser speaks English: the last entry is the archive.
  assert.match(await ben.getByTestId("trail-entry").last().textContent(), /Archived|歸檔/);
  const states = await ben.getByTestId("step").evaluateAll((nodes) => nodes.map((n) => n.dataset.state));
  assert.deepEqual(states, ["done", "done", "done"]);
});

test("the print view is laid out for A4", async () => {
  const print = await ben.context().newPage();
  await print.goto(`${requestPath}/print`);
  await print.getByTestId("print-view").waitFor();
  const text = await print.getByTestId("print-view").textContent();
  assert.ok(text.includes("HK$6,200.00") && text.includes("已核對收據"));
  await print.emulateMedia({ media: "print" });
  assert.ok(await print.getByTestId("print").isHidden(), "the print button is not printed");
  await print.close();
});

test("the form fits a phone", async () => {
  await ben.setViewportSize({ width: 390, height: 844 });
  for (const path of ["/approvals", requestPath]) {
    await ben.goto(path);
    const overflow = await ben.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${path}: no sideways scrolling (${overflow}px)`);
  }
  await ben.goto("/approvals");
  await ben.getByTestId("form-expense").click();
  await ben.getByTestId("submit").waitFor();
  const overflow = await ben.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the form: no sideways scrolling (${overflow}px)`);
});
