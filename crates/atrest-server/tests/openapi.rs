//! docs/openapi.json and docs/api.md against the routes the server registers ([`atrest_server::route_table`],
//! the table its router is built from): the same paths and methods, every path parameter declared, every
//! route described in api.md. Adding, removing or renaming a route without the documents fails here.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn openapi() -> Value {
    let text = std::fs::read_to_string(docs_dir().join("openapi.json")).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("docs/openapi.json is not JSON: {e}"))
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

#[test]
fn openapi_lists_exactly_the_server_routes() {
    let spec = openapi();
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "not an OpenAPI 3 document");
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method} is not an HTTP method");
            documented.insert((method.to_ascii_uppercase(), path.clone()));
            assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: no responses");
            // Every {param} of the path is declared as a path parameter, and nothing else is.
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            let in_path: BTreeSet<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            assert_eq!(declared, in_path, "{method} {path}: path parameters");
        }
    }
    let served: BTreeSet<(String, String)> =
        atrest_server::route_table().into_iter().map(|(m, p)| (m.to_owned(), p.to_owned())).collect();
    let missing: Vec<_> = served.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&served).collect();
    assert!(missing.is_empty(), "routes the server has but docs/openapi.json lacks: {missing:?}");
    assert!(extra.is_empty(), "routes in docs/openapi.json the server does not have: {extra:?}");
    // Health is the one route without a token.
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let open = operation["security"].as_array().is_some_and(Vec::is_empty);
            assert_eq!(open, path == "/v1/health", "{method} {path}: security");
        }
    }
}

#[test]
fn api_md_describes_every_route() {
    let text = std::fs::read_to_string(docs_dir().join("api.md")).unwrap();
    for (method, path) in atrest_server::route_table() {
        let plain = format!("`{method} {path}`");
        let with_query = format!("`{method} {path}?");
        assert!(text.contains(&plain) || text.contains(&with_query), "docs/api.md does not describe {method} {path}");
    }
}
