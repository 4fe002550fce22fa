//! The live probe: proof, not inspection. Inside one transaction that is always rolled back, two throwaway
//! tenants (a user each, and an organization each made the way the API makes one: inserted as that user) write a
//! row into every exposed tenant table as themselves (`set_config('role', 'authenticated')` and
//! `request.jwt.claims`, exactly as `begin_as` does). Then each, as itself, must see none of the other's rows,
//! update and delete none of them, and fail to write a row into the other's tenant; anon must see neither. A
//! breach is an ERROR. A table the member may not write gets its row from the schema owner instead (noted).

use super::{Finding, Level, Options};
use kith_db::tokio_postgres::{Client, Transaction};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Runs the probe; nothing it writes survives.
pub async fn run(client: &mut Client, options: &Options) -> anyhow::Result<Vec<Finding>> {
    let tx = client.transaction().await?;
    let result = probe(&tx, options).await;
    tx.rollback().await?;
    result
}

fn finding(name: &'static str, level: Level, object: String, detail: String) -> Finding {
    let (title, remediation) = match (level, name) {
        (_, "probe_summary") => ("What the live probe exercised", ""),
        (Level::Error, _) => (
            "The live probe crossed from one tenant into another",
            "fix the table's policies (scope every command by the tenant key) and grants, then audit again",
        ),
        _ => (
            "The live probe could not exercise everything",
            "make sure a member of an organization can write the table, or that this is intended",
        ),
    };
    Finding {
        name,
        level,
        title,
        object,
        detail,
        remediation,
    }
}

/// One throwaway tenant.
struct Tenant {
    label: &'static str,
    user: String,
    org: String,
    workspace: Option<String>,
    /// A second user, not yet a member: what rows that reference a user (a membership, say) point at.
    colleague: String,
    /// The row written into each table: (ctid, the row as JSON).
    rows: BTreeMap<String, (String, Value)>,
}

/// A column of a tenant table, as the row generator needs it.
struct Column {
    name: String,
    sql_type: String,
    required: bool,
    /// The first literal of a single-column check such as `kind = any (array['call', …])`.
    choice: Option<String>,
    /// The first label, when the type is an enum.
    enum_label: Option<String>,
}

/// A foreign key: local columns, the referenced table and its columns.
struct ForeignKey {
    columns: Vec<String>,
    target: String,
    target_columns: Vec<String>,
}

