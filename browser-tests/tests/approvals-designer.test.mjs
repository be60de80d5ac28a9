// The template designer's node-by-node flow editor, its row-by-row
// editor of a detail table's columns, and files on a form.
// Ada (the owner) designs a purchase form with an amount, an item and a
// quotation file, and a flow with a condition branch: over HK$1,000 she
// approves it herself, otherwise the submitter's manager does. Saving
// with the branch's condition unfinished is refused at that node; she
// finishes it and saves. Ben submits HK$2,000 with a quotation attached
// (uploaded as he picks it): it routes through the branch to Ada, who sees
// the file on the request and downloads it. HK$500 goes to Carl. Then a
// detail table's columns are designed row by row (at the end of the file).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, setUpOrg, joinOrg } from "./lib.mjs";

let server, browser, ada, ben, carl, templatePath;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const me = async (page) => (await (await page.request.get("/api/v1/me")).json()).user.id;

test("an org where Ben reports to Carl", async () => {
  ada = await setUpOrg(browser, server.url, { org: "九龍採購有限公司", name: "陳大文", email: "ada@example.com" });
  ben = await joinOrg(browser, ada, { name: "李小明", email: "ben@example.com" });
  carl = await joinOrg(browser, ada, { name: "張主任", email: "carl@example.com" });
  await ada.goto("/approvals");
  const token = await ada.locator('meta[name="csrf-token"]').getAttribute("content");
  const res = await ada.request.put(`/api/v1/org/members/${await me(ben)}/manager`, {
    headers: { "x-csrf-token": token },
    data: { manager_user_id: await me(carl) },
  });
  assert.equal(res.status(), 200, await res.text());
});

async function addField(page, n, type, label, key) {
  await page.getByTestId("designer-add-field").click();
  await page.locator(`[name="f[${n}].type"]`).selectOption(type);
  await page.locator(`[name="f[${n}].label"]`).fill(label);
  await page.locator(`[name="f[${n}].key"]`).fill(key);
  // The flow editor reads the field list when a row changes.
  await page.locator(`[name="f[${n}].key"]`).dispatchEvent("change");
}

test("the admin builds a flow with a condition branch, node by node", async () => {
  await ada.goto("/approvals/admin/templates/new");
  await ada.locator("#name").fill("採購申請");
  await addField(ada, 1, "money", "金額", "amount");
  await addField(ada, 2, "short_text", "項目", "item");
  await addField(ada, 3, "attachment", "報價單", "quote");
  await ada.locator('[name="f[1].required"]').check();

  // The standard flow is drawn as nodes; she removes both.
  const editor = ada.getByTestId("flow-nodes");
  assert.equal(await editor.getByTestId("flow-node").count(), 2);
  assert.ok(await ada.getByTestId("designer-flow").isHidden(), "the JSON is tucked away");
  await ada.locator('[data-node="finance"] [data-testid="node-remove"]').first().click();
  await ada.locator('[data-node="manager"] [data-testid="node-remove"]').first().click();
  assert.equal(await editor.getByTestId("flow-node").count(), 0);

  // A branch; its path gets an approver: Ada, named.
  await ada.locator('[data-flow-nodes] > .flow-nodes > .flow-adds [data-testid="add-branch"]').click();
  const branch = ada.locator('[data-node="branch1"]');
  const path = branch.getByTestId("flow-path").first();
  await path.getByTestId("path-name").fill("超過 HK$1,000");
  await path.getByTestId("add-approver").click();
  const boss = ada.locator('[data-node="approver1"]');
  await boss.getByTestId("node-name").fill("經理審批");
  await boss.getByTestId("who-kind").selectOption("person");
  await boss.getByTestId("who-person").selectOption({ label: "陳大文" });
  await boss.getByTestId("node-mode").selectOption("or_sign");
  await boss.getByTestId("node-deadline").fill("48");
  // The default path: the submitter's manager.
  await branch.getByTestId("flow-default").getByTestId("add-approver").click();
  await ada.locator('[data-node="approver2"]').getByTestId("node-name").fill("直屬主管");
  // A CC node after the branch, then moved above it.
  await ada.locator('[data-flow-nodes] > .flow-nodes > .flow-adds [data-testid="add-cc"]').click();
  await ada.locator('[data-node="cc1"] [data-testid="node-up"]').click();
  // Copied to the org's admins (not Ben's manager).
  await ada.locator('[data-node="cc1"]').getByTestId("who-kind").selectOption("role");
  const order = await ada.locator("[data-flow-nodes] > .flow-nodes > .flow-node").evaluateAll((n) => n.map((x) => x.dataset.node));
  assert.deepEqual(order, ["cc1", "branch1"]);

  // The condition's field is not chosen yet: refused, at the branch.
  await ada.getByTestId("designer-save").click();
  const error = ada.locator('[data-node="branch1"] > [data-testid="node-error"]');
  await error.waitFor();
  assert.match(await error.textContent(), /branch1/);
  // Everything she built is still there.
  assert.equal(await ada.locator('[data-node="approver1"] [data-testid="node-name"]').inputValue(), "經理審批");

  const condition = ada.locator('[data-node="branch1"]').getByTestId("flow-path").first().getByTestId("condition");
  await condition.getByTestId("condition-field").selectOption("amount");
  await condition.getByTestId("condition-op").selectOption("gt");
  await condition.getByTestId("condition-value").fill("1000");
  await ada.getByTestId("designer-save").click();
  await ada.waitForURL(/\/approvals\/admin\/templates\/[0-9a-f-]+$/);
  templatePath = new URL(ada.url()).pathname.replace("/approvals/admin/templates/", "/approvals/new/");
  // Saved as designed: the JSON the server kept.
  const flow = JSON.parse(await ada.getByTestId("designer-flow").inputValue());
  assert.equal(flow.nodes[0].type, "cc");
  assert.deepEqual(flow.nodes[1].branches[0].when, { kind: "field", field: "amount", op: "gt", value: 1000 });
  assert.equal(flow.nodes[1].branches[0].nodes[0].mode, "or_sign");
  assert.equal(flow.nodes[1].branches[0].nodes[0].deadline_hours, 48);
  assert.deepEqual(flow.nodes[1].default[0].approvers, [{ kind: "manager", level: 1 }]);
});

