//! The schema cache: the exposed schemas' tables, views, columns, keys, foreign keys and functions, read from
//! `pg_catalog`. The data API accepts an identifier only if it is found here.

use kith_db::{Access, Caller, Db, DbError};
use std::collections::HashMap;

/// A column of a table, view or composite type.
#[derive(Debug, Clone)]
pub struct Column {
    /// Name.
    pub name: String,
    /// `format_type()` of its type: a type name from the catalog, safe to put in a cast.
    pub type_sql: String,
    /// `NOT NULL`.
    pub not_null: bool,
    /// Its default expression (from the catalog), if any.
    pub default_sql: Option<String>,
    /// Generated columns cannot be written.
    pub generated: bool,
}

/// A table, view, materialized view, foreign table or partitioned table.
#[derive(Debug, Clone)]
pub struct Table {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// `r`, `v`, `m`, `f` or `p`.
    pub kind: char,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// Primary key columns.
    pub primary_key: Vec<String>,
    /// Unique keys (including the primary key).
    pub unique_keys: Vec<Vec<String>>,
    /// Roles (of the three) that may select from it, for the OpenAPI description.
    pub readable_by: Vec<String>,
    /// Table comment.
    pub comment: Option<String>,
    /// Computed fields: functions of this table's row type, selected, filtered and ordered like columns.
    pub computed: Vec<ComputedField>,
}

/// A computed field: a STABLE or IMMUTABLE function in an exposed schema whose one argument is the table's
/// row type (`f(t)`, PostgREST's computed columns). Calling it is subject to the caller's EXECUTE privilege,
/// since the statement runs as the caller.
#[derive(Debug, Clone)]
pub struct ComputedField {
    /// The function's name, which is the field's name.
    pub name: String,
    /// The function's schema.
    pub schema: String,
    /// `format_type()` of its result.
    pub type_sql: String,
}

impl Table {
    /// A column by exact name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// A computed field by exact name (columns win over computed fields of the same name).
    pub fn computed_field(&self, name: &str) -> Option<&ComputedField> {
        self.computed.iter().find(|f| f.name == name)
    }

    /// Whether `columns` is exactly a unique key (so at most one row matches).
    pub fn is_unique(&self, columns: &[String]) -> bool {
        self.unique_keys
            .iter()
            .any(|key| key.len() == columns.len() && key.iter().all(|k| columns.contains(k)))
    }
}

/// A foreign key between two cached tables.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    /// Constraint name.
    pub name: String,
    /// (schema, table) holding the key.
    pub from: (String, String),
    /// Its columns.
    pub from_columns: Vec<String>,
    /// (schema, table) referenced.
    pub to: (String, String),
    /// Referenced columns.
    pub to_columns: Vec<String>,
}

/// An argument of a function.
#[derive(Debug, Clone)]
pub struct Arg {
    /// Name (may be empty for unnamed arguments).
    pub name: String,
    /// Catalog type name.
    pub type_sql: String,
    /// Has a default.
    pub has_default: bool,
}

/// What a function returns.
#[derive(Debug, Clone)]
pub enum Returns {
    /// `void`
    Void,
    /// A scalar (or array) type.
    Scalar,
    /// A composite type with these columns.
    Composite(Vec<Column>),
}

/// A function callable through `/rpc`.
#[derive(Debug, Clone)]
pub struct Function {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Input arguments in order.
    pub args: Vec<Arg>,
    /// `SETOF`.
    pub returns_set: bool,
    /// Shape of the result.
    pub returns: Returns,
    /// `v`, `s` or `i`.
    pub volatility: char,
}

/// Everything the data API knows about the database.
#[derive(Debug, Default)]
pub struct SchemaCache {
    /// Tables and views by (schema, name).
    pub tables: HashMap<(String, String), Table>,
    /// Foreign keys between cached tables.
    pub foreign_keys: Vec<ForeignKey>,
    /// Functions by (schema, name); overloads share an entry.
    pub functions: HashMap<(String, String), Vec<Function>>,
}

impl SchemaCache {
    /// A table or view.
    pub fn table(&self, schema: &str, name: &str) -> Option<&Table> {
        self.tables.get(&(schema.to_owned(), name.to_owned()))
    }

    /// A close name for a "Perhaps you meant" hint.
    pub fn similar_table(&self, schema: &str, name: &str) -> Option<String> {
        self.tables
            .keys()
            .filter(|(s, _)| s == schema)
            .map(|(_, t)| (distance(t, name), t))
            .filter(|(d, t)| *d <= 2.max(t.len() / 3))
            .min()
            .map(|(_, t)| t.clone())
    }

