//! The OpenAPI document stays true to the router: every `/api/` route is documented and
//! every documented operation is a route, with the same access.

use crate::common::*;
use axum::http::StatusCode;
use std::collections::BTreeSet;
use web::Access;

#[tokio::test]
async fn documented_operations_are_exactly_the_api_routes() {
    let app = TestApp::new(Fake::Nodes(Vec::new()));
    let routed: BTreeSet<(String, String, bool)> = app
        .routes
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_owned(),
                r.access == Access::Public,
            )
        })
        .collect();
    let documented: BTreeSet<(String, String, bool)> = web::openapi::all_operations()
        .map(|op| (op.method.to_owned(), op.path.to_owned(), op.public))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "undocumented routes: {missing:?}\ndocumented but not routed: {stale:?}"
    );
}

#[tokio::test]
async fn document_is_served_and_well_formed() {
    let (app, s) = TestApp::ready(Fake::Nodes(Vec::new())).await;
    let r = app
        .send(Req::get("/api/v1/openapi.json").bearer(&s.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            // Every path parameter is declared, and every referenced schema exists.
            for name in path.split('{').skip(1).filter_map(|p| p.split('}').next()) {
                let declared = op["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path");
                assert!(declared, "{method} {path}: {{{name}}} undeclared");
            }
            let text = op.to_string();
            for part in text.split("#/components/schemas/").skip(1) {
                let name = part.split('"').next().unwrap();
                assert!(
                    schemas.contains_key(name),
                    "{method} {path}: no schema {name}"
                );
            }
        }
    }
    assert_eq!(operations, web::openapi::all_operations().count());
    // Public operations drop the bearer requirement.
    assert_eq!(
        paths["/api/v1/auth/login"]["post"]["security"],
        serde_json::json!([])
    );
    let r = app.get("/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
