//! Approval forms: the fields an admin puts on a template, and the check
//! of what a submitter filled in. `validate` answers either the cleaned
//! values (money as whole cents, dates as `YYYY-MM-DD`, computed day counts
//! and table totals added) or one error per field, so nothing half-valid
//! is ever stored.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Longest short text, in characters.
pub const SHORT_TEXT_CHARS: usize = 200;
/// Longest long text, in characters.
pub const LONG_TEXT_CHARS: usize = 5_000;
/// Most rows in a detail table.
pub const MAX_TABLE_ROWS: usize = 200;
/// Most fields on a form (and columns in a table).
pub const MAX_FIELDS: usize = 60;
/// Largest amount of money, in cents (HK$ 10,000,000,000.00).
pub const MAX_CENTS: i64 = 1_000_000_000_000;

/// One field of a form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Field {
    /// Its name in the values (`[a-z][a-z0-9_]*`, unique in the form).
    pub key: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
    #[serde(flatten)]
    pub kind: FieldKind,
}

/// What a field holds, with its own rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// One line; optionally a pattern it must match whole.
    ShortText {
        #[serde(default)]
        pattern: Option<String>,
    },
    LongText,
    Number {
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
        /// Digits allowed after the point (default 0: whole numbers).
        #[serde(default)]
        decimals: u8,
    },
    /// An amount with at most two decimals; `currency` defaults to HKD.
    Money {
        #[serde(default = "hkd")]
        currency: String,
        /// Smallest and largest amounts, in currency units.
        #[serde(default)]
        min: Option<f64>,
        #[serde(default)]
        max: Option<f64>,
    },
    Date,
    /// Two dates, the second not before the first; the number of days
    /// (both ends counted) is added as `days`.
    DateRange,
    SingleSelect {
        options: Vec<String>,
    },
    MultiSelect {
        options: Vec<String>,
    },
    /// A member of the org (a user id).
    Person,
    /// A department of the org (its id).
    Department,
    /// Uploaded files (their ids).
    Attachment,
    /// Rows of the same columns (e.g. expense lines); money and number
    /// columns get a total.
    Table {
        #[schema(value_type = Vec<Object>)]
        columns: Vec<Field>,
    },
}

fn hkd() -> String {
    "HKD".to_string()
}

/// Why a value was refused: a stable code and its arguments, rendered in
/// the user's language by the web layer (`approvals.field.<code>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's key; a table cell is `table[row].column` (rows from 1).
    pub field: String,
    pub code: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl FieldError {
    fn new(field: &str, code: &'static str) -> FieldError {
        FieldError {
            field: field.to_string(),
            code,
            args: Vec::new(),
        }
    }

    fn arg(mut self, name: &'static str, value: impl ToString) -> FieldError {
        self.args.push((name, value.to_string()));
        self
    }
}

/// What an admin got wrong in a form's design.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignError {
    /// The field's key (empty for the form as a whole); a table's column is
    /// `table.columns[n]` with columns from 1, so a column without a key is
    /// still found.
    pub field: String,
    pub problem: &'static str,
}

/// Checks a form's design: keys well-formed and unique, options present,
/// patterns that compile, bounds in order, tables one level deep and
/// without file columns.
pub fn check_design(fields: &[Field]) -> Result<(), DesignError> {
    check_fields(fields, None)
}

