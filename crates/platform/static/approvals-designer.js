// The template designer's editors, each drawn from JSON kept in a textarea
// that is what the form posts (and is the editor without script): every
// change is written back to the textarea, and editing the JSON by hand
// redraws the editor. The server checks everything again and names what
// is at fault, which is shown where it is.
//
// The flow: node by node — approver nodes, CC nodes and condition branches
// with a default path — with buttons to add, remove and reorder them; a
// refusal names a node and is shown in that node's card.
//
// A detail table's columns: one row per column (type, label, key,
// required, and what the type takes: options, min/max, a pattern) with
// buttons to add, remove and reorder them; a refusal names the column by
// its place and is shown in that column's row.
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function labelled(text, input) {
    return el("label", { class: "flow-input" }, [el("span", { text: text }), input]);
  }

  function cssEscape(text) { return String(text).replace(/["\\]/g, "\\$&"); }

  // The inputs of one editor: a change runs `save` (which writes its JSON
  // box); a button also runs `draw`.
  function controls(save, draw) {
    return {
      input: function (value, onChange, attrs) {
        var i = el("input", attrs || {});
        i.value = value == null ? "" : String(value);
        i.addEventListener("input", function () { onChange(i.value); save(); });
        return i;
      },
      checkbox: function (checked, onChange, attrs) {
        var c = el("input", Object.assign({ type: "checkbox" }, attrs || {}));
        c.checked = !!checked;
        c.addEventListener("change", function () { onChange(c.checked); save(); });
        return c;
      },
      select: function (options, value, onChange, attrs) {
        var s = el("select", attrs || {});
        // A value the list does not offer (a field renamed, a member who
        // left, a type typed in the JSON) is kept and shown as it is.
        if (value != null && value !== "" && !options.some(function (o) { return String(o[0]) === String(value); })) {
          options = options.concat([[value, String(value)]]);
        }
        options.forEach(function (o) {
          var opt = el("option", { value: o[0], text: o[1] });
          if (String(o[0]) === String(value)) opt.selected = true;
          s.appendChild(opt);
        });
        s.addEventListener("change", function () { onChange(s.value); save(); });
        return s;
      },
      button: function (text, onClick, attrs) {
        var b = el("button", Object.assign({ type: "button", class: "secondary small" }, attrs || {}));
        b.textContent = text;
        b.addEventListener("click", function () { onClick(); save(); draw(); });
        return b;
      },
    };
  }

  // ---- The flow ----

  var root, box, data, L, flow;

  function t(key) { return (L && L[key]) || key; }

  var flowUi = controls(function () { save(); }, function () { draw(); });
  var input = flowUi.input, select = flowUi.select, button = flowUi.button;

  // The form's fields as the designer rows show them now: [key, label, type].
  function fields() {
    var out = [];
    document.querySelectorAll('table[data-table="f"] tbody tr[data-row]').forEach(function (row) {
      var key = row.querySelector('[name$=".key"]'), label = row.querySelector('[name$=".label"]');
      var type = row.querySelector('[name$=".type"]');
      if (key && key.value.trim()) out.push([key.value.trim(), (label && label.value.trim()) || key.value.trim(), type ? type.value : ""]);
    });
    return out;
  }

  function fieldOptions(onlyType) {
    return [["", "—"]].concat(fields().filter(function (f) { return !onlyType || f[2] === onlyType; })
      .map(function (f) { return [f[0], f[1] + " (" + f[0] + ")"]; }));
  }

  function nextId(prefix) {
    var used = {};
    (function walk(nodes) {
      nodes.forEach(function (n) {
        used[n.id] = true;
        if (n.type === "branch") {
          (n.branches || []).forEach(function (b) { walk(b.nodes || []); });
          walk(n["default"] || []);
        }
      });
    })(flow.nodes);
    for (var i = 1; ; i++) if (!used[prefix + i]) return prefix + i;
  }

  function newNode(type) {
    if (type === "approver") return { type: "approver", id: nextId("approver"), name: t("approver"), approvers: [{ kind: "manager", level: 1 }], mode: "countersign", deadline_hours: 24, allow_submitter: false };
    if (type === "cc") return { type: "cc", id: nextId("cc"), name: t("cc"), recipients: [{ kind: "manager", level: 1 }] };
    return { type: "branch", id: nextId("branch"), branches: [newPath()], "default": [] };
  }

  function newPath() {
    return { name: t("path"), when: blankCondition(), nodes: [] };
  }

  // One approver or recipient: its kind and what that kind needs.
  function whoRow(list, i) {
    var who = list[i];
    var kinds = ["person", "manager", "department_head", "role", "picked_in_field"].map(function (k) { return [k, t("who_" + k)]; });
    var row = el("div", { class: "flow-who", "data-who": who.kind });
    row.appendChild(select(kinds, who.kind, function (k) {
      list[i] = k === "person" ? { kind: k, user_id: "" } : k === "manager" ? { kind: k, level: 1 }
        : k === "role" ? { kind: k, role: "admin" } : k === "picked_in_field" ? { kind: k, field: "" } : { kind: k };
      draw();
    }, { "aria-label": t("who"), "data-testid": "who-kind" }));
    if (who.kind === "person") {
      row.appendChild(select([["", "—"]].concat(data.people), who.user_id, function (v) { who.user_id = v; }, { "aria-label": t("who_person"), "data-testid": "who-person" }));
    } else if (who.kind === "manager") {
      row.appendChild(labelled(t("level"), input(who.level || 1, function (v) { who.level = parseInt(v, 10) || 0; }, { type: "number", min: "1", max: "5", "data-testid": "who-level" })));
    } else if (who.kind === "role") {
      row.appendChild(select([["admin", t("role_admin")], ["owner", t("role_owner")]], who.role, function (v) { who.role = v; }));
    } else if (who.kind === "picked_in_field") {
      row.appendChild(select(fieldOptions("person"), who.field, function (v) { who.field = v; }, { "aria-label": t("field") }));
    }
    row.appendChild(button("×", function () { list.splice(i, 1); }, { "aria-label": t("remove"), title: t("remove") }));
    return row;
  }

  function whoList(node, key) {
    var list = node[key] = node[key] || [];
    var wrap = el("div", { class: "flow-whos" }, [el("strong", { text: t(key) })]);
    list.forEach(function (_, i) { wrap.appendChild(whoRow(list, i)); });
    wrap.appendChild(button("+ " + t("add_who"), function () { list.push({ kind: "manager", level: 1 }); }, { "data-testid": "add-who" }));
    return wrap;
  }

  function valueText(value) {
    if (Array.isArray(value)) return value.join(", ");
    return value == null ? "" : String(value);
  }

  function valueOf(text, op) {
    if (op === "in") return text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    var clean = text.trim();
    return /^-?\d+(\.\d+)?$/.test(clean) ? Number(clean) : clean;
  }

  function blankCondition() { return { kind: "field", field: "", op: "eq", value: "" }; }

  // One simple condition (on a form field or the submitter's department);
  // `set` replaces it, `remove` (if given) takes it out.
  function conditionRow(c, set, remove) {
    var row = el("div", { class: "flow-condition", "data-testid": "condition" });
    row.appendChild(select([["field", t("cond_field")], ["submitter_in_department", t("cond_department")]], c.kind, function (k) {
      set(k === "field" ? blankCondition() : { kind: k, department_id: "" });
      draw();
    }, { "aria-label": t("condition"), "data-testid": "condition-kind" }));
    if (c.kind === "field") {
      row.appendChild(select(fieldOptions(), c.field, function (v) { c.field = v; }, { "aria-label": t("field"), "data-testid": "condition-field" }));
      var ops = [["gt", ">"], ["ge", "≥"], ["lt", "<"], ["le", "≤"], ["eq", "="], ["ne", "≠"], ["in", t("op_in")]];
      row.appendChild(select(ops, c.op, function (v) { c.op = v; c.value = valueOf(valueText(c.value), v); }, { "aria-label": t("op"), "data-testid": "condition-op" }));
      row.appendChild(input(valueText(c.value), function (v) { c.value = valueOf(v, c.op); }, { "aria-label": t("value"), placeholder: t("value"), "data-testid": "condition-value" }));
    } else {
      row.appendChild(select([["", "—"]].concat(data.departments), c.department_id, function (v) { c.department_id = v; }, { "aria-label": t("cond_department"), "data-testid": "condition-department" }));
    }
    if (remove) row.appendChild(button("×", remove, { "aria-label": t("remove"), title: t("remove") }));
    return row;
  }

  function simple(c) { return c && (c.kind === "field" || c.kind === "submitter_in_department"); }

  // A path's condition: one simple condition, or all / any of several.
  function conditionEditor(path) {
    var wrap = el("div", { class: "flow-conditions" }, [el("strong", { text: t("when") })]);
    var w = path.when;
    if (simple(w)) {
      wrap.appendChild(conditionRow(w, function (c) { path.when = c; }, null));
      wrap.appendChild(button("+ " + t("add_condition"), function () {
        path.when = { kind: "all", conditions: [w, blankCondition()] };
      }, { "data-testid": "add-condition" }));
    } else if (w && (w.kind === "all" || w.kind === "any") && (w.conditions || []).every(simple)) {
      wrap.appendChild(select([["all", t("combine_all")], ["any", t("combine_any")]], w.kind, function (v) { w.kind = v; }, { "data-testid": "condition-combine" }));
      w.conditions.forEach(function (c, i) {
        wrap.appendChild(conditionRow(c, function (n) { w.conditions[i] = n; }, function () {
          w.conditions.splice(i, 1);
          if (w.conditions.length === 1) path.when = w.conditions[0];
        }));
      });
      wrap.appendChild(button("+ " + t("add_condition"), function () { w.conditions.push(blankCondition()); }, { "data-testid": "add-condition" }));
    } else {
      wrap.appendChild(el("p", { class: "muted", text: t("complex") }));
    }
    return wrap;
  }

  function nodeCard(list, i) {
    var node = list[i];
    var card = el("div", { class: "flow-node flow-" + node.type, "data-node": node.id, "data-testid": "flow-node" });
    var head = el("div", { class: "flow-head" }, [el("strong", { text: t(node.type) })]);
    head.appendChild(labelled(t("node_id"), input(node.id, function (v) { node.id = v.trim(); card.setAttribute("data-node", node.id); }, { class: "flow-id", "data-testid": "node-id" })));
    if (i > 0) head.appendChild(button("↑", function () { list.splice(i - 1, 0, list.splice(i, 1)[0]); }, { "aria-label": t("up"), title: t("up"), "data-testid": "node-up" }));
    if (i < list.length - 1) head.appendChild(button("↓", function () { list.splice(i + 1, 0, list.splice(i, 1)[0]); }, { "aria-label": t("down"), title: t("down"), "data-testid": "node-down" }));
    head.appendChild(button(t("remove"), function () { list.splice(i, 1); }, { "data-testid": "node-remove" }));
    card.appendChild(head);
    if (node.type === "approver" || node.type === "cc") {
      card.appendChild(labelled(t("name"), input(node.name, function (v) { node.name = v; }, { "data-testid": "node-name" })));
    }
    if (node.type === "approver") {
      card.appendChild(whoList(node, "approvers"));
      var opts = el("div", { class: "flow-options" });
      opts.appendChild(labelled(t("mode"), select([["countersign", t("countersign")], ["or_sign", t("or_sign")]], node.mode || "countersign", function (v) { node.mode = v; }, { "data-testid": "node-mode" })));
      opts.appendChild(labelled(t("deadline_hours"), input(node.deadline_hours == null ? 24 : node.deadline_hours, function (v) { node.deadline_hours = parseInt(v, 10) || 0; }, { type: "number", min: "1", "data-testid": "node-deadline" })));
      opts.appendChild(labelled(t("allow_submitter"), flowUi.checkbox(node.allow_submitter, function (v) { node.allow_submitter = v; })));
      card.appendChild(opts);
    } else if (node.type === "cc") {
      card.appendChild(whoList(node, "recipients"));
    } else {
      node.branches = node.branches || [];
      node.branches.forEach(function (path, b) {
        var box = el("div", { class: "flow-path", "data-testid": "flow-path" });
        var ph = el("div", { class: "flow-head" });
        ph.appendChild(labelled(t("path_name"), input(path.name, function (v) { path.name = v; }, { "data-testid": "path-name" })));
        ph.appendChild(button(t("remove_path"), function () { node.branches.splice(b, 1); }, { "data-testid": "path-remove" }));
        box.appendChild(ph);
        box.appendChild(conditionEditor(path));
        path.nodes = path.nodes || [];
        box.appendChild(nodeList(path.nodes));
        card.appendChild(box);
      });
      card.appendChild(button("+ " + t("add_path"), function () { node.branches.push(newPath()); }, { "data-testid": "add-path" }));
      node["default"] = node["default"] || [];
      var def = el("div", { class: "flow-path flow-default", "data-testid": "flow-default" }, [el("strong", { text: t("default_path") })]);
      def.appendChild(nodeList(node["default"]));
      card.appendChild(def);
    }
    var error = root.querySelector('[data-flow-error][data-node="' + cssEscape(node.id) + '"]');
    if (error) {
      error.hidden = true;
      card.classList.add("has-error");
      card.appendChild(el("div", { class: "field-error", role: "alert", text: error.textContent, "data-testid": "node-error" }));
    }
    return card;
  }

  function nodeList(list) {
    var wrap = el("div", { class: "flow-nodes" });
    if (!list.length) wrap.appendChild(el("p", { class: "muted", text: t("empty") }));
    list.forEach(function (_, i) { wrap.appendChild(nodeCard(list, i)); });
    var adds = el("div", { class: "actions flow-adds" });
    ["approver", "cc", "branch"].forEach(function (type) {
      adds.appendChild(button("+ " + t(type), function () { list.push(newNode(type)); }, { "data-testid": "add-" + type }));
    });
    wrap.appendChild(adds);
    return wrap;
  }

  function save() { box.value = JSON.stringify(flow, null, 2); }

  function draw() {
    var editor = root.querySelector("[data-flow-nodes]");
    editor.textContent = "";
    editor.appendChild(el("p", { class: "flow-end", text: t("start") }));
    editor.appendChild(nodeList(flow.nodes));
    editor.appendChild(el("p", { class: "flow-end", text: t("end") }));
  }

  // Reads the textarea; JSON the editor cannot show leaves the advanced box open.
  function load() {
    try {
      var parsed = JSON.parse(box.value || '{"nodes":[]}');
      if (!parsed || !Array.isArray(parsed.nodes)) throw new Error("nodes");
      flow = parsed;
      root.querySelector("[data-flow-bad]").hidden = true;
      return true;
    } catch (e) {
      root.querySelector("[data-flow-bad]").hidden = false;
      return false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.querySelector("[data-flow-designer]");
    if (!root) return;
    box = root.querySelector("textarea[name=flow]");
    data = JSON.parse(root.getAttribute("data-lists") || "{}");
    data.people = data.people || [];
    data.departments = data.departments || [];
    L = JSON.parse(root.getAttribute("data-labels") || "{}");
    root.querySelector("[data-flow-nodes]").hidden = false;
    var advanced = root.querySelector("details");
    if (load()) {
      advanced.open = false;
      draw();
    } else {
      flow = { nodes: [] };
      advanced.open = true;
    }
    box.addEventListener("change", function () { if (load()) draw(); });
    // Field keys typed in the rows above feed the condition and picker lists.
    document.addEventListener("change", function (event) {
      if (event.target.closest('table[data-table="f"]')) draw();
    });
  });

  // ---- A detail table's columns ----

  var C = { types: [], labels: {} };

  function ct(key, n) {
    var text = C.labels[key] || key;
    return n == null ? text : text.replace("{n}", n);
  }

  var SELECTS = ["single_select", "multi_select"], BOUNDED = ["number", "money"];

  function blankColumn() { return { key: "", label: "", required: false, type: "short_text" }; }

  // A column given another type keeps its key, label and required flag,
  // and whichever settings the new type takes too.
  function retyped(column, type) {
    var next = { key: column.key, label: column.label, required: !!column.required, type: type };
    if (SELECTS.indexOf(type) >= 0) next.options = column.options || [];
    if (BOUNDED.indexOf(type) >= 0) {
      if (column.min != null) next.min = column.min;
      if (column.max != null) next.max = column.max;
    }
    if (type === "short_text" && column.pattern) next.pattern = column.pattern;
    return next;
  }

  // An optional setting: left out when blank. A bound that is not a number
  // is posted as typed, for the server to refuse at the field.
  function setting(column, name, text, number) {
    var clean = text.trim();
    if (!clean) delete column[name];
    else column[name] = number && /^-?\d+(\.\d+)?$/.test(clean) ? Number(clean) : clean;
  }

  function isColumnList(value) {
    return Array.isArray(value) && value.every(function (c) { return c && typeof c === "object" && !Array.isArray(c); });
  }

  // The editor of one field row, shown while the row's type is "table".
  function columnsEditor(row) {
    var wrap = row.querySelector("[data-columns-designer]");
    var box = wrap.querySelector("textarea");
    var holder = wrap.querySelector("[data-columns]");
    var advanced = wrap.querySelector("details");
    var type = row.querySelector('select[name$=".type"]');
    var columns = null;
    // The column the server refused, followed through moves, and why.
    var faulty = null, fault = "";
    var ui = controls(save, draw);

    function save() { if (columns) box.value = JSON.stringify(columns, null, 2); }

    // Reads the textarea; JSON the editor cannot show leaves it open.
    function load() {
      var parsed = null;
      try { parsed = box.value.trim() ? JSON.parse(box.value) : []; } catch (e) { parsed = null; }
      columns = isColumnList(parsed) ? parsed : null;
      wrap.querySelector("[data-columns-bad]").hidden = !!columns;
      holder.hidden = !columns;
      if (!columns) advanced.open = true;
      return !!columns;
    }

    function columnRow(i) {
      var c = columns[i];
      var line = el("div", { class: "column-row", "data-testid": "column" });
      line.appendChild(el("strong", { class: "column-n", text: ct("column", i + 1) }));
      line.appendChild(ui.select(C.types, c.type, function (v) { columns[i] = retyped(c, v); if (faulty === c) faulty = columns[i]; draw(); }, { "aria-label": ct("type"), "data-testid": "column-type" }));
      line.appendChild(ui.input(c.label, function (v) { c.label = v.trim(); }, { placeholder: ct("label"), "aria-label": ct("label"), "data-testid": "column-label" }));
      line.appendChild(ui.input(c.key, function (v) { c.key = v.trim(); }, { placeholder: ct("key"), "aria-label": ct("key"), pattern: "[a-z][a-z0-9_]*", class: "column-key", "data-testid": "column-key" }));
      line.appendChild(labelled(ct("required"), ui.checkbox(c.required, function (v) { c.required = v; }, { "data-testid": "column-required" })));
      if (SELECTS.indexOf(c.type) >= 0) {
        var options = el("textarea", { rows: "2", placeholder: ct("options"), "aria-label": ct("options"), "data-testid": "column-options" });
        options.value = (c.options || []).join("\n");
        options.addEventListener("input", function () {
          c.options = options.value.split("\n").map(function (o) { return o.trim(); }).filter(Boolean);
          save();
        });
        line.appendChild(options);
      }
      if (BOUNDED.indexOf(c.type) >= 0) {
        ["min", "max"].forEach(function (name) {
          line.appendChild(ui.input(c[name], function (v) { setting(c, name, v, true); }, { inputmode: "decimal", placeholder: ct(name), "aria-label": ct(name), class: "column-bound", "data-testid": "column-" + name }));
        });
      }
      if (c.type === "short_text") {
        line.appendChild(ui.input(c.pattern, function (v) { setting(c, "pattern", v, false); }, { placeholder: ct("pattern"), "aria-label": ct("pattern"), "data-testid": "column-pattern" }));
      }
      var moves = el("span", { class: "column-moves" });
      if (i > 0) moves.appendChild(ui.button("↑", function () { columns.splice(i - 1, 0, columns.splice(i, 1)[0]); }, { "aria-label": ct("up"), title: ct("up"), "data-testid": "column-up" }));
      if (i < columns.length - 1) moves.appendChild(ui.button("↓", function () { columns.splice(i + 1, 0, columns.splice(i, 1)[0]); }, { "aria-label": ct("down"), title: ct("down"), "data-testid": "column-down" }));
      moves.appendChild(ui.button("×", function () { columns.splice(i, 1); }, { "aria-label": ct("remove"), title: ct("remove"), "data-testid": "column-remove" }));
      line.appendChild(moves);
      if (c === faulty) {
        line.classList.add("has-error");
        line.appendChild(el("div", { class: "field-error", role: "alert", text: fault, "data-testid": "column-error" }));
      }
      return line;
    }

    function draw() {
      holder.textContent = "";
      if (!columns) return;
      holder.appendChild(el("strong", { text: ct("title") }));
      if (!columns.length) holder.appendChild(el("p", { class: "muted", text: ct("empty") }));
      columns.forEach(function (_, i) { holder.appendChild(columnRow(i)); });
      holder.appendChild(ui.button("+ " + ct("add"), function () { columns.push(blankColumn()); }, { "data-testid": "add-column" }));
    }

    function show() { wrap.hidden = type.value !== "table"; }

    advanced.open = !load();
    if (columns) {
      var error = row.querySelector("[data-field-error]");
      var n = error ? parseInt(error.getAttribute("data-column"), 10) : NaN;
      if (columns[n - 1]) {
        faulty = columns[n - 1];
        fault = error.textContent;
        error.hidden = true;
      }
    }
    draw();
    show();
    box.addEventListener("change", function () { load(); draw(); });
    type.addEventListener("change", show);
    return { save: save };
  }

  function fieldRows() {
    return document.querySelectorAll('table[data-table="f"] tbody tr[data-row]');
  }

  // Rows added later (approvals.js clones the blank row) get theirs too.
  function addColumnEditors() {
    fieldRows().forEach(function (row) {
      if (!row.columnsEditor && row.querySelector("[data-columns-designer]")) row.columnsEditor = columnsEditor(row);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var fields = document.querySelector('table[data-table="f"][data-columns-ui]');
    if (!fields) return;
    var ui = JSON.parse(fields.getAttribute("data-columns-ui") || "{}");
    C.types = ui.types || [];
    C.labels = ui.labels || {};
    addColumnEditors();
    new MutationObserver(addColumnEditors).observe(fields.querySelector("tbody"), { childList: true });
    fields.closest("form").addEventListener("submit", function () {
      fieldRows().forEach(function (row) { if (row.columnsEditor) row.columnsEditor.save(); });
    });
  });
})();
