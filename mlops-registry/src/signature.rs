//! [`Signature`]: a model's input and output schemas as Arrow schemas, convertible to and
//! from MLflow's signature JSON (column specs).
//!
//! | MLflow type | Arrow type |
//! | --- | --- |
//! | `boolean` | `Boolean` |
//! | `integer` | `Int32` |
//! | `long` | `Int64` |
//! | `float` | `Float32` |
//! | `double` | `Float64` |
//! | `string` | `Utf8` (also written from `LargeUtf8`, `Utf8View`) |
//! | `binary` | `Binary` (also written from `LargeBinary`, `BinaryView`) |
//! | `datetime` | `Timestamp(Nanosecond)` (written from any `Timestamp`) |
//!
//! MLflow's `required: false` is a nullable field. Tensor specs are refused.

use std::collections::BTreeMap;

use arrow_schema::{DataType, Field, Schema, TimeUnit};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{RegistryError, Result};

/// A model's input and (optional) output schemas.
///
/// ```
/// use arrow_schema::{DataType, Field, Schema};
/// use mlops_registry::Signature;
///
/// let sig = Signature::new(
///     Schema::new(vec![Field::new("age", DataType::Int64, false)]),
///     Some(Schema::new(vec![Field::new("score", DataType::Float64, true)])),
/// );
/// let json = sig.to_mlflow_json()?;
/// assert_eq!(Signature::from_mlflow_json(&json)?, sig);
/// # Ok::<(), mlops_registry::RegistryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// The inputs.
    pub inputs: Schema,
    /// The outputs, when known.
    #[serde(default)]
    pub outputs: Option<Schema>,
}

impl Signature {
    /// A signature from its schemas.
    pub fn new(inputs: Schema, outputs: Option<Schema>) -> Self {
        Self { inputs, outputs }
    }

    /// MLflow's signature JSON: `{"inputs": "<colspec list>", "outputs": ..., "params": null}`
    /// where each list is itself JSON text, as in an `MLmodel` file and the REST API.
    pub fn to_mlflow_json(&self) -> Result<String> {
        let inputs = colspecs(&self.inputs)?;
        let outputs = match &self.outputs {
            Some(schema) => Value::String(colspecs(schema)?),
            None => Value::Null,
        };
        Ok(json!({"inputs": inputs, "outputs": outputs, "params": Value::Null}).to_string())
    }

    /// Parses MLflow's signature JSON (see [`Signature::to_mlflow_json`]). The lists may be
    /// given as JSON text (MLflow's form) or inline.
    pub fn from_mlflow_json(text: &str) -> Result<Self> {
        let bad =
            |reason: String| RegistryError::InvalidArgument(format!("MLflow signature: {reason}"));
        let value: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let object = value
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let inputs = match object.get("inputs") {
            Some(v) if !v.is_null() => parse_colspecs(v)?,
            _ => return Err(bad("no `inputs`".into())),
        };
        let outputs = match object.get("outputs") {
            Some(v) if !v.is_null() => Some(parse_colspecs(v)?),
            _ => None,
        };
        Ok(Self { inputs, outputs })
    }