/// The fields of the form (`table` None) or the columns of a table.
fn check_fields(fields: &[Field], table: Option<&str>) -> Result<(), DesignError> {
    if fields.is_empty() || fields.len() > MAX_FIELDS {
        return Err(DesignError {
            field: table.unwrap_or_default().to_string(),
            problem: if table.is_some() {
                "column_count"
            } else {
                "field_count"
            },
        });
    }
    let mut keys = HashSet::new();
    for (i, field) in fields.iter().enumerate() {
        let problem = |problem| {
            Err(DesignError {
                field: match table {
                    None => field.key.clone(),
                    Some(table) => format!("{table}.columns[{}]", i + 1),
                },
                problem,
            })
        };
        if !valid_key(&field.key) {
            return problem("key");
        }
        if !keys.insert(field.key.as_str()) {
            return problem("duplicate_key");
        }
        let label = field.label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return problem("label");
        }
        match &field.kind {
            FieldKind::ShortText {
                pattern: Some(pattern),
            } if regex::Regex::new(pattern).is_err() => return problem("pattern"),
            FieldKind::Number { min, max, .. } | FieldKind::Money { min, max, .. } if matches!((min, max), (Some(a), Some(b)) if a > b) => {
                return problem("bounds")
            }
            FieldKind::Number { decimals, .. } if *decimals > 6 => return problem("decimals"),
            FieldKind::Money { currency, .. }
                if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) =>
            {
                return problem("currency")
            }
            FieldKind::SingleSelect { options } | FieldKind::MultiSelect { options } => {
                let distinct: HashSet<&str> = options.iter().map(|o| o.trim()).collect();
                if options.is_empty()
                    || distinct.len() != options.len()
                    || distinct.contains("")
                    || options.len() > 100
                {
                    return problem("options");
                }
            }
            FieldKind::Table { .. } if table.is_some() => return problem("nested_table"),
            FieldKind::Table { columns } => check_fields(columns, Some(&field.key))?,
            // Files are claimed and listed per field (`files`), not per cell.
            FieldKind::Attachment if table.is_some() => return problem("attachment_in_table"),
            _ => {}
        }
    }
    Ok(())
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 40
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Checks submitted values against the form: every error at once, or the
/// cleaned values. Keys the form does not have are refused.
pub fn validate(fields: &[Field], values: &Value) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(given) = values.as_object() else {
        return Err(vec![FieldError::new("", "not_an_object")]);
    };
    let cleaned = clean_fields(fields, given, "", &mut errors);
    if errors.is_empty() {
        Ok(cleaned)
    } else {
        Err(errors)
    }
}

fn clean_fields(
    fields: &[Field],
    given: &Map<String, Value>,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    let known: HashSet<&str> = fields.iter().map(|f| f.key.as_str()).collect();
    let mut unknown: Vec<&String> = given
        .keys()
        .filter(|k| !known.contains(k.as_str()))
        .collect();
    unknown.sort();
    for key in unknown {
        errors.push(FieldError::new(&format!("{prefix}{key}"), "unknown_field"));
    }
    let mut cleaned = Map::new();
    for field in fields {
        let path = format!("{prefix}{}", field.key);
        let value = given.get(&field.key).filter(|v| !is_empty(v));
        match value {
            None if field.required => errors.push(FieldError::new(&path, "required")),
            None => {}
            Some(value) => {
                if let Some(clean) = clean_value(field, value, &path, errors) {
                    cleaned.insert(field.key.clone(), clean);
                }
            }
        }
    }
    cleaned
}