struct Table {
    /// Schema-qualified, quoted where needed (`format('%I.%I')`): usable in SQL as it is.
    name: String,
    columns: Vec<Column>,
    foreign_keys: Vec<ForeignKey>,
    /// A column the role `authenticated` may update (for the cross-tenant update attempt).
    updatable: Option<String>,
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

async fn probe(tx: &Transaction<'_>, options: &Options) -> anyhow::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let ready = tx
        .query_one(
            "select to_regclass('public.organizations') is not null and to_regclass('auth.users') is not null
                    and exists (select 1 from pg_roles where rolname = 'authenticated')",
            &[],
        )
        .await?;
    if !ready.get::<_, bool>(0) {
        findings.push(finding(
            "probe_skipped",
            Level::Warn,
            "database".into(),
            "no public.organizations, auth.users or role authenticated: run `kith migrate` first".into(),
        ));
        return Ok(findings);
    }
    let tables = tenant_tables(tx, options).await?;
    let mut tenants = Vec::new();
    for label in ["A", "B"] {
        tenants.push(create_tenant(tx, label).await?);
    }
    let mut as_member = 0;
    let mut as_owner = 0;
    for tenant in &mut tenants {
        for table in &tables {
            match write_row(tx, table, tenant, options).await {
                Ok(true) => as_member += 1,
                Ok(false) => as_owner += 1,
                Err(err) => findings.push(finding(
                    "probe_table_not_written",
                    Level::Info,
                    table.name.clone(),
                    format!(
                        "no row could be written for tenant {} ({err}); only pre-existing rows were checked",
                        tenant.label
                    ),
                )),
            }
        }
    }
    for (me, other) in [(0, 1), (1, 0)] {
        for table in &tables {
            cross_checks(tx, table, &tenants[me], &tenants[other], options, &mut findings).await?;
        }
        root_checks(tx, &tenants[me], &tenants[other], &mut findings).await?;
    }
    anon_checks(tx, &tables, &tenants, options, &mut findings).await?;
    findings.push(finding(
        "probe_summary",
        Level::Info,
        "database".into(),
        format!(
            "2 tenants, {} tenant tables; rows written as a member: {as_member}, by the schema owner (the member may not): {as_owner}",
            tables.len()
        ),
    ));
    Ok(findings)
}

/// Exposed tenant tables, each after the tenant tables it references.
async fn tenant_tables(tx: &Transaction<'_>, options: &Options) -> anyhow::Result<Vec<Table>> {
    let rows = tx
        .query(
            "select c.oid, format('%I.%I', n.nspname, c.relname)
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
             where c.relkind in ('r', 'p') and not c.relispartition and n.nspname = any($1)
               and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = $2
                           and a.attnum > 0 and not a.attisdropped)
             order by 2",
            &[&options.exposed_schemas, &options.tenant_key],
        )
        .await?;
    let mut tables = Vec::new();
    for row in rows {
        let oid: u32 = row.get(0);
        let name: String = row.get(1);
        let columns = tx
            .query(
                "select a.attname::text, format_type(a.atttypid, a.atttypmod),
                        a.attnotnull and not a.atthasdef and a.attidentity = '' and a.attgenerated = '',
                        (select substring(pg_get_constraintdef(k.oid) from '''([^'']*)''::')
                           from pg_constraint k
                          where k.conrelid = a.attrelid and k.contype = 'c' and k.conkey = array[a.attnum]
                            and pg_get_constraintdef(k.oid) ~ '(ANY \\(ARRAY\\[| IN \\()' limit 1),
                        (select e.enumlabel::text from pg_enum e where e.enumtypid = a.atttypid
                          order by e.enumsortorder limit 1)
                 from pg_attribute a
                 where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
                   and a.attidentity = '' and a.attgenerated = ''
                 order by a.attnum",
                &[&oid],
            )
            .await?
            .iter()
            .map(|r| Column {
                name: r.get(0),
                sql_type: r.get(1),
                required: r.get(2),
                choice: r.get(3),
                enum_label: r.get(4),
            })
            .collect();
        let foreign_keys = tx
            .query(
                "select array(select a.attname::text from unnest(k.conkey) with ordinality u(n, o)
                              join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n order by u.o),
                        format('%I.%I', tn.nspname, t.relname),
                        array(select a.attname::text from unnest(k.confkey) with ordinality u(n, o)
                              join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n order by u.o)
                 from pg_constraint k join pg_class t on t.oid = k.confrelid join pg_namespace tn on tn.oid = t.relnamespace
                 where k.conrelid = $1 and k.contype = 'f'
                 order by k.conname",
                &[&oid],
            )
            .await?
            .iter()
            .map(|r| ForeignKey {
                columns: r.get(0),
                target: r.get(1),
                target_columns: r.get(2),
            })
            .collect();
        let updatable = tx
            .query_opt(
                "select a.attname::text from pg_attribute a
                 where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
                   and has_column_privilege('authenticated', $1, a.attnum, 'UPDATE')
                 order by a.attnum limit 1",
                &[&oid],
            )
            .await?
            .map(|r| r.get(0));
        tables.push(Table {
            name,
            columns,
            foreign_keys,
            updatable,
        });
    }
    // Referenced tenant tables first, so a row can point at this tenant's own parent rows.
    let names: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    let mut ordered: Vec<Table> = Vec::new();
    while !tables.is_empty() {
        let done: BTreeSet<&str> = ordered.iter().map(|t| t.name.as_str()).collect();
        let next = tables
            .iter()
            .position(|t| {
                t.foreign_keys
                    .iter()
                    .all(|fk| fk.target == t.name || !names.contains(&fk.target) || done.contains(fk.target.as_str()))
            })
            .unwrap_or(0);
        ordered.push(tables.remove(next));
    }
    Ok(ordered)
}

/// Acts as `user` (or as anon with `None`) for the following statements, as `begin_as` does.
async fn act_as(tx: &Transaction<'_>, user: Option<&str>) -> anyhow::Result<()> {
    let (role, claims) = match user {
        Some(id) => (
            "authenticated",
            json!({"sub": id, "role": "authenticated", "aud": "authenticated"}),
        ),
        None => ("anon", json!({"role": "anon"})),
    };
    tx.query(
        "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)",
        &[&role, &claims.to_string()],
    )
    .await?;
    Ok(())
}

/// Back to the schema owner.
async fn act_as_owner(tx: &Transaction<'_>) -> anyhow::Result<()> {
    tx.batch_execute("reset role; select set_config('request.jwt.claims', '', true)")
        .await?;
    Ok(())
}

/// A confirmed throwaway user.
async fn create_user(tx: &Transaction<'_>) -> anyhow::Result<String> {
    Ok(tx
        .query_one(
            "insert into auth.users (id, aud, role, email, email_confirmed_at, created_at, updated_at)
             values (gen_random_uuid(), 'authenticated', 'authenticated',
                     'kith-audit-probe-' || gen_random_uuid() || '@example.invalid', now(), now(), now())
             returning id::text",
            &[],
        )
        .await?
        .get(0))
}

async fn create_tenant(tx: &Transaction<'_>, label: &'static str) -> anyhow::Result<Tenant> {
    act_as_owner(tx).await?;
    let user = create_user(tx).await?;
    let colleague = create_user(tx).await?;
    // The organization is created as its user, through the same policies and triggers the API goes through.
    // No RETURNING: the new row is not visible to its creator until the after-insert trigger made them a member.
    let org: String = tx.query_one("select gen_random_uuid()::text", &[]).await?.get(0);
    act_as(tx, Some(&user)).await?;
    tx.execute(
        "insert into public.organizations (id, name) values ($1::text::uuid, $2)",
        &[&org, &format!("kith audit probe {label}")],
    )
    .await?;
    act_as_owner(tx).await?;
    let workspace: Option<String> = tx
        .query_opt(
            "select id::text from public.workspaces where org_id = $1::text::uuid order by created_at limit 1",
            &[&org],
        )
        .await
        .ok()
        .flatten()
        .map(|r| r.get(0));
    Ok(Tenant {
        label,
        user,
        org,
        workspace,
        colleague,
        rows: BTreeMap::new(),
    })
}

/// The `insert` statement of a row of `table` belonging to `tenant`; with `returning`, it returns the row's ctid
/// and the row as JSON (which needs the writer to be able to read the row, too).
fn insert_sql(table: &Table, tenant: &Tenant, options: &Options, returning: bool) -> String {
    let mut values: BTreeMap<&str, String> = BTreeMap::new();
    // Foreign keys first: to this tenant's own rows, its organization, its second user.
    for fk in &table.foreign_keys {
        let source = if fk.target == "public.organizations" {
            Some(json!({"id": tenant.org}))
        } else if fk.target == "auth.users" {
            Some(json!({"id": tenant.colleague}))
        } else if fk.target == "public.workspaces" && !tenant.rows.contains_key("public.workspaces") {
            tenant
                .workspace
                .as_ref()
                .map(|w| json!({"id": w, "org_id": tenant.org}))
        } else {
            tenant.rows.get(&fk.target).map(|(_, row)| row.clone())
        };
        let Some(source) = source else { continue };
        for (column, target) in fk.columns.iter().zip(&fk.target_columns) {
            if let Some(value) = source.get(target.as_str()).and_then(json_text) {
                values.insert(column.as_str(), value);
            }
        }
    }
    let mut columns = Vec::new();
    let mut exprs = Vec::new();
    for column in &table.columns {
        let expr = if column.name == options.tenant_key {
            Some(format!("{}::{}", literal(&tenant.org), column.sql_type))
        } else if let Some(value) = values.get(column.name.as_str()) {
            Some(format!("{}::{}", literal(value), column.sql_type))
        } else if column.name == "workspace_id"
            && let Some(workspace) = &tenant.workspace
        {
            Some(format!("{}::{}", literal(workspace), column.sql_type))
        } else if column.required || is_email(column) {
            // An address even where optional: tables often require a name or an address, and check its shape.
            Some(generated_value(column))
        } else {
            None
        };
        if let Some(expr) = expr {
            columns.push(ident(&column.name));
            exprs.push(expr);
        }
    }
    let target = &table.name;
    let returning = if returning {
        " returning probe_row.ctid::text, to_jsonb(probe_row)"
    } else {
        ""
    };
    format!(
        "insert into {target} as probe_row ({}) values ({}){returning}",
        columns.join(", "),
        exprs.join(", ")
    )
}

fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn is_email(column: &Column) -> bool {
    column.name.contains("email") && (column.sql_type == "text" || column.sql_type.starts_with("character varying"))
}

/// A value that satisfies the usual constraints of a column of this type.
fn generated_value(column: &Column) -> String {
    let t = column.sql_type.as_str();
    if is_email(column) {
        // Unique per row, lower case, one @ and a dotted domain.
        return format!("('kith-audit-probe-' || substr(md5(random()::text), 1, 12) || '@example.invalid')::{t}");
    }
    if let Some(choice) = &column.choice {
        return format!("{}::{t}", literal(choice));
    }
    if let Some(label) = &column.enum_label {
        return format!("{}::{t}", literal(label));
    }
    if t.ends_with("[]") {
        return format!("'{{}}'::{t}");
    }
    match t {
        "uuid" => "gen_random_uuid()".into(),
        "boolean" => "false".into(),
        "smallint" | "integer" | "bigint" | "real" | "double precision" => "0".into(),
        _ if t.starts_with("numeric") => "0".into(),
        "jsonb" | "json" => format!("'[]'::{t}"),
        "bytea" => "decode(md5(random()::text) || md5(random()::text), 'hex')".into(),
        "interval" => "interval '1 hour'".into(),
        "inet" | "cidr" => format!("'127.0.0.1'::{t}"),
        _ if t.starts_with("timestamp") || t == "date" || t.starts_with("time") => format!("now()::{t}"),
        _ => format!("'kith-audit-probe'::{t}"),
    }
}

/// Writes the tenant's row: as its user if the policies allow (`true`), else as the schema owner (`false`).
async fn write_row(
    tx: &Transaction<'_>,
    table: &Table,
    tenant: &mut Tenant,
    options: &Options,
) -> anyhow::Result<bool> {
    let sql = insert_sql(table, tenant, options, true);
    act_as(tx, Some(&tenant.user)).await?;
    let as_member = attempt(tx, &sql).await;
    act_as_owner(tx).await?;
    let (row, member) = match as_member {
        Ok(row) => (row, true),
        Err(_) => (attempt(tx, &sql).await?, false),
    };
    let (ctid, json): (String, Value) = (row.get(0), row.get(1));
    tenant.rows.insert(table.name.clone(), (ctid, json));
    Ok(member)
}

/// Runs one statement inside a savepoint, so its failure leaves the probe's transaction usable.
async fn attempt(tx: &Transaction<'_>, sql: &str) -> anyhow::Result<kith_db::tokio_postgres::Row> {
    tx.batch_execute("savepoint probe_step").await?;
    match tx.query_one(sql, &[]).await {
        Ok(row) => {
            tx.batch_execute("release savepoint probe_step").await?;
            Ok(row)
        }
        Err(err) => {
            tx.batch_execute("rollback to savepoint probe_step").await?;
            Err(anyhow::anyhow!(
                "{}",
                err.as_db_error()
                    .map_or_else(|| err.to_string(), |e| e.message().to_owned())
            ))
        }
    }
}

/// Rows a statement touched, or 0 when it was refused (a refusal is what isolation looks like).
async fn touched(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn kith_db::tokio_postgres::types::ToSql + Sync)],
) -> anyhow::Result<u64> {
    tx.batch_execute("savepoint probe_step").await?;
    match tx.execute(sql, params).await {
        Ok(n) => {
            tx.batch_execute("rollback to savepoint probe_step").await?;
            Ok(n)
        }
        Err(_) => {
            tx.batch_execute("rollback to savepoint probe_step").await?;
            Ok(0)
        }
    }
}

async fn cross_checks(
    tx: &Transaction<'_>,
    table: &Table,
    me: &Tenant,
    other: &Tenant,
    options: &Options,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<()> {
    let target = &table.name;
    let key = ident(&options.tenant_key);
    let breach = |what: &str| {
        finding(
            "probe_cross_tenant_access",
            Level::Error,
            table.name.clone(),
            format!("tenant {}'s member {what} tenant {}'s rows", me.label, other.label),
        )
    };
    act_as(tx, Some(&me.user)).await?;
    let visible = touched(
        tx,
        &format!("select 1 from {target} where {key}::text = $1"),
        &[&other.org],
    )
    .await?;
    if visible > 0 {
        findings.push(breach(&format!("sees {visible} of")));
    }
    if let Some((ctid, _)) = other.rows.get(&table.name) {
        let by_ctid = touched(
            tx,
            &format!("select 1 from {target} where ctid = $1::text::tid"),
            &[ctid],
        )
        .await?;
        if by_ctid > 0 && visible == 0 {
            findings.push(breach("sees one of"));
        }
    }
    let column = ident(table.updatable.as_deref().unwrap_or(&options.tenant_key));
    let updated = touched(
        tx,
        &format!("update {target} set {column} = {column} where {key}::text = $1"),
        &[&other.org],
    )
    .await?;
    if updated > 0 {
        findings.push(breach(&format!("updated {updated} of")));
    }
    let deleted = touched(
        tx,
        &format!("delete from {target} where {key}::text = $1"),
        &[&other.org],
    )
    .await?;
    if deleted > 0 {
        findings.push(breach(&format!("deleted {deleted} of")));
    }
    // A row for the other tenant, pointing at the other tenant's parents, written as me. Without RETURNING: a
    // policy that lets the write through but hides the row afterwards must not pass for isolation.
    let sql = insert_sql(table, other, options, false);
    let inserted = touched(tx, &sql, &[]).await?;
    if inserted > 0 {
        findings.push(breach("wrote a row among"));
    }
    act_as_owner(tx).await?;
    Ok(())
}

/// The tenant root itself: another tenant's organization is invisible and untouchable.
async fn root_checks(
    tx: &Transaction<'_>,
    me: &Tenant,
    other: &Tenant,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<()> {
    act_as(tx, Some(&me.user)).await?;
    let checks = [
        ("sees", "select 1 from public.organizations where id::text = $1"),
        (
            "renamed",
            "update public.organizations set name = name where id::text = $1",
        ),
        ("deleted", "delete from public.organizations where id::text = $1"),
    ];
    for (what, sql) in checks {
        if touched(tx, sql, &[&other.org]).await? > 0 {
            findings.push(finding(
                "probe_cross_tenant_access",
                Level::Error,
                "public.organizations".into(),
                format!(
                    "tenant {}'s member {what} tenant {}'s organization",
                    me.label, other.label
                ),
            ));
        }
    }
    act_as_owner(tx).await?;
    Ok(())
}

/// anon sees no tenant's rows.
async fn anon_checks(
    tx: &Transaction<'_>,
    tables: &[Table],
    tenants: &[Tenant],
    options: &Options,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<()> {
    let orgs: Vec<String> = tenants.iter().map(|t| t.org.clone()).collect();
    act_as(tx, None).await?;
    for table in tables {
        let sql = format!(
            "select 1 from {} where {}::text = any($1)",
            table.name,
            ident(&options.tenant_key)
        );
        let visible = touched(tx, &sql, &[&orgs]).await?;
        if visible > 0 {
            findings.push(finding(
                "probe_anon_reads_tenant_rows",
                Level::Error,
                table.name.clone(),
                format!("anon (the public API key alone) sees {visible} tenant rows"),
            ));
        }
    }
    act_as_owner(tx).await?;
    Ok(())
}