    /// Whether a model with this signature can replace one with `current`: every input of
    /// `current` is here with the same type, every input added here is nullable (optional),
    /// and every output of `current` is here with the same type. `Err` says what differs.
    pub fn check_compatible_with(&self, current: &Self) -> std::result::Result<(), String> {
        let mut problems = Vec::new();
        let mine: BTreeMap<&str, &Field> = self
            .inputs
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.as_ref()))
            .collect();
        let theirs: BTreeMap<&str, &Field> = current
            .inputs
            .fields()
            .iter()
            .map(|f| (f.name().as_str(), f.as_ref()))
            .collect();
        for (name, field) in &theirs {
            match mine.get(name) {
                None => problems.push(format!("input {name:?} is missing")),
                Some(f) if f.data_type() != field.data_type() => problems.push(format!(
                    "input {name:?} is {} instead of {}",
                    f.data_type(),
                    field.data_type()
                )),
                Some(_) => {}
            }
        }
        for (name, field) in &mine {
            if !theirs.contains_key(name) && !field.is_nullable() {
                problems.push(format!("new input {name:?} is required"));
            }
        }
        if let Some(current_out) = &current.outputs {
            match &self.outputs {
                None => problems.push("the outputs are unknown".to_owned()),
                Some(out) => {
                    for field in current_out.fields() {
                        match out.fields().iter().find(|f| f.name() == field.name()) {
                            None => problems.push(format!("output {:?} is missing", field.name())),
                            Some(f) if f.data_type() != field.data_type() => {
                                problems.push(format!(
                                    "output {:?} is {} instead of {}",
                                    field.name(),
                                    f.data_type(),
                                    field.data_type()
                                ));
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

fn mlflow_type(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Boolean => "boolean",
        DataType::Int32 => "integer",
        DataType::Int64 => "long",
        DataType::Float32 => "float",
        DataType::Float64 => "double",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string",
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "binary",
        DataType::Timestamp(_, _) => "datetime",
        _ => return None,
    })
}

fn arrow_type(name: &str) -> Option<DataType> {
    Some(match name {
        "boolean" => DataType::Boolean,
        "integer" => DataType::Int32,
        "long" => DataType::Int64,
        "float" => DataType::Float32,
        "double" => DataType::Float64,
        "string" => DataType::Utf8,
        "binary" => DataType::Binary,
        "datetime" => DataType::Timestamp(TimeUnit::Nanosecond, None),
        _ => return None,
    })
}

fn colspecs(schema: &Schema) -> Result<String> {
    let mut specs = Vec::new();
    for field in schema.fields() {
        let ty = mlflow_type(field.data_type()).ok_or_else(|| {
            RegistryError::InvalidArgument(format!(
                "column {:?} has Arrow type {}, which MLflow's column specs cannot express",
                field.name(),
                field.data_type()
            ))
        })?;
        let mut spec = serde_json::Map::new();
        spec.insert("type".into(), json!(ty));
        if !field.name().is_empty() {
            spec.insert("name".into(), json!(field.name()));
        }
        spec.insert("required".into(), json!(!field.is_nullable()));
        specs.push(Value::Object(spec));
    }
    Ok(Value::Array(specs).to_string())
}

fn parse_colspecs(value: &Value) -> Result<Schema> {
    let bad =
        |reason: String| RegistryError::InvalidArgument(format!("MLflow signature: {reason}"));
    let list: Value = match value {
        Value::String(text) => serde_json::from_str(text).map_err(|e| bad(e.to_string()))?,
        other => other.clone(),
    };
    let items = list
        .as_array()
        .ok_or_else(|| bad("a column list is not a JSON array".into()))?;
    let mut fields = Vec::new();
    for item in items {
        let ty = item
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("a column spec has no type: {item}")))?;
        let data_type = arrow_type(ty).ok_or_else(|| {
            bad(format!(
                "type {ty:?} is not supported (tensor specs are refused)"
            ))
        })?;
        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
        let required = item
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        fields.push(Field::new(name, data_type, !required));
    }
    Ok(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mlflow_text() {
        let text = r#"{"inputs": "[{\"type\": \"double\", \"name\": \"x\", \"required\": true}, {\"type\": \"string\", \"name\": \"c\", \"required\": false}]", "outputs": "[{\"type\": \"long\", \"required\": true}]", "params": null}"#;
        let sig = Signature::from_mlflow_json(text).unwrap();
        assert_eq!(sig.inputs.field(0).data_type(), &DataType::Float64);
        assert!(sig.inputs.field(1).is_nullable());
        assert_eq!(sig.outputs.as_ref().unwrap().field(0).name(), "");
        assert_eq!(
            Signature::from_mlflow_json(&sig.to_mlflow_json().unwrap()).unwrap(),
            sig
        );
    }

    #[test]
    fn refuses_tensor_specs() {
        let text = r#"{"inputs": "[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, 4]}}]"}"#;
        assert!(Signature::from_mlflow_json(text).is_err());
    }

    #[test]
    fn compatibility_names_what_differs() {
        let old = Signature::new(
            Schema::new(vec![Field::new("a", DataType::Int64, false)]),
            Some(Schema::new(vec![Field::new("y", DataType::Float64, false)])),
        );
        let added_optional = Signature::new(
            Schema::new(vec![
                Field::new("a", DataType::Int64, false),
                Field::new("b", DataType::Utf8, true),
            ]),
            old.outputs.clone(),
        );
        assert!(added_optional.check_compatible_with(&old).is_ok());
        let retyped = Signature::new(
            Schema::new(vec![Field::new("a", DataType::Float64, false)]),
            old.outputs.clone(),
        );
        let why = retyped.check_compatible_with(&old).unwrap_err();
        assert!(why.contains("\"a\""), "{why}");
        let required = Signature::new(
            Schema::new(vec![
                Field::new("a", DataType::Int64, false),
                Field::new("b", DataType::Utf8, false),
            ]),
            old.outputs.clone(),
        );
        assert!(
            required
                .check_compatible_with(&old)
                .unwrap_err()
                .contains("required")
        );
    }
}
