//! Reading requests of the operations API: path parameters, query parameters and JSON
//! bodies, each failure a 400 naming the parameter or field at fault (never a bare serde
//! message without a name).

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::OpsError;

/// The path parameters of a route (`{node}`, `{id}`, ...), percent-decoded.
#[derive(Debug, Clone)]
pub struct PathParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = OpsError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, OpsError> {
        Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(map)| Self(map))
            .map_err(|e| OpsError::new(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

impl PathParams {
    /// The raw value of `name`.
    pub fn text(&self, name: &str) -> Result<&str, OpsError> {
        self.0.get(name).map(String::as_str).ok_or_else(|| {
            OpsError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("route has no {name}"),
            )
        })
    }

    /// The raw `{node}` segment (empty when the route has none).
    pub fn node_raw(&self) -> &str {
        self.0.get("node").map_or("", String::as_str)
    }
}

/// Parses a node id segment: decimal digits without sign or leading `+`.
pub fn parse_node(raw: &str) -> Option<u64> {
    crate::live::parse_node_id(raw)
}

/// The query string, as `name → value` (the last of repeated names wins).
#[derive(Debug, Clone, Default)]
pub struct QueryParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = OpsError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, OpsError> {
        Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|Query(pairs)| Self(pairs.into_iter().collect()))
            .map_err(|e| OpsError::new(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

impl QueryParams {
    /// Parameters from pairs (tests).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// The trimmed value of `name`; `None` when absent or empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A boolean: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, OpsError> {
        self.text(name)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(OpsError::bad(name, format!("{v:?} is not true or false"))),
            })
            .transpose()
    }

    /// A boolean with a default.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, OpsError> {
        Ok(self.bool(name)?.unwrap_or(default))
    }

    fn number<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, OpsError> {
        self.text(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| OpsError::bad(name, format!("{v:?} is not {what}")))
            })
            .transpose()
    }

    /// A number in `0..=u32::MAX`.
    pub fn u32(&self, name: &str) -> Result<Option<u32>, OpsError> {
        self.number(name, "a whole number in 0..=4294967295")
    }

    /// A number in `0..=u64::MAX`.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, OpsError> {
        self.number(name, "a whole number")
    }

    /// A signed number.
    pub fn i64(&self, name: &str) -> Result<Option<i64>, OpsError> {
        self.number(name, "a whole number")
    }
}

/// A JSON request body, or why it could not be read: the handler records that like any
/// other bad argument (an extractor's rejection would answer before the audit entry).
#[derive(Debug)]
pub struct JsonBody(pub Result<Value, OpsError>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = crate::api::ApiJson::<Value>::from_request(req, state)
            .await
            .map(|crate::api::ApiJson(v)| v)
            .map_err(|e| OpsError::new(e.status, format!("invalid body: {}", e.message)));
        Ok(Self(body))
    }
}

impl JsonBody {
    /// The string field `key` of the body, or `""` (to name the target early).
    pub fn text(&self, key: &str) -> String {
        self.0
            .as_ref()
            .ok()
            .and_then(|b| b.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    }
}

/// A JSON body as an object, refusing fields not in `known`.
pub fn object(body: Value, known: &[&str]) -> Result<Map<String, Value>, OpsError> {
    let Value::Object(map) = body else {
        return Err(OpsError::bad("body", "expected a JSON object"));
    };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(OpsError::bad(
            unknown,
            format!("unknown field; expected one of {}", known.join(", ")),
        ));
    }
    Ok(map)
}

/// Deserialises `map` into `T` (a type whose fields all have defaults). When that fails,
/// finds the field at fault by trying each alone, so the error names it.
pub fn typed<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, OpsError> {
    match serde_json::from_value::<T>(Value::Object(map.clone())) {
        Ok(value) => Ok(value),
        Err(e) => {
            for (key, value) in map {
                let alone = Value::Object(Map::from_iter([(key.clone(), value)]));
                if let Err(e) = serde_json::from_value::<T>(alone) {
                    return Err(OpsError::bad(&key, e));
                }
            }
            Err(OpsError::bad("body", e))
        }
    }
}

/// Deserialises one field's value.
pub fn field<T: DeserializeOwned>(name: &str, value: Value) -> Result<T, OpsError> {
    serde_json::from_value(value).map_err(|e| OpsError::bad(name, e))
}

/// A required string field.
pub fn required_text(map: &mut Map<String, Value>, name: &str) -> Result<String, OpsError> {
    match map.remove(name) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(OpsError::bad(
            name,
            format!("expected a string, not {other}"),
        )),
        None => Err(OpsError::bad(name, "is required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize, Default, PartialEq)]
    #[serde(default)]
    struct Form {
        name: String,
        count: u32,
        items: Vec<String>,
    }

    #[test]
    fn type_errors_name_the_field() {
        let map = object(json!({"name": "x", "count": "many"}), &["name", "count"]).unwrap();
        let e = typed::<Form>(map).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("count"));
        let e = object(json!({"nmae": "x"}), &["name"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("nmae"));
        assert!(object(json!([1]), &[]).is_err());
        let ok: Form = typed(object(json!({"items": ["a"]}), &["items"]).unwrap()).unwrap();
        assert_eq!(ok.items, vec!["a".to_owned()]);
    }

    #[test]
    fn query_values_are_checked() {
        let q = QueryParams::from_pairs(&[("all", "yes"), ("tail", "-1"), ("x", " ")]);
        assert_eq!(q.bool("all").unwrap(), Some(true));
        assert_eq!(q.bool("x").unwrap(), None);
        assert_eq!(q.u32("tail").unwrap_err().field.as_deref(), Some("tail"));
        assert!(
            QueryParams::from_pairs(&[("all", "maybe")])
                .bool("all")
                .is_err()
        );
    }
}