async function submit(page, amount, item, file) {
  await page.goto(templatePath);
  await page.locator('[name="amount"]').fill(amount);
  await page.locator('[name="item"]').fill(item);
  if (file) {
    await page.locator('input[type=file][data-upload="quote"]').setInputFiles(file);
    await page.getByTestId("attachment-quote").locator("li").filter({ hasText: file.name }).waitFor();
  }
  await page.getByTestId("submit").click();
  await page.waitForURL(/\/approvals\/[0-9a-f-]+$/);
  return new URL(page.url()).pathname;
}

const stepsOf = (page) => page.getByTestId("steps").textContent();

test("HK$2,000 with a quotation routes through the branch to Ada, who downloads the file", async () => {
  const quote = { name: "報價單.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4 quotation") };
  const path = await submit(ben, "2000", "手提電腦", quote);
  const steps = await stepsOf(ben);
  assert.ok(steps.includes("經理審批") && steps.includes("陳大文"), steps);
  assert.ok(!steps.includes("直屬主管"), steps);

  await ada.goto(path);
  const link = ada.getByTestId("file-link");
  assert.equal((await link.textContent()).trim(), "報價單.pdf");
  const res = await ada.request.get(await link.getAttribute("href"));
  assert.equal(res.status(), 200);
  assert.equal((await res.body()).toString(), "%PDF-1.4 quotation");
  // Carl has no part in it: neither the request nor its file.
  assert.equal((await carl.request.get(await link.getAttribute("href"))).status(), 404);
});

test("HK$500 takes the default path to Ben's manager", async () => {
  await submit(ben, "500", "文具");
  const steps = await stepsOf(ben);
  assert.ok(steps.includes("直屬主管") && steps.includes("張主任"), steps);
  assert.ok(!steps.includes("經理審批"), steps);
});

// A detail table designed without JSON: Ada adds an expense-lines table
// and builds its columns row by row (an item, a note she moves up and then
// drops, a required amount of at least zero); the saved template has
// exactly those columns and the form to submit shows them. A column
// without a key is refused at that column, and nothing is saved.
const fieldRow = (page, n) => page.locator('[data-testid="designer-fields"] tbody tr[data-row]').nth(n - 1);
const columnKeys = (row) => row.getByTestId("column-key").evaluateAll((inputs) => inputs.map((i) => i.value));
const templates = async (page) => (await (await page.request.get("/api/v1/approvals/templates")).json()).length;

