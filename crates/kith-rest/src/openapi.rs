//! `GET /rest/v1/`: a Swagger 2.0 description of the tables the caller's role may read, and the functions.

use crate::schema::SchemaCache;
use serde_json::{Map, Value, json};

fn json_type(type_sql: &str) -> (&'static str, Option<&'static str>) {
    match type_sql {
        "smallint" | "integer" | "bigint" => ("integer", Some(if type_sql == "bigint" { "int64" } else { "int32" })),
        "real" | "double precision" | "numeric" => ("number", None),
        "boolean" => ("boolean", None),
        "json" | "jsonb" => ("object", None),
        t if t.ends_with("[]") => ("array", None),
        _ => ("string", None),
    }
}

/// The document.
pub fn document(cache: &SchemaCache, schema: &str, role: &str) -> Value {
    let mut paths = Map::new();
    let mut definitions = Map::new();
    let mut tables: Vec<_> = cache
        .tables
        .values()
        .filter(|t| t.schema == schema && t.readable_by.iter().any(|r| r == role))
        .collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    for table in tables {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for column in &table.columns {
            let (kind, format) = json_type(&column.type_sql);
            let mut property = json!({"type": kind, "format": format.unwrap_or(column.type_sql.as_str())});
            if table.primary_key.contains(&column.name) {
                property["description"] = json!("Note:\nThis is a Primary Key.<pk/>");
            }
            properties.insert(column.name.clone(), property);
            if column.not_null && column.default_sql.is_none() {
                required.push(column.name.clone());
            }
        }
        definitions.insert(
            table.name.clone(),
            json!({"type": "object", "required": required, "properties": properties, "description": table.comment}),
        );
        let reference = json!({"$ref": format!("#/definitions/{}", table.name)});
        paths.insert(
            format!("/{}", table.name),
            json!({
                "get": {"tags": [table.name], "responses": {"200": {"description": "OK", "schema": {"type": "array", "items": reference}}, "206": {"description": "Partial Content"}}},
                "post": {"tags": [table.name], "responses": {"201": {"description": "Created"}}},
                "patch": {"tags": [table.name], "responses": {"204": {"description": "No Content"}}},
                "delete": {"tags": [table.name], "responses": {"204": {"description": "No Content"}}},
            }),
        );
    }
    let mut functions: Vec<_> = cache.functions.keys().filter(|(s, _)| s == schema).collect();
    functions.sort();
    for (_, name) in functions {
        paths.insert(
            format!("/rpc/{name}"),
            json!({
                "get": {"tags": ["(rpc) ".to_owned() + name], "responses": {"200": {"description": "OK"}}},
                "post": {"tags": ["(rpc) ".to_owned() + name], "responses": {"200": {"description": "OK"}}},
            }),
        );
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kith data API", "description": "PostgREST-compatible data API", "version": env!("CARGO_PKG_VERSION")},
        "basePath": "/rest/v1",
        "schemes": ["http", "https"],
        "consumes": ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
        "produces": ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
        "paths": paths,
        "definitions": definitions,
    })
}
