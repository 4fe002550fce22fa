//! Relationship inference for embeds (PostgREST's `findRel`): which foreign key joins a parent table to the
//! resource named in `select`, with its cardinality, or PGRST200 (none) / PGRST201 (ambiguous, with the candidates
//! in PostgREST's wording). Only keys between cached tables are considered.

use crate::error::{RestError, RestResult};
use crate::schema::{ForeignKey, SchemaCache, Table};
use axum::http::StatusCode;
use serde_json::json;

/// Relationship cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    /// The parent holds the key.
    ManyToOne,
    /// The child holds the key.
    OneToMany,
    /// The child holds a key that is unique.
    OneToOne,
    /// Through a junction table.
    ManyToMany,
}

impl Cardinality {
    /// Whether the embed is one object (else an array).
    pub fn to_one(self) -> bool {
        matches!(self, Cardinality::ManyToOne | Cardinality::OneToOne)
    }

    /// PostgREST's name for it, in PGRST201 details.
    pub fn name(self) -> &'static str {
        match self {
            Cardinality::ManyToOne => "many-to-one",
            Cardinality::OneToMany => "one-to-many",
            Cardinality::OneToOne => "one-to-one",
            Cardinality::ManyToMany => "many-to-many",
        }
    }
}

/// A foreign-key path from a parent to an embedded table.
pub struct Relationship<'a> {
    /// The key to the target (many-to-many: the junction's key to the child).
    pub fk: &'a ForeignKey,
    /// The embedded table.
    pub target: &'a Table,
    /// How many rows of the target one parent row sees.
    pub cardinality: Cardinality,
    /// (parent column, child column); for many-to-many, (parent column, junction column).
    pub pairs: Vec<(String, String)>,
    /// Many-to-many: the junction table and (junction column, child column) pairs.
    pub junction: Option<(&'a Table, Vec<(String, String)>)>,
    /// Many-to-many: the junction's key to the parent (`fk` is its key to the child).
    pub via: Option<&'a ForeignKey>,
}

