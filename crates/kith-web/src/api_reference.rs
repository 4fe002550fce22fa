//! The `/api` reference page, built from the very OpenAPI document `/api/openapi.json` serves
//! (`kith_crm::openapi::build`), so the page and the document cannot disagree.

use serde_json::Value;

/// One parameter of an operation.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name.
    pub name: String,
    /// `path`, `query` or `header`.
    pub location: String,
    /// Type and format.
    pub kind: String,
    /// `yes` or `no`.
    pub required: &'static str,
}

/// One response of an operation.
#[derive(Debug, Clone)]
pub struct ResponseRow {
    /// Status code.
    pub status: String,
    /// What it means, with the error codes it can carry.
    pub meaning: String,
}

/// One route and method.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Anchor id.
    pub id: String,
    /// `GET`, `POST`…
    pub method: String,
    /// CSS class of the method badge.
    pub method_class: String,
    /// Path template.
    pub path: String,
    /// Summary.
    pub summary: String,
    /// Authentication and role notes.
    pub notes: String,
    /// Parameters.
    pub parameters: Vec<Param>,
    /// Request body description, empty when none.
    pub request_body: String,
    /// Responses.
    pub responses: Vec<ResponseRow>,
    /// A curl example.
    pub curl: String,
}

/// Operations sharing a tag.
#[derive(Debug, Clone)]
pub struct Group {
    /// Anchor id.
    pub id: String,
    /// Tag name.
    pub name: String,
    /// Its operations.
    pub operations: Vec<Operation>,
}

/// The whole reference.
#[derive(Debug, Clone, Default)]
pub struct ApiReference {
    /// `openapi` version of the document.
    pub openapi_version: String,
    /// `info.version`.
    pub api_version: String,
    /// Groups in document order of their first route.
    pub groups: Vec<Group>,
}

fn meaning(status: &str) -> &'static str {
    match status {
        "200" => "Success: the JSON answer",
        "201" => "Created: the stored object, with its id",
        "204" => "Done, no body",
        "401" => "missing_token, invalid_token or token_expired (with WWW-Authenticate: Bearer)",
        "403" => "no_organization, workspace_forbidden or insufficient_role",
        "404" => "not_found: the item does not exist or belongs to another tenant",
        "422" => "validation_failed, with the offending field; 400 invalid_request for malformed input",
        _ => "See the error shape",
    }
}

fn example_value(name: &str) -> &'static str {
    match name {
        "workspace_id" => "$WS",
        "org_id" => "$ORG",
        _ => "…",
    }
}

impl ApiReference {
    /// Builds the reference from an OpenAPI 3 document.
    pub fn from_openapi(doc: &Value) -> Self {
        let mut groups: Vec<Group> = Vec::new();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        for (path, item) in &paths {
            let Some(methods) = item.as_object() else { continue };
            for (method, op) in methods {
                let tag = op["tags"][0].as_str().unwrap_or("api").to_owned();
                let parameters: Vec<Param> = op["parameters"]
                    .as_array()
                    .map(|params| {
                        params
                            .iter()
                            .map(|p| Param {
                                name: p["name"].as_str().unwrap_or_default().to_owned(),
                                location: p["in"].as_str().unwrap_or_default().to_owned(),
                                kind: match p["schema"]["format"].as_str() {
                                    Some(format) => {
                                        format!("{} ({format})", p["schema"]["type"].as_str().unwrap_or("string"))
                                    }
                                    None => p["schema"]["type"].as_str().unwrap_or("string").to_owned(),
                                },
                                required: if p["required"].as_bool() == Some(true) {
                                    "yes"
                                } else {
                                    "no"
                                },
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let request_body = op["requestBody"]["content"]
                    .as_object()
                    .and_then(|content| content.iter().next())
                    .map(|(media, schema)| {
                        format!(
                            "{media}, a JSON {}",
                            schema["schema"]["type"].as_str().unwrap_or("object")
                        )
                        .replace("text/csv, a JSON string", "text/csv, a CSV file with a header row")
                    })
                    .unwrap_or_default();
                let mut responses: Vec<ResponseRow> = op["responses"]
                    .as_object()
                    .map(|r| {
                        r.keys()
                            .map(|status| ResponseRow {
                                status: status.clone(),
                                meaning: meaning(status).to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                responses.sort_by(|a, b| a.status.cmp(&b.status));
                let public = op["security"].as_array().is_some_and(Vec::is_empty);
                let mut notes = if public {
                    "No token needed.".to_owned()
                } else {
                    "Bearer token required.".to_owned()
                };
                if let Some(role) = op["x-kith-min-role"].as_str() {
                    notes.push_str(&format!(" Needs the role {role} or higher."));
                }
                let upper = method.to_ascii_uppercase();
                let query: Vec<String> = parameters
                    .iter()
                    .filter(|p| p.location == "query")
                    .map(|p| format!("{}={}", p.name, example_value(&p.name)))
                    .collect();
                let mut url = format!("$KITH{path}");
                if !query.is_empty() {
                    url.push('?');
                    url.push_str(&query.join("&"));
                }
                let mut curl = format!("curl -s -X {upper}");
                if !public {
                    curl.push_str(" -H \"Authorization: Bearer $TOKEN\"");
                }
                if request_body.starts_with("application/json") {
                    curl.push_str(" -H 'Content-Type: application/json' -d '{…}'");
                } else if request_body.starts_with("text/csv") {
                    curl.push_str(" -H 'Content-Type: text/csv' --data-binary @contacts.csv");
                }
                curl.push_str(&format!(" \"{url}\""));
                let operation = Operation {
                    id: format!("{method}-{}", crate::markdown::slug(path)),
                    method: upper,
                    method_class: method.clone(),
                    path: path.clone(),
                    summary: op["summary"].as_str().unwrap_or_default().to_owned(),
                    notes,
                    parameters,
                    request_body,
                    responses,
                    curl,
                };
                match groups.iter_mut().find(|g| g.name == tag) {
                    Some(group) => group.operations.push(operation),
                    None => groups.push(Group {
                        id: format!("tag-{}", crate::markdown::slug(&tag)),
                        name: tag,
                        operations: vec![operation],
                    }),
                }
            }
        }
        ApiReference {
            openapi_version: doc["openapi"].as_str().unwrap_or_default().to_owned(),
            api_version: doc["info"]["version"].as_str().unwrap_or_default().to_owned(),
            groups,
        }
    }

    /// How many operations the reference lists.
    pub fn operation_count(&self) -> usize {
        self.groups.iter().map(|g| g.operations.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_served_document_is_listed() {
        let doc = kith_crm::openapi::build();
        let reference = ApiReference::from_openapi(&doc);
        let expected: usize = doc["paths"]
            .as_object()
            .map(|p| p.values().map(|m| m.as_object().map_or(0, |m| m.len())).sum())
            .unwrap_or(0);
        assert!(expected > 10);
        assert_eq!(reference.operation_count(), expected);
        for group in &reference.groups {
            for op in &group.operations {
                assert!(op.curl.starts_with("curl "), "{}", op.curl);
                assert!(!op.responses.is_empty(), "{} {}", op.method, op.path);
            }
        }
    }
}
