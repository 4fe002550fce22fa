-- The Storage API's metadata, with Supabase Storage's schema, tables, columns and helper functions, so an app's
-- storage policies (`storage.foldername(name)[1] = auth.uid()::text`, …) apply as written.
--
-- Every object operation runs in the caller's transaction, so row-level security on storage.objects decides it.
-- The bytes live on disk, one file per object version (`version`), never under a caller-chosen path.
create schema storage;
revoke all on schema storage from public;
grant usage on schema storage to anon, authenticated, service_role;

-- A bucket id is also its name. The characters are Supabase's; `.` and `..` alone are refused.
create function storage.kith_is_valid_bucket_id(value text) returns boolean
language sql immutable set search_path = '' as $$
  select value is not null
     and char_length(value) between 1 and 100
     and value ~ '^[A-Za-z0-9_!.*''() &$@=;:+,?-]+$'
     and value not in ('.', '..')
$$;

-- An object name: 1–1024 bytes, segments separated by single slashes, no empty, `.` or `..` segment, no leading
-- or trailing slash, no control character and no backslash (a path on some systems).
create function storage.kith_is_valid_object_name(value text) returns boolean
language sql immutable set search_path = '' as $$
  select value is not null
     and octet_length(value) between 1 and 1024
     and value !~ '[[:cntrl:]\\]'
     and value !~ '(^|/)\.{1,2}(/|$)'
     and value !~ '(^/|/$|//)'
$$;

-- Allowed MIME types: at most 100 entries such as `image/png` or `image/*`.
create function storage.kith_are_valid_mime_types(value text[]) returns boolean
language sql immutable set search_path = '' as $$
  select value is null
      or (pg_catalog.cardinality(value) <= 100
          and pg_catalog.array_position(value, null) is null
          and not exists (select 1 from pg_catalog.unnest(value) t
                          where t !~ '^[A-Za-z0-9!#$&^_.+-]+/([A-Za-z0-9!#$&^_.+-]+|\*)$'))
$$;

create table storage.buckets (
  id text primary key check (storage.kith_is_valid_bucket_id(id)),
  name text not null check (name = id),
  owner uuid,
  owner_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  public boolean not null default false,
  avif_autodetection boolean not null default false,
  file_size_limit bigint check (file_size_limit is null or file_size_limit > 0),
  allowed_mime_types text[] check (storage.kith_are_valid_mime_types(allowed_mime_types)),
  type text not null default 'STANDARD' check (type = 'STANDARD')
);
create unique index bname on storage.buckets (name);

create table storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text not null references storage.buckets (id),
  name text not null check (storage.kith_is_valid_object_name(name)),
  owner uuid,
  owner_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_accessed_at timestamptz not null default now(),
  metadata jsonb not null check (jsonb_typeof(metadata) = 'object'
    and jsonb_typeof(metadata -> 'size') = 'number' and (metadata ->> 'size')::numeric >= 0
    and jsonb_typeof(metadata -> 'mimetype') = 'string'),
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  -- The file on disk; a new version for every upload, so a download never sees a half-written file.
  version text not null check (version ~ '^[0-9a-f]{32}$'),
  user_metadata jsonb check (user_metadata is null or jsonb_typeof(user_metadata) = 'object')
);
create unique index bucketid_objname on storage.objects (bucket_id, name);
create index name_prefix_search on storage.objects (bucket_id, name text_pattern_ops);

alter table storage.buckets enable row level security;
alter table storage.buckets force row level security;
alter table storage.objects enable row level security;
alter table storage.objects force row level security;

-- Supabase grants the API roles every privilege on the storage tables and lets policies decide. Kith grants
-- the four statements a request can make; with no policy, anon and authenticated can do nothing.
grant select, insert, update, delete on storage.buckets, storage.objects to anon, authenticated, service_role;

-- Public buckets are downloadable by anyone who knows an object's name (Supabase reads them as its superuser).
-- Kith reads them as the caller, so these two policies let any caller read a public bucket's rows, but only in
-- a request to the public download route, whose path Kith sets in `request.path`; listing still needs a policy.
create policy kith_public_bucket_downloads on storage.buckets for select to anon, authenticated
  using (public and current_setting('request.path', true) like '/storage/v1/object/public/%');
create policy kith_public_object_downloads on storage.objects for select to anon, authenticated
  using (current_setting('request.path', true) like '/storage/v1/object/public/%'
         and exists (select 1 from storage.buckets b where b.id = bucket_id and b.public));

-- Supabase's helpers for policies: `storage.foldername('a/b/c.png')` = {a,b}, `filename` = c.png, `extension` = png.
create function storage.foldername(name text) returns text[]
language sql immutable set search_path = '' as $$
  select (pg_catalog.string_to_array(name, '/'))[1:pg_catalog.cardinality(pg_catalog.string_to_array(name, '/')) - 1]
$$;
create function storage.filename(name text) returns text
language sql immutable set search_path = '' as $$
  select (pg_catalog.string_to_array(name, '/'))[pg_catalog.cardinality(pg_catalog.string_to_array(name, '/'))]
$$;
create function storage.extension(name text) returns text
language sql immutable set search_path = '' as $$
  select case when storage.filename(name) like '%.%'
              then pg_catalog.lower(pg_catalog.reverse(pg_catalog.split_part(pg_catalog.reverse(storage.filename(name)), '.', 1)))
              else '' end
$$;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text),
  storage.kith_is_valid_bucket_id(text), storage.kith_is_valid_object_name(text),
  storage.kith_are_valid_mime_types(text[])
  to anon, authenticated, service_role;

-- The bucket's size limit and allowed MIME types are rules on stored values: checked here, whoever writes.
-- Security definer because the writer may not be allowed to read the bucket's row.
create function storage.kith_check_object_limits() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  bucket record;
  media_type text;
begin
  select b.file_size_limit, b.allowed_mime_types into bucket from storage.buckets b where b.id = new.bucket_id;
  if not found then
    return new; -- the foreign key answers this one
  end if;
  if bucket.file_size_limit is not null and (new.metadata ->> 'size')::numeric > bucket.file_size_limit then
    raise exception 'The object exceeded the maximum allowed size' using errcode = 'KS413';
  end if;
  media_type := pg_catalog.lower(pg_catalog.btrim(pg_catalog.split_part(new.metadata ->> 'mimetype', ';', 1)));
  if bucket.allowed_mime_types is not null and pg_catalog.cardinality(bucket.allowed_mime_types) > 0
     and not exists (
       select 1 from pg_catalog.unnest(bucket.allowed_mime_types) allowed
       where pg_catalog.lower(allowed) = media_type
          or (allowed like '%/*' and pg_catalog.starts_with(media_type, pg_catalog.lower(pg_catalog.rtrim(allowed, '*')))))
  then
    raise exception 'mime type % is not supported', media_type using errcode = 'KS415';
  end if;
  return new;
end
$$;
create trigger kith_check_object_limits before insert or update on storage.objects
  for each row execute function storage.kith_check_object_limits();

create function storage.kith_touch_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;
create trigger kith_touch_updated_at before update on storage.buckets
  for each row execute function storage.kith_touch_updated_at();
create trigger kith_touch_updated_at before update on storage.objects
  for each row execute function storage.kith_touch_updated_at();
grant execute on function storage.kith_check_object_limits(), storage.kith_touch_updated_at()
  to anon, authenticated, service_role;
