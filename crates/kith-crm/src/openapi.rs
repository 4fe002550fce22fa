//! `GET /api/openapi.json`: an OpenAPI 3.1 document generated from [`crate::route_specs`], so it lists every
//! `/api` route by construction.

use crate::{Scope, route_specs};
use axum::Json;
use serde_json::{Map, Value, json};

fn parameters(path: &str, scope: Scope, method: &str) -> Vec<Value> {
    let mut params: Vec<Value> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}))
        .collect();
    let reads = method == "GET" || method == "DELETE";
    match scope {
        Scope::Workspace if reads || path.ends_with("/import") => params.push(
            json!({"name": "workspace_id", "in": "query", "required": true, "schema": {"type": "string", "format": "uuid"}}),
        ),
        Scope::Org if reads && !path.contains("{org_id}") => params.push(
            json!({"name": "org_id", "in": "query", "required": true, "schema": {"type": "string", "format": "uuid"}}),
        ),
        _ => {}
    }
    params
}

fn tag(path: &str) -> &str {
    path.trim_start_matches("/api/").split('/').next().unwrap_or("api")
}

/// The document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for spec in route_specs() {
        let method = spec.method.to_ascii_lowercase();
        let success = match (spec.method, spec.path) {
            ("POST", p)
                if !p.contains("contact-intelligence") && !p.ends_with("/accept") && !p.ends_with("/import") =>
            {
                "201"
            }
            ("DELETE", _) => "204",
            _ => "200",
        };
        let mut responses = Map::new();
        responses.insert(success.into(), json!({"description": "Success"}));
        if spec.scope != Scope::Public {
            responses.insert("401".into(), json!({"$ref": "#/components/responses/Error"}));
        }
        if matches!(spec.scope, Scope::Org | Scope::Workspace | Scope::Item) {
            responses.insert("403".into(), json!({"$ref": "#/components/responses/Error"}));
            responses.insert("404".into(), json!({"$ref": "#/components/responses/Error"}));
        }
        responses.insert("422".into(), json!({"$ref": "#/components/responses/Error"}));
        let mut operation = json!({
            "summary": spec.summary,
            "operationId": format!("{method}_{}", spec.path.trim_start_matches("/api/").replace(['/', '.', '-'], "_").replace(['{', '}'], "")),
            "tags": [tag(spec.path)],
            "parameters": parameters(spec.path, spec.scope, spec.method),
            "responses": responses,
        });
        if spec.scope == Scope::Public {
            operation["security"] = json!([]);
        }
        if let Some(role) = spec.min_role {
            operation["x-kith-min-role"] = json!(role.as_str());
        }
        if matches!(spec.method, "POST" | "PATCH") {
            let media = if spec.path.ends_with("/import") {
                "text/csv"
            } else {
                "application/json"
            };
            operation["requestBody"] = json!({"required": true, "content": {media: {"schema": {"type": if media == "text/csv" {"string"} else {"object"}}}}});
        }
        let entry = paths.entry(spec.path.to_owned()).or_insert_with(|| json!({}));
        entry[method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Kith CRM API", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "field": {"type": "string"}
                        }
                    }}
                }
            },
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    })
}

/// `GET /api/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented() {
        let doc = build();
        for spec in route_specs() {
            let op = &doc["paths"][spec.path][spec.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} missing", spec.method, spec.path);
        }
    }
}