    /// Reads the cache for `schemas` from the catalogs (as `anon`: the catalogs are readable by everyone).
    pub async fn load(db: &Db, schemas: &[String]) -> Result<SchemaCache, DbError> {
        let caller = Caller::anonymous().for_request("INTERNAL", "schema cache");
        let mut tx = db.begin_as(&caller, Access::ReadOnly).await?;
        let mut cache = SchemaCache::default();
        let schemas: Vec<String> = schemas.to_vec();

        let mut relations: HashMap<u32, (String, String, char)> = HashMap::new();
        let mut columns_by_oid: HashMap<u32, Vec<Column>> = HashMap::new();
        let rows = tx
            .query(
                "select c.oid, n.nspname::text, c.relname::text, c.relkind::text,
                        array_remove(array[
                          case when has_table_privilege('anon', c.oid, 'select') then 'anon' end,
                          case when has_table_privilege('authenticated', c.oid, 'select') then 'authenticated' end,
                          case when has_table_privilege('service_role', c.oid, 'select') then 'service_role' end
                        ], null)::text[],
                        obj_description(c.oid, 'pg_class')
                   from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                  where n.nspname = any($1::text[]) and c.relkind in ('r','v','m','f','p','c')",
                &[&schemas],
            )
            .await?;
        let mut meta: HashMap<u32, (Vec<String>, Option<String>)> = HashMap::new();
        for row in &rows {
            let oid: u32 = row.get(0);
            let kind: String = row.get(3);
            relations.insert(oid, (row.get(1), row.get(2), kind.chars().next().unwrap_or('r')));
            meta.insert(oid, (row.get(4), row.get(5)));
        }
        let rows = tx
            .query(
                "select a.attrelid, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod),
                        a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attgenerated <> ''
                   from pg_catalog.pg_attribute a
                   join pg_catalog.pg_class c on c.oid = a.attrelid
                   join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                   left join pg_catalog.pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
                  where n.nspname = any($1::text[]) and c.relkind in ('r','v','m','f','p','c')
                    and a.attnum > 0 and not a.attisdropped
                  order by a.attrelid, a.attnum",
                &[&schemas],
            )
            .await?;
        for row in &rows {
            let oid: u32 = row.get(0);
            columns_by_oid.entry(oid).or_default().push(Column {
                name: row.get(1),
                type_sql: row.get(2),
                not_null: row.get(3),
                default_sql: row.get(4),
                generated: row.get(5),
            });
        }
        for (oid, (schema, name, kind)) in &relations {
            if *kind == 'c' {
                continue;
            }
            let (readable_by, comment) = meta.remove(oid).unwrap_or_default();
            cache.tables.insert(
                (schema.clone(), name.clone()),
                Table {
                    schema: schema.clone(),
                    name: name.clone(),
                    kind: *kind,
                    columns: columns_by_oid.get(oid).cloned().unwrap_or_default(),
                    primary_key: Vec::new(),
                    unique_keys: Vec::new(),
                    readable_by,
                    comment,
                    computed: Vec::new(),
                },
            );
        }

        let rows = tx
            .query(
                "select p.proargtypes[0], n.nspname::text, p.proname::text, pg_catalog.format_type(p.prorettype, null)
                   from pg_catalog.pg_proc p
                   join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                   join pg_catalog.pg_type t on t.oid = p.prorettype
                  where n.nspname = any($1::text[]) and p.prokind = 'f' and p.pronargs = 1 and not p.proretset
                    and p.provolatile in ('s', 'i') and t.typtype not in ('p', 'c')",
                &[&schemas],
            )
            .await?;
        let by_row_type: HashMap<u32, u32> = tx
            .query(
                "select c.reltype, c.oid from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
                  where n.nspname = any($1::text[]) and c.relkind in ('r','v','m','f','p')",
                &[&schemas],
            )
            .await?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        for row in &rows {
            let arg_type: u32 = row.get(0);
            let Some((schema, name, _)) = by_row_type.get(&arg_type).and_then(|oid| relations.get(oid)) else {
                continue;
            };
            if let Some(table) = cache.tables.get_mut(&(schema.clone(), name.clone())) {
                table.computed.push(ComputedField {
                    schema: row.get(1),
                    name: row.get(2),
                    type_sql: row.get(3),
                });
            }
        }

        let rows = tx
            .query(
                "select con.conname::text, con.contype::text, con.conrelid, con.confrelid,
                        array(select a.attname::text from unnest(con.conkey) with ordinality k(n, o)
                              join pg_catalog.pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.o),
                        array(select a.attname::text from unnest(coalesce(con.confkey, '{}')) with ordinality k(n, o)
                              join pg_catalog.pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.o)
                   from pg_catalog.pg_constraint con
                   join pg_catalog.pg_namespace n on n.oid = con.connamespace
                  where n.nspname = any($1::text[]) and con.contype in ('p','u','f')
                  order by con.conname",
                &[&schemas],
            )
            .await?;
        for row in &rows {
            let name: String = row.get(0);
            let kind: String = row.get(1);
            let from: u32 = row.get(2);
            let to: u32 = row.get(3);
            let from_columns: Vec<String> = row.get(4);
            let to_columns: Vec<String> = row.get(5);
            let Some((schema, table, _)) = relations.get(&from) else {
                continue;
            };
            if kind == "f" {
                let Some((to_schema, to_table, _)) = relations.get(&to) else {
                    continue;
                };
                cache.foreign_keys.push(ForeignKey {
                    name,
                    from: (schema.clone(), table.clone()),
                    from_columns,
                    to: (to_schema.clone(), to_table.clone()),
                    to_columns,
                });
            } else if let Some(entry) = cache.tables.get_mut(&(schema.clone(), table.clone())) {
                if kind == "p" {
                    entry.primary_key = from_columns.clone();
                }
                entry.unique_keys.push(from_columns);
            }
        }

        let rows = tx
            .query(
                "select n.nspname::text, p.proname::text,
                        coalesce(p.proargnames, '{}')::text[],
                        coalesce(p.proargmodes::text[], '{}'),
                        array(select pg_catalog.format_type(t, null)
                                from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality u(t, o)
                               order by o),
                        p.pronargdefaults::int4, p.proretset, t.typtype::text, t.typrelid,
                        p.provolatile::text, t.oid = 'pg_catalog.void'::regtype, t.oid = 'pg_catalog.record'::regtype
                   from pg_catalog.pg_proc p
                   join pg_catalog.pg_namespace n on n.oid = p.pronamespace
                   join pg_catalog.pg_type t on t.oid = p.prorettype
                  where n.nspname = any($1::text[]) and p.prokind = 'f'",
                &[&schemas],
            )
            .await?;
        for row in &rows {
            let names: Vec<String> = row.get(2);
            let modes: Vec<String> = row.get(3);
            let types: Vec<String> = row.get(4);
            let defaults: i32 = row.get(5);
            let typtype: String = row.get(7);
            let typrelid: u32 = row.get(8);
            let is_void: bool = row.get(10);
            let is_record: bool = row.get(11);
            let mut args = Vec::new();
            let mut out_columns = Vec::new();
            for (i, type_sql) in types.iter().enumerate() {
                let mode = modes.get(i).map_or("i", String::as_str);
                let name = names.get(i).cloned().unwrap_or_default();
                match mode {
                    "i" | "b" | "v" => args.push(Arg {
                        name: name.clone(),
                        type_sql: type_sql.clone(),
                        has_default: false,
                    }),
                    _ => {}
                }
                if matches!(mode, "o" | "b" | "t") {
                    out_columns.push(Column {
                        name,
                        type_sql: type_sql.clone(),
                        not_null: false,
                        default_sql: None,
                        generated: false,
                    });
                }
            }
            let first_default = args.len().saturating_sub(usize::try_from(defaults).unwrap_or(0));
            for arg in args.iter_mut().skip(first_default) {
                arg.has_default = true;
            }
            let returns = if is_void {
                Returns::Void
            } else if typtype == "c" {
                Returns::Composite(columns_by_oid.get(&typrelid).cloned().unwrap_or_default())
            } else if is_record && !out_columns.is_empty() {
                Returns::Composite(out_columns)
            } else {
                Returns::Scalar
            };
            let volatility: String = row.get(9);
            let function = Function {
                schema: row.get(0),
                name: row.get(1),
                args,
                returns_set: row.get(6),
                returns,
                volatility: volatility.chars().next().unwrap_or('v'),
            };
            cache
                .functions
                .entry((function.schema.clone(), function.name.clone()))
                .or_default()
                .push(function);
        }
        tx.commit().await?;
        Ok(cache)
    }
}

/// Levenshtein distance, for hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let value = (previous[j] + cost).min(previous[j + 1] + 1).min(current[j] + 1);
            current.push(value);
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::distance;

    #[test]
    fn edit_distance() {
        assert_eq!(distance("notes", "notes"), 0);
        assert_eq!(distance("note", "notes"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
