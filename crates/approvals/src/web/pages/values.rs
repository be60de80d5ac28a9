//! Form values between HTML and the service: a posted form (field `key`,
//! a date range's `key.start`/`key.end`, a table cell `key[row].column`
//! with rows from 1, repeated names for multi-selects and attachments)
//! becomes the JSON `form::validate` checks; stored values become the
//! strings that prefill a form, and the text a request page shows.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};

use crate::form::{format_money, Field, FieldKind};

/// Posted values by name, every value of a repeated name kept.
#[derive(Debug, Clone, Default)]
pub struct Raw(HashMap<String, Vec<String>>);

impl Raw {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Raw {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in pairs {
            map.entry(name).or_default().push(value);
        }
        Raw(map)
    }

    /// The first value of a name ("" when absent).
    pub fn one(&self, name: &str) -> &str {
        self.0
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    fn set(&mut self, name: String, value: String) {
        self.0.insert(name, vec![value]);
    }

    /// The table rows posted for `key` (their numbers, ascending).
    pub fn rows(&self, key: &str) -> Vec<usize> {
        let prefix = format!("{key}[");
        let mut rows: Vec<usize> = self
            .0
            .keys()
            .filter_map(|name| name.strip_prefix(&prefix)?.split(']').next()?.parse().ok())
            .collect();
        rows.sort_unstable();
        rows.dedup();
        rows
    }
}

fn text(value: &str) -> Option<Value> {
    let value = value.trim();
    (!value.is_empty()).then(|| json!(value))
}

fn scalar(field: &Field, raw: &Raw, name: &str) -> Option<Value> {
    match &field.kind {
        FieldKind::DateRange => {
            let (start, end) = (
                raw.one(&format!("{name}.start")),
                raw.one(&format!("{name}.end")),
            );
            (!start.trim().is_empty() || !end.trim().is_empty())
                .then(|| json!({ "start": start.trim(), "end": end.trim() }))
        }
        FieldKind::MultiSelect { .. } | FieldKind::Attachment => {
            let picked: Vec<&str> = raw
                .all(name)
                .iter()
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .collect();
            (!picked.is_empty()).then(|| json!(picked))
        }
        _ => text(raw.one(name)),
    }
}

/// Drops blank table rows and numbers the rest from 1, so the service's
/// errors (`lines[2].amount`) name the rows the re-rendered form shows.
pub fn compact(fields: &[Field], raw: &mut Raw) {
    for field in fields {
        let FieldKind::Table { columns } = &field.kind else {
            continue;
        };
        let mut kept: Vec<Vec<(String, Vec<String>)>> = Vec::new();
        for row in raw.rows(&field.key) {
            let prefix = format!("{}[{row}].", field.key);
            let cells: Vec<(String, Vec<String>)> = raw
                .0
                .iter()
                .filter_map(|(name, v)| Some((name.strip_prefix(&prefix)?.to_string(), v.clone())))
                .collect();
            let blank = cells
                .iter()
                .all(|(_, v)| v.iter().all(|x| x.trim().is_empty()));
            if !blank
                && columns
                    .iter()
                    .any(|c| cells.iter().any(|(n, _)| n.starts_with(&c.key)))
            {
                kept.push(cells);
            }
        }
        let table = format!("{}[", field.key);
        raw.0.retain(|name, _| !name.starts_with(&table));
        for (i, cells) in kept.into_iter().enumerate() {
            for (cell, v) in cells {
                raw.0.insert(format!("{}[{}].{cell}", field.key, i + 1), v);
            }
        }
    }
}

/// The JSON for `form::validate`; empty table rows are dropped.
pub fn to_json(fields: &[Field], raw: &Raw) -> Value {
    let mut values = Map::new();
    for field in fields {
        let value = match &field.kind {
            FieldKind::Table { columns } => {
                let rows: Vec<Value> = raw
                    .rows(&field.key)
                    .into_iter()
                    .filter_map(|row| {
                        let mut cells = Map::new();
                        for column in columns {
                            let name = format!("{}[{row}].{}", field.key, column.key);
                            if let Some(value) = scalar(column, raw, &name) {
                                cells.insert(column.key.clone(), value);
                            }
                        }
                        (!cells.is_empty()).then_some(Value::Object(cells))
                    })
                    .collect();
                (!rows.is_empty()).then(|| json!(rows))
            }
            _ => scalar(field, raw, &field.key),
        };
        if let Some(value) = value {
            values.insert(field.key.clone(), value);
        }
    }
    Value::Object(values)
}

/// Money cents as a form shows them: `6200.50`.
fn amount(value: &Value) -> String {
    let cents = value["cents"].as_i64().unwrap_or(0);
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

fn scalar_raw(field: &Field, value: &Value, name: &str, raw: &mut Raw) {
    match &field.kind {
        FieldKind::Money { .. } => raw.set(name.into(), amount(value)),
        FieldKind::DateRange => {
            raw.set(
                format!("{name}.start"),
                value["start"].as_str().unwrap_or("").into(),
            );
            raw.set(
                format!("{name}.end"),
                value["end"].as_str().unwrap_or("").into(),
            );
        }
        FieldKind::MultiSelect { .. } | FieldKind::Attachment => {
            let items = value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            raw.0.insert(name.into(), items);
        }
        FieldKind::Number { .. } => raw.set(
            name.into(),
            value.as_f64().map(|n| n.to_string()).unwrap_or_default(),
        ),
        _ => raw.set(name.into(), value.as_str().unwrap_or("").into()),
    }
}

/// Stored values as a form's prefill (resubmitting a returned request).
pub fn to_raw(fields: &[Field], values: &Map<String, Value>) -> Raw {
    let mut raw = Raw::default();
    for field in fields {
        let Some(value) = values.get(&field.key) else {
            continue;
        };
        match &field.kind {
            FieldKind::Table { columns } => {
                let rows = value["rows"].as_array().cloned().unwrap_or_default();
                for (i, row) in rows.iter().enumerate() {
                    for column in columns {
                        if let Some(cell) = row.get(&column.key) {
                            let name = format!("{}[{}].{}", field.key, i + 1, column.key);
                            scalar_raw(column, cell, &name, &mut raw);
                        }
                    }
                }
            }
            _ => scalar_raw(field, value, &field.key, &mut raw),
        }
    }
    raw
}

/// One stored value for people to read; persons and departments by name.
pub fn display(field: &Field, value: &Value, names: &HashMap<String, String>) -> String {
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    match &field.kind {
        FieldKind::Money { .. } => format_money(
            value["currency"].as_str().unwrap_or("HKD"),
            value["cents"].as_i64().unwrap_or(0),
        ),
        FieldKind::DateRange => format!(
            "{} – {} ({})",
            value["start"].as_str().unwrap_or(""),
            value["end"].as_str().unwrap_or(""),
            value["days"].as_i64().unwrap_or(0)
        ),
        FieldKind::MultiSelect { .. } | FieldKind::Attachment => value
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        FieldKind::Person | FieldKind::Department => name(value.as_str().unwrap_or("")),
        FieldKind::Number { .. } => value.as_f64().map(|n| n.to_string()).unwrap_or_default(),
        _ => value.as_str().unwrap_or("").to_string(),
    }
}

/// A detail table for reading: header, rows of cell texts, totals row.
#[derive(Debug, Clone, Default)]
pub struct ShownTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub totals: Vec<String>,
}

pub fn display_table(
    columns: &[Field],
    value: &Value,
    names: &HashMap<String, String>,
) -> ShownTable {
    let rows = value["rows"].as_array().cloned().unwrap_or_default();
    let totals: BTreeMap<String, Value> = value["totals"]
        .as_object()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    ShownTable {
        header: columns.iter().map(|c| c.label.clone()).collect(),
        rows: rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .map(|c| {
                        row.get(&c.key)
                            .map(|v| display(c, v, names))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect(),
        totals: columns
            .iter()
            .map(|c| {
                totals
                    .get(&c.key)
                    .map(|v| display(c, v, names))
                    .unwrap_or_default()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form;

    fn expense() -> Vec<Field> {
        crate::gallery::design("expense", "fin", Default::default())
            .unwrap()
            .fields
    }

    fn pairs(list: &[(&str, &str)]) -> Raw {
        Raw::from_pairs(
            list.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_posted_expense_validates_and_round_trips_to_a_prefill() {
        let raw = pairs(&[
            ("reason", "Client visit"),
            ("lines[1].date", "2026-11-02"),
            ("lines[1].item", "Taxi"),
            ("lines[1].amount", "200"),
            ("lines[3].date", "2026-11-03"),
            ("lines[3].item", "Hotel"),
            ("lines[3].amount", "6,000.00"),
            // An empty row added and left blank is dropped.
            ("lines[2].date", ""),
            ("lines[2].item", ""),
            ("lines[2].amount", ""),
        ]);
        let fields = expense();
        let mut raw = raw;
        compact(&fields, &mut raw);
        assert_eq!(raw.rows("lines"), vec![1, 2]);
        assert_eq!(raw.one("lines[2].item"), "Hotel");
        let clean = form::validate(&fields, &to_json(&fields, &raw)).expect("valid");
        assert_eq!(clean["lines"]["totals"]["amount"]["cents"], json!(620_000));
        let again = to_raw(&fields, &clean);
        assert_eq!(again.one("lines[2].amount"), "6000.00");
        assert_eq!(again.one("reason"), "Client visit");
        let FieldKind::Table { columns } = &fields[1].kind else {
            panic!("lines is a table");
        };
        let shown = display_table(columns, &clean["lines"], &HashMap::new());
        assert_eq!(shown.rows.len(), 2);
        assert_eq!(shown.totals[2], "HK$6,200.00");
    }

    #[test]
    fn date_ranges_and_multi_values_are_posted_as_the_service_reads_them() {
        let fields = vec![
            Field {
                key: "trip".into(),
                label: "Trip".into(),
                required: true,
                kind: FieldKind::DateRange,
            },
            Field {
                key: "tags".into(),
                label: "Tags".into(),
                required: false,
                kind: FieldKind::MultiSelect {
                    options: vec!["a".into(), "b".into()],
                },
            },
        ];
        let raw = pairs(&[
            ("trip.start", "2026-11-02"),
            ("trip.end", "2026-11-04"),
            ("tags", "b"),
            ("tags", "a"),
        ]);
        let clean = form::validate(&fields, &to_json(&fields, &raw)).expect("valid");
        assert_eq!(clean["trip"]["days"], json!(3));
        assert_eq!(
            display(&fields[0], &clean["trip"], &HashMap::new()),
            "2026-11-02 – 2026-11-04 (3)"
        );
        assert_eq!(display(&fields[1], &clean["tags"], &HashMap::new()), "a, b");
        // Reversed: refused at the field by the service.
        let raw = pairs(&[("trip.start", "2026-11-04"), ("trip.end", "2026-11-02")]);
        let errors = form::validate(&fields, &to_json(&fields, &raw)).unwrap_err();
        assert_eq!(
            (errors[0].field.as_str(), errors[0].code),
            ("trip", "range_reversed")
        );
    }
}
