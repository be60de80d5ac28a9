//! The designer's field rows: a template's fields as rows (type, label,
//! key, required, options, min/max, pattern; a table's columns as JSON,
//! which `static/approvals-designer.js` turns into one row per column), the
//! posted rows back into fields, the column editor's types and labels, and
//! a refused design placed at the row (and column) it names.

use serde_json::{json, Value};
use tram_platform::i18n::Locale;
use tram_platform::web::PageContext;
use tram_platform::{ApiError, Msg};

use super::values::Raw;
use crate::form::Field;

/// The field types the designer offers: first the ones a table's column
/// may have, then a file and a table (`form::check_design` refuses a table
/// in a table and files in a cell).
pub const TYPES: &[&str] = &[
    "short_text",
    "long_text",
    "number",
    "money",
    "date",
    "date_range",
    "single_select",
    "multi_select",
    "person",
    "department",
    "attachment",
    "table",
];

/// The types a table's column may have.
pub const COLUMN_TYPES: &[&str] = TYPES.split_at(TYPES.len() - 2).0;

/// The column editor's texts: its own name for each, and the message key.
const COLUMN_LABELS: &[(&str, &str)] = &[
    ("title", "approvals_designer.columns.title"),
    ("add", "approvals_designer.columns.add"),
    ("empty", "approvals_designer.columns.empty"),
    ("column", "approvals_designer.columns.column"),
    ("min", "approvals_designer.columns.min"),
    ("max", "approvals_designer.columns.max"),
    ("type", "approvals_pages.designer.type"),
    ("label", "approvals_pages.designer.label"),
    ("key", "approvals_pages.designer.key"),
    ("required", "approvals_pages.designer.required"),
    ("options", "approvals_pages.designer.options"),
    ("pattern", "approvals_pages.designer.pattern"),
    ("up", "approvals_designer.flow.up"),
    ("down", "approvals_designer.flow.down"),
    ("remove", "approvals_designer.flow.remove"),
];

/// What the column editor needs, as JSON for a data attribute:
/// `{"types": [[type, name]…], "labels": {…}}`.
pub fn column_editor(ctx: &PageContext) -> String {
    let types: Vec<(&str, &str)> = COLUMN_TYPES
        .iter()
        .map(|t| (*t, ctx.t(&format!("approvals_designer.type.{t}"))))
        .collect();
    let labels: serde_json::Map<String, Value> = COLUMN_LABELS
        .iter()
        .map(|(name, key)| (name.to_string(), json!(ctx.t(key))))
        .collect();
    json!({ "types": types, "labels": labels }).to_string()
}

/// One field as a designer row.
#[derive(Default)]
pub struct FieldRow {
    /// Its row number in the posted names (`__ROW__` in the blank row).
    pub(super) n: String,
    pub(super) key: String,
    pub(super) label: String,
    pub(super) kind: String,
    pub(super) required: bool,
    /// One option a line.
    pub(super) options: String,
    pub(super) min: String,
    pub(super) max: String,
    pub(super) pattern: String,
    /// A table's columns, as JSON.
    pub(super) columns: String,
    /// Why the service refused this field ("" when it did not).
    pub(super) error: String,
    /// The column (from 1) the refusal names, for a table ("" for none).
    pub(super) error_column: String,
}

pub fn blank() -> FieldRow {
    FieldRow {
        n: "__ROW__".into(),
        kind: "short_text".into(),
        ..FieldRow::default()
    }
}