/// Empty text, an empty list or null count as "not filled in".
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn clean_value(
    field: &Field,
    value: &Value,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let refuse = |errors: &mut Vec<FieldError>, error: FieldError| {
        errors.push(error);
        None
    };
    match &field.kind {
        FieldKind::ShortText { pattern } => {
            let Some(text) = value.as_str().map(str::trim) else {
                return refuse(errors, FieldError::new(path, "not_text"));
            };
            if text.chars().count() > SHORT_TEXT_CHARS || text.contains('\n') {
                return refuse(
                    errors,
                    FieldError::new(path, "too_long").arg("max", SHORT_TEXT_CHARS),
                );
            }
            if let Some(pattern) = pattern {
                let whole = format!("^(?:{pattern})$");
                if !regex::Regex::new(&whole).is_ok_and(|re| re.is_match(text)) {
                    return refuse(errors, FieldError::new(path, "pattern"));
                }
            }
            Some(json!(text))
        }
        FieldKind::LongText => {
            let Some(text) = value.as_str().map(str::trim) else {
                return refuse(errors, FieldError::new(path, "not_text"));
            };
            if text.chars().count() > LONG_TEXT_CHARS {
                return refuse(
                    errors,
                    FieldError::new(path, "too_long").arg("max", LONG_TEXT_CHARS),
                );
            }
            Some(json!(text))
        }
        FieldKind::Number { min, max, decimals } => {
            let Some(decimal) = Decimal::parse(value) else {
                return refuse(errors, FieldError::new(path, "not_a_number"));
            };
            if decimal.places > *decimals as usize {
                return refuse(
                    errors,
                    FieldError::new(path, "decimals").arg("max", decimals),
                );
            }
            let number = decimal.to_f64();
            if let Some(error) = out_of_bounds(path, number, *min, *max) {
                return refuse(errors, error);
            }
            Some(json!(number))
        }
        FieldKind::Money { currency, min, max } => {
            let Some(decimal) = Decimal::parse(value) else {
                return refuse(errors, FieldError::new(path, "not_a_number"));
            };
            if decimal.places > 2 {
                return refuse(errors, FieldError::new(path, "money_decimals"));
            }
            let Some(cents) = decimal.cents().filter(|c| c.abs() <= MAX_CENTS) else {
                return refuse(errors, FieldError::new(path, "too_large"));
            };
            if let Some(error) = out_of_bounds(path, cents as f64 / 100.0, *min, *max) {
                return refuse(errors, error);
            }
            Some(json!({ "currency": currency, "cents": cents }))
        }
        FieldKind::Date => match parse_date(value) {
            Some(date) => Some(json!(date.to_string())),
            None => refuse(errors, FieldError::new(path, "not_a_date")),
        },
        FieldKind::DateRange => {
            let (start, end) = (
                value.get("start").and_then(parse_date),
                value.get("end").and_then(parse_date),
            );
            let (Some(start), Some(end)) = (start, end) else {
                return refuse(errors, FieldError::new(path, "not_a_date_range"));
            };
            if end < start {
                return refuse(errors, FieldError::new(path, "range_reversed"));
            }
            let days = (end - start).num_days() + 1;
            Some(json!({ "start": start.to_string(), "end": end.to_string(), "days": days }))
        }
        FieldKind::SingleSelect { options } => match value.as_str() {
            Some(choice) if options.iter().any(|o| o == choice) => Some(json!(choice)),
            _ => refuse(errors, FieldError::new(path, "not_an_option")),
        },
        FieldKind::MultiSelect { options } => {
            let choices: Option<Vec<&str>> = value
                .as_array()
                .map(|items| items.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
                .unwrap_or(None);
            match choices {
                Some(choices) if choices.iter().all(|c| options.iter().any(|o| o == c)) => {
                    // Kept in the form's order, each once.
                    let picked: Vec<&String> = options
                        .iter()
                        .filter(|o| choices.contains(&o.as_str()))
                        .collect();
                    Some(json!(picked))
                }
                _ => refuse(errors, FieldError::new(path, "not_an_option")),
            }
        }
        FieldKind::Person | FieldKind::Department => match value.as_str().map(str::trim) {
            Some(id) if !id.is_empty() && id.len() <= 64 => Some(json!(id)),
            _ => refuse(errors, FieldError::new(path, "not_an_id")),
        },
        FieldKind::Attachment => {
            let ids: Option<Vec<&str>> = match value {
                Value::String(id) => Some(vec![id.as_str()]),
                Value::Array(items) => items.iter().map(Value::as_str).collect(),
                _ => None,
            };
            match ids {
                Some(ids)
                    if ids.len() <= 20 && ids.iter().all(|id| !id.is_empty() && id.len() <= 64) =>
                {
                    Some(json!(ids))
                }
                _ => refuse(errors, FieldError::new(path, "not_an_id")),
            }
        }
        FieldKind::Table { columns } => {
            let Some(rows) = value.as_array() else {
                return refuse(errors, FieldError::new(path, "not_rows"));
            };
            if rows.len() > MAX_TABLE_ROWS {
                return refuse(
                    errors,
                    FieldError::new(path, "too_many_rows").arg("max", MAX_TABLE_ROWS),
                );
            }
            let before = errors.len();
            let mut cleaned_rows = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let row_path = format!("{path}[{}].", i + 1);
                match row.as_object() {
                    Some(row) => cleaned_rows
                        .push(Value::Object(clean_fields(columns, row, &row_path, errors))),
                    None => errors.push(FieldError::new(
                        &row_path[..row_path.len() - 1],
                        "not_an_object",
                    )),
                }
            }
            if errors.len() > before {
                return None;
            }
            let totals = table_totals(columns, &cleaned_rows);
            Some(json!({ "rows": cleaned_rows, "totals": totals }))
        }
    }
}

