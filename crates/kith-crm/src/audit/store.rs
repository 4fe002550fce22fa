//! The audit log's one statement: a page of an organization's entries, newest first.

use crate::context::OrgCtx;
use chrono::{DateTime, Utc};
use kith_db::CallerTx;
use kith_http::ApiResult;
use serde_json::{Value, json};
use uuid::Uuid;

/// The entries of `ctx`'s organization with an id below `before`, newest first, at most `limit`.
pub async fn page(tx: &mut CallerTx, ctx: &OrgCtx, before: i64, limit: i64) -> ApiResult<Vec<Value>> {
    let rows = tx
        .query(
            "select id, org_id, workspace_id, actor_id, table_name, row_id, action, changed_fields, at
             from public.audit_log where org_id = $1 and id < $2 order by id desc limit $3",
            &[&ctx.org_id, &before, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            json!({
                "id": row.get::<_, i64>("id"),
                "org_id": row.get::<_, Uuid>("org_id"),
                "workspace_id": row.get::<_, Option<Uuid>>("workspace_id"),
                "actor_id": row.get::<_, Option<Uuid>>("actor_id"),
                "table_name": row.get::<_, String>("table_name"),
                "row_id": row.get::<_, Option<Uuid>>("row_id"),
                "action": row.get::<_, String>("action"),
                "changed_fields": row.get::<_, Vec<String>>("changed_fields"),
                "at": row.get::<_, DateTime<Utc>>("at"),
            })
        })
        .collect())
}
