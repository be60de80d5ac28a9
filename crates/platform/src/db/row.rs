//! The rows a [`super::BatchedTx`] statement answers with: column names
//! and plain values, the same whichever driver ran the statement (sqlx's
//! `Any` driver, or the writer lane's own SQLite connection).

use std::sync::Arc;

use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Column, Row as _, ValueRef as _};

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// One row: its columns by name, and their values.
#[derive(Debug, Clone)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    pub(crate) fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The value of `column` as a `T`; an error names a missing column or
    /// a value of another type.
    pub fn try_get<T: FromValue>(&self, column: &str) -> Result<T, sqlx::Error> {
        let index = self
            .columns
            .iter()
            .position(|c| c == column)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(column.to_string()))?;
        T::from_value(&self.values[index]).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: column.to_string(),
            source: format!(
                "{:?} is not a {}",
                self.values[index],
                std::any::type_name::<T>()
            )
            .into(),
        })
    }

    /// The same row read from sqlx's `Any` driver.
    pub(crate) fn from_any(row: &AnyRow, columns: &Arc<[String]>) -> Result<Row, sqlx::Error> {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            let raw = row.try_get_raw(index)?;
            let value = if raw.is_null() {
                Value::Null
            } else {
                match raw.type_info().kind() {
                    AnyTypeInfoKind::Null => Value::Null,
                    AnyTypeInfoKind::Bool => Value::Int(row.try_get::<bool, _>(index)?.into()),
                    AnyTypeInfoKind::SmallInt
                    | AnyTypeInfoKind::Integer
                    | AnyTypeInfoKind::BigInt => Value::Int(row.try_get(index)?),
                    AnyTypeInfoKind::Real | AnyTypeInfoKind::Double => {
                        Value::Real(row.try_get(index)?)
                    }
                    AnyTypeInfoKind::Blob => Value::Blob(row.try_get(index)?),
                    AnyTypeInfoKind::Text => Value::Text(row.try_get(index)?),
                }
            };
            values.push(value);
        }
        Ok(Row::new(columns.clone(), values))
    }

    /// The column names of a row from sqlx's `Any` driver (shared by the
    /// rows of one statement).
    pub(crate) fn any_columns(row: &AnyRow) -> Arc<[String]> {
        row.columns().iter().map(|c| c.name().to_string()).collect()
    }
}

/// A Rust type a [`Value`] can be read as.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<i64> {
        match value {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value) -> Option<f64> {
        match value {
            Value::Real(v) => Some(*v),
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<String> {
        match value {
            Value::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Option<Vec<u8>> {
        match value {
            Value::Blob(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Option<T>> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_by_column_name_and_type() {
        let row = Row::new(
            ["n", "name", "gone"].map(String::from).into(),
            vec![Value::Int(3), Value::Text("三".into()), Value::Null],
        );
        assert_eq!(row.try_get::<i64>("n").unwrap(), 3);
        assert_eq!(row.try_get::<String>("name").unwrap(), "三");
        assert_eq!(row.try_get::<Option<String>>("gone").unwrap(), None);
        assert_eq!(row.try_get::<Option<i64>>("n").unwrap(), Some(3));
        assert!(matches!(
            row.try_get::<i64>("name"),
            Err(sqlx::Error::ColumnDecode { .. })
        ));
        assert!(matches!(
            row.try_get::<i64>("missing"),
            Err(sqlx::Error::ColumnNotFound(_))
        ));
    }
}