pub fn row_of(n: usize, field: &Field) -> FieldRow {
    let value = serde_json::to_value(field).unwrap_or_default();
    let text = |name: &str| match &value[name] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    FieldRow {
        n: n.to_string(),
        key: field.key.clone(),
        label: field.label.clone(),
        kind: text("type"),
        required: field.required,
        options: value["options"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default(),
        min: text("min"),
        max: text("max"),
        pattern: text("pattern"),
        columns: value
            .get("columns")
            .map(|c| serde_json::to_string_pretty(c).unwrap_or_default())
            .unwrap_or_default(),
        ..FieldRow::default()
    }
}

/// The posted rows as fields; a row without key and label is left out.
pub fn fields_of(raw: &Raw) -> Result<Vec<Field>, ApiError> {
    let bad = |problem: String| {
        let msg = Msg::new("approvals_pages.designer.bad_field").arg("problem", problem);
        ApiError::bad_request("invalid_form", "approvals_pages.designer.bad_field")
            .field("fields", msg)
    };
    let mut fields = Vec::new();
    for row in raw.rows("f") {
        let get = |name: &str| raw.one(&format!("f[{row}].{name}")).trim().to_string();
        let (key, label) = (get("key"), get("label"));
        if key.is_empty() && label.is_empty() {
            continue;
        }
        let mut field = serde_json::Map::new();
        field.insert("key".into(), json!(key));
        field.insert("label".into(), json!(label));
        field.insert("type".into(), json!(get("type")));
        field.insert("required".into(), json!(!get("required").is_empty()));
        let options: Vec<&str> = raw
            .one(&format!("f[{row}].options"))
            .lines()
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .collect();
        field.insert("options".into(), json!(options));
        for bound in ["min", "max"] {
            let text = get(bound);
            if !text.is_empty() {
                let number: f64 = text
                    .parse()
                    .map_err(|_| bad(format!("{key}.{bound}: {text}")))?;
                field.insert(bound.into(), json!(number));
            }
        }
        let pattern = get("pattern");
        if !pattern.is_empty() {
            field.insert("pattern".into(), json!(pattern));
        }
        let columns = get("columns");
        let columns: Value = if columns.is_empty() {
            json!([])
        } else {
            serde_json::from_str(&columns).map_err(|e| bad(format!("{key}: {e}")))?
        };
        field.insert("columns".into(), columns);
        fields.push(
            serde_json::from_value(Value::Object(field)).map_err(|e| bad(format!("{key}: {e}")))?,
        );
    }
    Ok(fields)
}

/// The rows as posted, to show them again with the error.
pub fn rows_of(raw: &Raw) -> Vec<FieldRow> {
    raw.rows("f")
        .into_iter()
        .map(|row| {
            let get = |name: &str| raw.one(&format!("f[{row}].{name}")).to_string();
            FieldRow {
                n: row.to_string(),
                key: get("key"),
                label: get("label"),
                kind: get("type"),
                required: !get("required").is_empty(),
                options: get("options"),
                min: get("min"),
                max: get("max"),
                pattern: get("pattern"),
                columns: get("columns"),
                ..FieldRow::default()
            }
        })
        .collect()
}

/// Puts a refused design (`fields.<key>`, or `fields.<table>.columns[n]`
/// for a table's column) at the row with that key, and answers the
/// message no row has, to be shown under the rows.
pub fn place_error(rows: &mut [FieldRow], err: &ApiError, locale: Locale) -> Option<String> {
    let (path, msg) = err
        .fields
        .iter()
        .find_map(|(name, msg)| Some((name.strip_prefix("fields.")?, msg)))?;
    let message = msg.render(locale);
    let (key, column) = match path.split_once(".columns[") {
        Some((table, rest)) => (table, rest.trim_end_matches(']')),
        None => (path, ""),
    };
    // A blank row is left out of the design, so it cannot be the one meant.
    let row = rows
        .iter_mut()
        .find(|r| r.key.trim() == key && !(r.key.trim().is_empty() && r.label.trim().is_empty()));
    match row {
        Some(row) => {
            row.error = message;
            row.error_column = column.to_string();
            None
        }
        None => Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::check_design;

    fn table_with(column_type: &str) -> Vec<Field> {
        let column = json!({ "key": "c", "label": "C", "type": column_type, "options": ["a"], "columns": [] });
        let table = json!([{ "key": "t", "label": "T", "type": "table", "columns": [column] }]);
        serde_json::from_value(table).expect("a field of every type parses")
    }

    #[test]
    fn the_column_types_offered_are_the_ones_a_table_takes() {
        for t in TYPES {
            assert_eq!(
                check_design(&table_with(t)).is_ok(),
                COLUMN_TYPES.contains(t),
                "{t}"
            );
        }
    }

    fn rows(keys: &[(&str, &str)]) -> Vec<FieldRow> {
        keys.iter()
            .map(|(key, label)| FieldRow {
                key: key.to_string(),
                label: label.to_string(),
                ..FieldRow::default()
            })
            .collect()
    }

    fn refused(name: &str) -> ApiError {
        ApiError::bad_request("invalid_form", "approvals.error.invalid_form")
            .field(name.to_string(), Msg::new("approvals_designer.design.key"))
    }

    #[test]
    fn a_refusal_is_placed_at_its_row_and_column() {
        let mut form = rows(&[("reason", "事由"), ("lines", "明細")]);
        let left = place_error(&mut form, &refused("fields.lines.columns[2]"), Locale::En);
        assert_eq!(left, None);
        assert_eq!(form[1].error_column, "2");
        assert!(form[1].error.starts_with("The key of"), "{}", form[1].error);
        assert!(form[0].error.is_empty());

        // A field without a key is the row with a label and no key, not a
        // blank one.
        let mut form = rows(&[("", ""), ("", "金額")]);
        place_error(&mut form, &refused("fields."), Locale::En);
        assert!(form[0].error.is_empty() && !form[1].error.is_empty());

        // No such row: shown under the rows.
        let mut form = rows(&[("", "")]);
        assert!(place_error(&mut form, &refused("fields."), Locale::En).is_some());
        // Not a design refusal: nothing to place.
        assert_eq!(place_error(&mut form, &refused("flow.x"), Locale::En), None);
    }
}