test("the admin builds a detail table's columns row by row", async () => {
  await ada.goto("/approvals/admin/templates/new");
  await ada.locator("#name").fill("費用明細");
  await addField(ada, 1, "short_text", "事由", "reason");
  await addField(ada, 2, "table", "明細", "lines");
  const lines = fieldRow(ada, 2);
  // The editor stands in for the JSON box, which is tucked away; other
  // field types have no columns to edit.
  assert.ok(await lines.getByTestId("columns-json").isHidden());
  assert.ok(await fieldRow(ada, 1).getByTestId("add-column").isHidden());
  const column = (n) => lines.getByTestId("column").nth(n - 1);

  await lines.getByTestId("add-column").click();
  await column(1).getByTestId("column-label").fill("項目");
  await column(1).getByTestId("column-key").fill("item");
  await column(1).getByTestId("column-required").check();
  await lines.getByTestId("add-column").click();
  await column(2).getByTestId("column-type").selectOption("money");
  // A money column takes bounds, not options or a pattern.
  assert.equal(await column(2).getByTestId("column-options").count(), 0);
  assert.equal(await column(2).getByTestId("column-pattern").count(), 0);
  await column(2).getByTestId("column-label").fill("金額");
  await column(2).getByTestId("column-key").fill("amount");
  await column(2).getByTestId("column-required").check();
  await column(2).getByTestId("column-min").fill("0");
  await lines.getByTestId("add-column").click();
  await column(3).getByTestId("column-type").selectOption("long_text");
  await column(3).getByTestId("column-label").fill("備註");
  await column(3).getByTestId("column-key").fill("note");
  await column(3).getByTestId("column-up").click();
  assert.deepEqual(await columnKeys(lines), ["item", "note", "amount"]);
  await column(2).getByTestId("column-remove").click();
  assert.deepEqual(await columnKeys(lines), ["item", "amount"]);

  await ada.getByTestId("designer-save").click();
  await ada.waitForURL(/\/approvals\/admin\/templates\/[0-9a-f-]+$/);
  const id = new URL(ada.url()).pathname.split("/").pop();
  const saved = await (await ada.request.get(`/api/v1/approvals/templates/${id}`)).json();
  const table = saved.fields[1];
  assert.equal(table.type, "table");
  assert.deepEqual(
    table.columns.map((c) => [c.key, c.label, c.type, c.required]),
    [["item", "項目", "short_text", true], ["amount", "金額", "money", true]],
  );
  assert.equal(table.columns[1].min, 0);
  assert.equal(table.columns[1].currency, "HKD");
  // The designer shows the saved columns as rows again.
  assert.deepEqual(await columnKeys(fieldRow(ada, 2)), ["item", "amount"]);
  // And the form to submit has the table with those columns.
  await ada.goto(`/approvals/new/${id}`);
  const lineTable = ada.getByTestId("table-lines");
  assert.equal(await lineTable.locator('[name="lines[1].item"]').count(), 1);
  assert.equal(await lineTable.locator('[name="lines[1].amount"]').count(), 1);
});

test("a column without a key is refused at that column, and nothing is saved", async () => {
  const before = await templates(ada);
  await ada.goto("/approvals/admin/templates/new");
  await ada.locator("#name").fill("壞表格");
  await addField(ada, 1, "table", "明細", "lines");
  const lines = fieldRow(ada, 1);
  await lines.getByTestId("add-column").click();
  await lines.getByTestId("column").nth(0).getByTestId("column-label").fill("項目");
  await lines.getByTestId("add-column").click();
  await lines.getByTestId("column").nth(1).getByTestId("column-label").fill("日期");
  await lines.getByTestId("column").nth(1).getByTestId("column-type").selectOption("date");
  await lines.getByTestId("column").nth(0).getByTestId("column-key").fill("item");
  await ada.getByTestId("designer-save").click();

  // Refused at the second column (the one without a key), the rows kept.
  const refused = fieldRow(ada, 1).getByTestId("column").nth(1);
  const error = refused.getByTestId("column-error");
  await error.waitFor();
  assert.match(await error.textContent(), /lines\.columns\[2\]/);
  assert.match(await error.textContent(), /key/i);
  assert.equal(await refused.getByTestId("column-label").inputValue(), "日期");
  assert.equal(await fieldRow(ada, 1).getByTestId("column").nth(0).getByTestId("column-error").count(), 0);
  assert.match(new URL(ada.url()).pathname, /\/templates\/new$/);
  assert.equal(await templates(ada), before, "nothing saved");

  // With a key it saves.
  await refused.getByTestId("column-key").fill("day");
  await ada.getByTestId("designer-save").click();
  await ada.waitForURL(/\/approvals\/admin\/templates\/[0-9a-f-]+$/);
  assert.equal(await templates(ada), before + 1);
});