fn out_of_bounds(
    path: &str,
    number: f64,
    min: Option<f64>,
    max: Option<f64>,
) -> Option<FieldError> {
    if let Some(min) = min.filter(|min| number < *min) {
        return Some(FieldError::new(path, "below_min").arg("min", min));
    }
    if let Some(max) = max.filter(|max| number > *max) {
        return Some(FieldError::new(path, "above_max").arg("max", max));
    }
    None
}

/// Column totals: money in cents per currency column, numbers summed.
fn table_totals(columns: &[Field], rows: &[Value]) -> Value {
    let mut totals = BTreeMap::new();
    for column in columns {
        match &column.kind {
            FieldKind::Money { currency, .. } => {
                let cents: i64 = rows
                    .iter()
                    .filter_map(|r| r[&column.key]["cents"].as_i64())
                    .sum();
                totals.insert(
                    column.key.clone(),
                    json!({ "currency": currency, "cents": cents }),
                );
            }
            FieldKind::Number { .. } => {
                let sum: f64 = rows.iter().filter_map(|r| r[&column.key].as_f64()).sum();
                totals.insert(column.key.clone(), json!(sum));
            }
            _ => {}
        }
    }
    json!(totals)
}

fn parse_date(value: &Value) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value.as_str()?.trim(), "%Y-%m-%d").ok()
}

/// A decimal number as written (a JSON number or text like "6,200.50"),
/// kept as digits so "12.345" is known to have three places.
#[derive(Debug, Clone, PartialEq)]
struct Decimal {
    negative: bool,
    whole: String,
    fraction: String,
    places: usize,
}

impl Decimal {
    fn parse(value: &Value) -> Option<Decimal> {
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().replace([',', ' '], ""),
            _ => return None,
        };
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.as_str()),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || whole.len() > 15 {
            return None;
        }
        if digits.contains('.') && fraction.is_empty() {
            return None;
        }
        Some(Decimal {
            negative,
            whole: whole.to_string(),
            fraction: fraction.to_string(),
            places: fraction.len(),
        })
    }

    fn to_f64(&self) -> f64 {
        let text = format!(
            "{}{}.{}",
            if self.negative { "-" } else { "" },
            self.whole,
            if self.fraction.is_empty() {
                "0"
            } else {
                &self.fraction
            }
        );
        text.parse().unwrap_or(0.0)
    }

    /// Whole cents (at most two places).
    fn cents(&self) -> Option<i64> {
        let mut fraction = self.fraction.clone();
        while fraction.len() < 2 {
            fraction.push('0');
        }
        let cents: i64 = format!("{}{}", self.whole, fraction).parse().ok()?;
        Some(if self.negative { -cents } else { cents })
    }
}