/// The one relationship from `parent` to the embed `name` (a table, a foreign key name or column), narrowed by
/// `hint`.
pub fn find<'a>(
    cache: &'a SchemaCache,
    parent: &Table,
    name: &str,
    hint: Option<&str>,
) -> RestResult<Relationship<'a>> {
    let parent_key = (parent.schema.clone(), parent.name.clone());
    let mut found = Vec::new();
    for fk in &cache.foreign_keys {
        // Many-to-one: the parent holds the key.
        // A self-referencing key named by the table means its children (one-to-many, below), as in
        // PostgREST; the parent is reached by the FK column or constraint name.
        let self_reference = fk.from == fk.to;
        if fk.from == parent_key
            && ((fk.to.1 == name && !self_reference) || fk.name == name || fk.from_columns == [name.to_owned()])
            && hint.is_none_or(|h| {
                fk.name == h || fk.from_columns.iter().any(|c| c == h) || fk.to_columns.iter().any(|c| c == h)
            })
            && let Some(target) = cache.table(&fk.to.0, &fk.to.1)
        {
            let pairs = fk
                .from_columns
                .iter()
                .cloned()
                .zip(fk.to_columns.iter().cloned())
                .collect();
            found.push(Relationship {
                fk,
                target,
                cardinality: Cardinality::ManyToOne,
                pairs,
                junction: None,
                via: None,
            });
        }
        // One-to-many (or one-to-one): the child holds the key.
        if fk.to == parent_key
            && (fk.from.1 == name || fk.name == name)
            && hint.is_none_or(|h| fk.name == h || fk.from_columns.iter().any(|c| c == h))
            && let Some(target) = cache.table(&fk.from.0, &fk.from.1)
        {
            let cardinality = if target.is_unique(&fk.from_columns) {
                Cardinality::OneToOne
            } else {
                Cardinality::OneToMany
            };
            let pairs = fk
                .to_columns
                .iter()
                .cloned()
                .zip(fk.from_columns.iter().cloned())
                .collect();
            found.push(Relationship {
                fk,
                target,
                cardinality,
                pairs,
                junction: None,
                via: None,
            });
        }
        // Many-to-many through a junction table holding keys to both sides.
        if fk.to == parent_key
            && let Some(junction) = cache.table(&fk.from.0, &fk.from.1)
        {
            for other in &cache.foreign_keys {
                if std::ptr::eq(other, fk) || other.from != fk.from || other.to.1 != name {
                    continue;
                }
                let hinted = hint.is_none_or(|h| h == junction.name || h == fk.name || h == other.name);
                if let (true, Some(target)) = (hinted, cache.table(&other.to.0, &other.to.1)) {
                    found.push(Relationship {
                        fk: other,
                        target,
                        cardinality: Cardinality::ManyToMany,
                        pairs: fk
                            .to_columns
                            .iter()
                            .cloned()
                            .zip(fk.from_columns.iter().cloned())
                            .collect(),
                        junction: Some((
                            junction,
                            other
                                .from_columns
                                .iter()
                                .cloned()
                                .zip(other.to_columns.iter().cloned())
                                .collect(),
                        )),
                        via: Some(fk),
                    });
                }
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "PGRST200",
            format!(
                "Could not find a relationship between '{}' and '{name}' in the schema cache",
                parent.name
            ),
        )
        .details(format!(
            "Searched for a foreign key relationship between '{}' and '{name}'{} in the schema '{}', but no \
             matches were found.",
            parent.name,
            hint.map(|h| format!(" using the hint '{h}'")).unwrap_or_default(),
            parent.schema
        ))),
        _ => {
            // PostgREST's wording: "<parent> with <target>", the key named from the parent's side.
            let details: Vec<_> = found
                .iter()
                .map(|rel| {
                    let parent_columns: Vec<&str> = rel.pairs.iter().map(|(p, _)| p.as_str()).collect();
                    let relationship = match (&rel.junction, rel.via) {
                        (Some((junction, child_pairs)), Some(via)) => {
                            let source: Vec<&str> = rel.pairs.iter().map(|(_, j)| j.as_str()).collect();
                            let target: Vec<&str> = child_pairs.iter().map(|(j, _)| j.as_str()).collect();
                            format!(
                                "{} using {}({}) and {}({})",
                                junction.name,
                                via.name,
                                source.join(", "),
                                rel.fk.name,
                                target.join(", ")
                            )
                        }
                        _ => {
                            let child_columns: Vec<&str> = rel.pairs.iter().map(|(_, c)| c.as_str()).collect();
                            format!(
                                "{} using {}({}) and {}({})",
                                rel.fk.name,
                                parent.name,
                                parent_columns.join(", "),
                                rel.target.name,
                                child_columns.join(", ")
                            )
                        }
                    };
                    json!({
                        "cardinality": rel.cardinality.name(),
                        "embedding": format!("{} with {}", parent.name, rel.target.name),
                        "relationship": relationship,
                    })
                })
                .collect();
            let options: Vec<String> = found
                .iter()
                .map(|rel| {
                    let via = rel
                        .junction
                        .as_ref()
                        .map_or(rel.fk.name.as_str(), |(j, _)| j.name.as_str());
                    format!("'{}!{via}'", rel.target.name)
                })
                .collect();
            let mut error = RestError::new(
                StatusCode::MULTIPLE_CHOICES,
                "PGRST201",
                format!(
                    "Could not embed because more than one relationship was found for '{}' and '{name}'",
                    parent.name
                ),
            )
            .hint(format!(
                "Try changing '{name}' to one of the following: {}. Find the desired relationship in the \
                 'details' key.",
                options.join(", ")
            ));
            error.details = serde_json::Value::Array(details);
            Err(error)
        }
    }
}
