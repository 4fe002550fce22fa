//! Supabase's default privileges for what apps create (migration 0091), and Kith's objects out of the names apps
//! use: an app's migrations run unchanged after Kith's.

use crate::StorageApp;

#[tokio::test]
async fn an_apps_functions_extensions_and_auth_trigger_work_as_on_supabase() {
    let s = StorageApp::spawn(1 << 20).await;
    // What Supabase apps' migrations do, run as the schema owner after `kith migrate`.
    s.owner_sql(
        "create extension if not exists pgcrypto with schema extensions;
         create table public.app_profiles (id uuid primary key, email_hash text);
         alter table public.app_profiles enable row level security;
         create policy own on public.app_profiles for select to authenticated using (id = (select auth.uid()));
         grant select on public.app_profiles to authenticated;
         create function public.handle_new_user() returns trigger language plpgsql security definer
           set search_path = '' as $$
           begin
             insert into public.app_profiles (id, email_hash)
             values (new.id, encode(extensions.digest(new.email, 'sha256'), 'hex'));
             return new;
           end $$;
         -- The name Supabase's docs give this trigger; Kith's own no longer takes it.
         create trigger on_auth_user_created after insert on auth.users
           for each row execute function public.handle_new_user();
         create function public.is_even(n int) returns boolean language sql immutable as $$ select n % 2 = 0 $$;
         create function public.hash_it(t text) returns text language sql stable
           as $$ select encode(extensions.digest(t, 'sha256'), 'hex') $$;",
    )
    .await;
    let user = s.app.create_user().await;
    let owner = s.app.connect_as("postgres").await;
    // Both triggers ran: the app's and Kith's (renamed) profile trigger.
    let rows = owner
        .query(
            "select (select count(*) from public.app_profiles where id = $1),
                    (select count(*) from public.profiles where id = $1)",
            &[&user.id],
        )
        .await
        .unwrap();
    assert_eq!((rows[0].get::<_, i64>(0), rows[0].get::<_, i64>(1)), (1, 1));

    // The app's functions and the extensions schema are usable by the API roles, as on Supabase.
    let mut tx = s
        .app
        .db
        .begin_as(&s.app.caller(&user.token), kith_db::Access::ReadOnly)
        .await
        .unwrap();
    // (A first statement that names nothing, so the next is prepared as the caller: the pool's login role
    // has no USAGE on `extensions`, which is the data API's business, not this test's.)
    tx.query("select 1", &[]).await.unwrap();
    let row = tx
        .query_one(
            "select public.is_even(4), public.hash_it('x') = encode(extensions.digest('x', 'sha256'), 'hex')",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
    let seen = tx.query("select id from public.app_profiles", &[]).await.unwrap();
    assert_eq!(seen.len(), 1);
    tx.commit().await.unwrap();

    // Kith's own schemas stay closed to them.
    let closed = owner
        .query_one(
            "select has_function_privilege('anon', 'private.accept_invitation(bytea)', 'execute'),
                    has_function_privilege('authenticated', 'private.kith_create_profile_for_user()', 'execute'),
                    exists (select 1 from pg_trigger where tgname = 'kith_on_auth_user_created')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            closed.get::<_, bool>(0),
            closed.get::<_, bool>(1),
            closed.get::<_, bool>(2)
        ),
        (false, false, true)
    );
}