/// Money for people: `HK$6,200.00`, `US$12.50`, `JPY 1,000.00`.
pub fn format_money(currency: &str, cents: i64) -> String {
    let symbol = match currency {
        "HKD" => "HK$".to_string(),
        "USD" => "US$".to_string(),
        "CNY" => "¥".to_string(),
        other => format!("{other} "),
    };
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{symbol}{grouped}.{:02}", cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, required: bool, kind: FieldKind) -> Field {
        Field {
            key: key.into(),
            label: key.into(),
            required,
            kind,
        }
    }

    fn expense_form() -> Vec<Field> {
        vec![
            field("reason", true, FieldKind::ShortText { pattern: None }),
            field(
                "amount",
                true,
                FieldKind::Money {
                    currency: "HKD".into(),
                    min: Some(0.01),
                    max: None,
                },
            ),
            field(
                "nights",
                false,
                FieldKind::Number {
                    min: Some(0.0),
                    max: Some(30.0),
                    decimals: 0,
                },
            ),
            field("trip", false, FieldKind::DateRange),
            field(
                "kind",
                false,
                FieldKind::SingleSelect {
                    options: vec!["交通".into(), "住宿".into()],
                },
            ),
            field(
                "lines",
                false,
                FieldKind::Table {
                    columns: vec![
                        field("item", true, FieldKind::ShortText { pattern: None }),
                        field(
                            "cost",
                            true,
                            FieldKind::Money {
                                currency: "HKD".into(),
                                min: None,
                                max: None,
                            },
                        ),
                    ],
                },
            ),
        ]
    }

    fn codes(result: Result<Map<String, Value>, Vec<FieldError>>) -> Vec<(String, &'static str)> {
        result
            .expect_err("should be refused")
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn good_values_are_cleaned_with_computed_parts() {
        let values = validate(
            &expense_form(),
            &json!({
                "reason": "  客戶會議  ",
                "amount": "6,200.5",
                "nights": 2,
                "trip": { "start": "2026-11-30", "end": "2026-12-02" },
                "kind": "住宿",
                "lines": [ { "item": "酒店", "cost": 5000 }, { "item": "機票", "cost": "1200.50" } ],
            }),
        )
        .unwrap();
        assert_eq!(values["reason"], "客戶會議");
        assert_eq!(
            values["amount"],
            json!({ "currency": "HKD", "cents": 620050 })
        );
        assert_eq!(values["trip"]["days"], 3);
        assert_eq!(values["lines"]["totals"]["cost"]["cents"], 620050);
    }

    #[test]
    fn bad_input_gets_one_error_per_field() {
        let refused = codes(validate(
            &expense_form(),
            &json!({
                "amount": "12.345",
                "nights": "three",
                "trip": { "start": "2026-12-02", "end": "2026-11-30" },
                "kind": "午餐",
                "colour": "red",
                "lines": [ { "item": "酒店" }, { "item": "x", "cost": "1,000" } ],
            }),
        ));
        assert_eq!(
            refused,
            vec![
                ("colour".to_string(), "unknown_field"),
                ("reason".to_string(), "required"),
                ("amount".to_string(), "money_decimals"),
                ("nights".to_string(), "not_a_number"),
                ("trip".to_string(), "range_reversed"),
                ("kind".to_string(), "not_an_option"),
                ("lines[1].cost".to_string(), "required"),
            ]
        );
    }

    #[test]
    fn numbers_respect_bounds_and_places() {
        let form = vec![field(
            "n",
            true,
            FieldKind::Number {
                min: Some(1.0),
                max: Some(10.0),
                decimals: 1,
            },
        )];
        assert!(validate(&form, &json!({ "n": 10 })).is_ok());
        assert!(validate(&form, &json!({ "n": "2.5" })).is_ok());
        assert_eq!(
            codes(validate(&form, &json!({ "n": 10.5 }))),
            vec![("n".into(), "above_max")]
        );
        assert_eq!(
            codes(validate(&form, &json!({ "n": 0.5 }))),
            vec![("n".into(), "below_min")]
        );
        assert_eq!(
            codes(validate(&form, &json!({ "n": "2.25" }))),
            vec![("n".into(), "decimals")]
        );
        assert_eq!(
            codes(validate(&form, &json!({ "n": "1e3" }))),
            vec![("n".into(), "not_a_number")]
        );
        assert_eq!(
            codes(validate(&form, &json!({ "n": "" }))),
            vec![("n".into(), "required")]
        );
    }

    #[test]
    fn money_is_exact_cents() {
        let form = vec![field(
            "m",
            true,
            FieldKind::Money {
                currency: "HKD".into(),
                min: None,
                max: None,
            },
        )];
        for (given, cents) in [
            (json!("0.1"), 10),
            (json!(0.29), 29),
            (json!("5,000"), 500_000),
            (json!(5000.0), 500_000),
        ] {
            assert_eq!(
                validate(&form, &json!({ "m": given })).unwrap()["m"]["cents"],
                cents
            );
        }
        assert_eq!(format_money("HKD", 620_050), "HK$6,200.50");
        assert_eq!(format_money("HKD", 100_000_000), "HK$1,000,000.00");
        assert_eq!(format_money("USD", -5), "-US$0.05");
    }

    #[test]
    fn patterns_match_the_whole_text() {
        let form = vec![field(
            "code",
            true,
            FieldKind::ShortText {
                pattern: Some("[A-Z]{2}[0-9]{4}".into()),
            },
        )];
        assert!(validate(&form, &json!({ "code": "HK1234" })).is_ok());
        assert_eq!(
            codes(validate(&form, &json!({ "code": "xHK1234" }))),
            vec![("code".into(), "pattern")]
        );
    }

    #[test]
    fn designs_are_checked() {
        assert!(check_design(&expense_form()).is_ok());
        let bad_key = vec![field("Amount", false, FieldKind::LongText)];
        assert_eq!(check_design(&bad_key).unwrap_err().problem, "key");
        let twice = vec![
            field("a", false, FieldKind::LongText),
            field("a", false, FieldKind::Date),
        ];
        assert_eq!(check_design(&twice).unwrap_err().problem, "duplicate_key");
        let no_options = vec![field(
            "s",
            false,
            FieldKind::SingleSelect { options: vec![] },
        )];
        assert_eq!(check_design(&no_options).unwrap_err().problem, "options");
        let bounds = vec![field(
            "n",
            false,
            FieldKind::Number {
                min: Some(5.0),
                max: Some(1.0),
                decimals: 0,
            },
        )];
        assert_eq!(check_design(&bounds).unwrap_err().problem, "bounds");
        let nested = vec![field(
            "t",
            false,
            FieldKind::Table {
                columns: vec![field("u", false, FieldKind::Table { columns: vec![] })],
            },
        )];
        assert_eq!(check_design(&nested).unwrap_err().problem, "nested_table");
        let files = vec![field(
            "t",
            false,
            FieldKind::Table {
                columns: vec![field("receipt", false, FieldKind::Attachment)],
            },
        )];
        let err = check_design(&files).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.problem),
            ("t.columns[1]", "attachment_in_table")
        );
    }

    #[test]
    fn a_column_is_named_by_its_table_and_place() {
        let table = |columns| vec![field("lines", false, FieldKind::Table { columns })];
        let item = || field("item", true, FieldKind::ShortText { pattern: None });
        let no_key = table(vec![item(), field("", true, FieldKind::Date)]);
        assert_eq!(
            check_design(&no_key).unwrap_err(),
            DesignError {
                field: "lines.columns[2]".into(),
                problem: "key"
            }
        );
        let twice = table(vec![item(), item()]);
        let err = check_design(&twice).unwrap_err();
        assert_eq!(
            (err.field.as_str(), err.problem),
            ("lines.columns[2]", "duplicate_key")
        );
        let empty = table(vec![]);
        let err = check_design(&empty).unwrap_err();
        assert_eq!((err.field.as_str(), err.problem), ("lines", "column_count"));
        // A column may share a key with a form field: they live apart.
        let mut form = table(vec![item()]);
        form.push(item());
        assert!(check_design(&form).is_ok());
    }
}
