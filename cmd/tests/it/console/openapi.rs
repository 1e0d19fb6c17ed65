//! The OpenAPI document stays true to the router: both come from one route table, and this
//! checks the result: every `/api/` route is documented and every documented operation is a
//! route, with the same access.

use crate::console::common::*;
use axum::http::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;
use web::Access;

/// `(METHOD, path, public)` of every operation of `doc`.
fn documented(doc: &Value) -> BTreeSet<(String, String, bool)> {
    let mut all = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let public = op["security"] == serde_json::json!([]);
            all.insert((method.to_uppercase(), path.clone(), public));
        }
    }
    all
}

#[tokio::test]
async fn documented_operations_are_exactly_the_api_routes() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    let routed: BTreeSet<(String, String, bool)> = app
        .routes
        .iter()
        .filter(|r| web::is_api_path(&r.path))
        .map(|r| {
            (
                r.method.to_string(),
                r.path.clone(),
                r.access == Access::Public,
            )
        })
        .collect();
    let documented = documented(&web::openapi::document_value());
    let missing: Vec<_> = routed.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "undocumented routes: {missing:?}\ndocumented but not routed: {stale:?}"
    );
    assert!(routed.len() > 60, "{routed:?}");
}

#[tokio::test]
async fn document_is_served_and_well_formed() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = app
        .send(Req::get("/api/v1/openapi.json").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc, web::openapi::document_value());
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            // Every path parameter is declared.
            for name in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
                let declared = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path");
                assert!(declared, "{method} {path}: {{{name}}} undeclared");
            }
            // Every operation has a success answer and the error answer.
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("default"), "{method} {path}");
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}"
            );
        }
    }
    // Every referenced schema exists, in operations and in schemas alike.
    let text = doc.to_string();
    for part in text.split("#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    // Public operations drop the bearer requirement.
    assert_eq!(
        paths["/api/v1/auth/login"]["post"]["security"],
        serde_json::json!([])
    );
    // Request bodies and answers are the Rust types' schemas.
    assert_eq!(
        paths["/api/v1/nodes/{node}/docker/deploy"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/ContainerForm"
    );
    assert!(schemas["Node"]["properties"]["last_seen_ms"].is_object());
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A JSON field of an answer, as the API sends it, is a property of the answer's schema:
/// the schema follows the Rust type.
#[tokio::test]
async fn answer_fields_are_schema_properties() {
    let (app, s) = TestApp::ready(Fake::Nodes(vec![bare_node(1)])).await;
    let doc = web::openapi::document_value();
    let schemas = &doc["components"]["schemas"];
    for (path, schema) in [
        ("/api/v1/auth/me", "Me"),
        ("/api/v1/storage", "StorageView"),
        ("/api/v1/nodes/1", "Node"),
        ("/api/v1/alerts", "AlertList"),
        ("/api/v1/audit", "AuditPage"),
        ("/api/v1/data/compact", "CompactionStatus"),
    ] {
        let r = app.send(Req::get(path).bearer(&s.token)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        let answer = r.json();
        for field in answer.as_object().unwrap().keys() {
            assert!(
                schemas[schema]["properties"].get(field).is_some(),
                "{path}: {field} is not in {schema}: {}",
                schemas[schema]
            );
        }
    }
}
