-- Every rule a stored value must keep lives in the database, because /rest/v1 writes the same tables as /api.
-- The /api input code keeps its friendlier messages; these constraints are the guarantee. Each is named
-- <table>_<column>_<rule> so a violation can be reported against its field.
--
-- Constraints are added NOT VALID (new and changed rows are checked at once) and then validated; a database
-- whose older rows break a rule keeps working, with a warning, until those rows are fixed.

-- No control characters (Unicode Cc) other than tab and line breaks when `multiline`.
create function private.is_clean_text(value text, multiline boolean default false) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select value is null or case
    when multiline then value !~ '[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]'
    else value !~ '[\u0001-\u001f\u007f-\u009f]'
  end
$$;

-- The auth service's email syntax: one @, a dotted domain without empty labels, no whitespace, control
-- characters or the separators that would let an address carry a second value (<>,;").
create function private.is_email(value text) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select value is null or (
    char_length(value) <= 255
    and value ~ '^[^@]+@[^@]+$'
    and pg_catalog.split_part(value, '@', 2) ~ '^[^.]+(\.[^.]+)+$'
    and value !~ '[[:space:]<>,;"\u0001-\u001f\u007f-\u009f]'
  )
$$;

-- A time zone name PostgreSQL knows, in the shape of an IANA name (not a POSIX rule such as 'UTC+3').
create function private.is_time_zone(value text) returns boolean
language plpgsql immutable parallel safe set search_path = '' as $$
begin
  if value is null then
    return true;
  end if;
  if char_length(value) > 64 or value !~ '^[A-Za-z][A-Za-z0-9_-]*(/[A-Za-z0-9_+-]+)*$' then
    return false;
  end if;
  perform pg_catalog.timezone(value, '2000-01-01 00:00:00+00'::timestamptz);
  return true;
exception when others then
  return false;
end
$$;

-- A phone number as /api accepts it: at least one digit; digits, spaces and + - ( ) . x /.
create function private.is_phone(value text) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select value is null or (char_length(value) <= 50 and value ~ '[0-9]' and value ~ '^[0-9 +().x/-]+$')
$$;

-- Contact tags: at most 50, each 1–50 characters, lower case, single line, no duplicates.
create function private.are_valid_tags(tags text[]) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select tags is null or (
    pg_catalog.cardinality(tags) <= 50
    and pg_catalog.array_ndims(tags) is not distinct from case when pg_catalog.cardinality(tags) = 0 then null else 1 end
    and not exists (
      select 1 from pg_catalog.unnest(tags) t
      where t is null or pg_catalog.char_length(pg_catalog.btrim(t)) = 0 or pg_catalog.char_length(t) > 50
         or t <> pg_catalog.lower(t) or not private.is_clean_text(t))
    and (select count(distinct t) from pg_catalog.unnest(tags) t) = pg_catalog.cardinality(tags)
  )
$$;

-- Event attendees: an array of at most 100 objects {email, name?, status?} with distinct lower-case addresses.
create function private.are_valid_attendees(attendees jsonb) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select attendees is null or (
    pg_catalog.jsonb_typeof(attendees) = 'array'
    and pg_catalog.jsonb_array_length(attendees) <= 100
    and not exists (
      select 1 from pg_catalog.jsonb_array_elements(attendees) a
      where pg_catalog.jsonb_typeof(a) <> 'object'
         or pg_catalog.jsonb_typeof(a -> 'email') is distinct from 'string'
         or not private.is_email(a ->> 'email')
         or (a ->> 'email') <> pg_catalog.lower(a ->> 'email')
         or pg_catalog.jsonb_typeof(a -> 'name') not in ('string', 'null')
         or pg_catalog.char_length(a ->> 'name') > 200
         or not private.is_clean_text(a ->> 'name')
         or pg_catalog.jsonb_typeof(a -> 'status') not in ('string')
         or (a ->> 'status') not in ('needs_action', 'accepted', 'declined', 'tentative')
         or exists (select 1 from pg_catalog.jsonb_object_keys(a) k where k not in ('email', 'name', 'status')))
    and (select count(distinct a ->> 'email') from pg_catalog.jsonb_array_elements(attendees) a)
        = pg_catalog.jsonb_array_length(attendees)
  )
$$;

-- An RRULE value (RFC 5545 §3.3.10) within Kith's bounds: HOURLY or coarser, no BYSECOND, COUNT ≤ 10000,
-- INTERVAL ≤ 1000, COUNT and UNTIL not both, each part once. The same bounds as the Rust parser, whose
-- expansion cost they keep small.
create function private.is_valid_rrule(value text) returns boolean
language plpgsql immutable parallel safe set search_path = '' as $$
declare
  rule text;
  part text;
  item text;
  name text;
  val text;
  seen text[] := '{}';
  n bigint;
begin
  if value is null then
    return true;
  end if;
  if char_length(value) > 500 or value !~ '^[A-Za-z0-9=;,:+-]+$' then
    return false;
  end if;
  rule := pg_catalog.upper(value);
  if rule like 'RRULE:%' then
    rule := pg_catalog.substr(rule, 7);
  end if;
  if rule like '%:%' or rule = '' then
    return false;
  end if;
  foreach part in array pg_catalog.string_to_array(rule, ';') loop
    if part !~ '^[A-Z]+=[A-Z0-9,+-]+$' then
      return false;
    end if;
    name := pg_catalog.split_part(part, '=', 1);
    val := pg_catalog.split_part(part, '=', 2);
    if name = any (seen) then
      return false;
    end if;
    seen := seen || name;
    case name
      when 'FREQ' then
        if val not in ('HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY') then return false; end if;
      when 'INTERVAL' then
        if val !~ '^[0-9]{1,4}$' or val::int not between 1 and 1000 then return false; end if;
      when 'COUNT' then
        if val !~ '^[0-9]{1,5}$' or val::int not between 1 and 10000 then return false; end if;
      when 'UNTIL' then
        if val !~ '^[0-9]{8}(T[0-9]{6}Z?)?$' then return false; end if;
      when 'WKST' then
        if val !~ '^(MO|TU|WE|TH|FR|SA|SU)$' then return false; end if;
      when 'BYDAY' then
        if val !~ '^([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU)(,([+-]?[0-9]{1,2})?(MO|TU|WE|TH|FR|SA|SU))*$' then
          return false;
        end if;
      when 'BYMINUTE', 'BYHOUR', 'BYMONTHDAY', 'BYYEARDAY', 'BYWEEKNO', 'BYMONTH', 'BYSETPOS' then
        if val !~ '^[+-]?[0-9]{1,3}(,[+-]?[0-9]{1,3})*$' then
          return false;
        end if;
        foreach item in array pg_catalog.string_to_array(val, ',') loop
          n := item::bigint;
          if not (case name
            when 'BYMINUTE' then n between 0 and 59 and item !~ '^[+-]'
            when 'BYHOUR' then n between 0 and 23 and item !~ '^[+-]'
            when 'BYMONTH' then n between 1 and 12 and item !~ '^[+-]'
            when 'BYMONTHDAY' then pg_catalog.abs(n) between 1 and 31
            when 'BYWEEKNO' then pg_catalog.abs(n) between 1 and 53
            else pg_catalog.abs(n) between 1 and 366
          end) then
            return false;
          end if;
        end loop;
      else
        return false; -- BYSECOND and anything unknown
    end case;
  end loop;
  return 'FREQ' = any (seen) and not ('COUNT' = any (seen) and 'UNTIL' = any (seen));
end
$$;

-- The years /api accepts, and so the only ones stored: 1900 to 2200 (UTC).
create function private.is_plausible_time(value timestamptz) returns boolean
language sql immutable parallel safe set search_path = '' as $$
  select value is null or (value >= '1900-01-01 00:00:00+00' and value < '2201-01-01 00:00:00+00')
$$;

-- Checks run with the privileges of whoever writes the row, so every API role may call these pure functions.
grant execute on function private.is_clean_text(text, boolean), private.is_email(text), private.is_time_zone(text),
  private.is_phone(text), private.are_valid_tags(text[]), private.are_valid_attendees(jsonb),
  private.is_valid_rrule(text), private.is_plausible_time(timestamptz)
  to anon, authenticated, service_role;

alter table public.contacts
  add constraint contacts_first_name_text check (private.is_clean_text(first_name) and btrim(first_name) <> '') not valid,
  add constraint contacts_last_name_text check (private.is_clean_text(last_name) and btrim(last_name) <> '') not valid,
  add constraint contacts_email_format check (private.is_email(email)) not valid,
  add constraint contacts_phone_format check (private.is_phone(phone)) not valid,
  add constraint contacts_company_text check (private.is_clean_text(company) and btrim(company) <> '') not valid,
  add constraint contacts_job_title_text check (private.is_clean_text(job_title) and btrim(job_title) <> '') not valid,
  add constraint contacts_tags_format check (private.are_valid_tags(tags)) not valid,
  add constraint contacts_name_or_email_required
    check (first_name is not null or last_name is not null or email is not null) not valid,
  add constraint contacts_score_reasons_shape check (jsonb_typeof(score_reasons) = 'array') not valid,
  add constraint contacts_last_interaction_at_range check (private.is_plausible_time(last_interaction_at)) not valid;

alter table public.interactions
  add constraint interactions_occurred_at_range check (private.is_plausible_time(occurred_at)) not valid,
  add constraint interactions_summary_text check (private.is_clean_text(summary, true)) not valid;

alter table public.calendar_events
  add constraint calendar_events_title_text check (private.is_clean_text(title)) not valid,
  add constraint calendar_events_description_text check (private.is_clean_text(description, true)) not valid,
  add constraint calendar_events_location_text check (private.is_clean_text(location)) not valid,
  add constraint calendar_events_timezone_name check (private.is_time_zone(timezone)) not valid,
  add constraint calendar_events_starts_at_range check (private.is_plausible_time(starts_at)) not valid,
  add constraint calendar_events_ends_at_range
    check (private.is_plausible_time(ends_at) and ends_at <= starts_at + interval '366 days') not valid,
  add constraint calendar_events_attendees_shape check (private.are_valid_attendees(attendees)) not valid,
  add constraint calendar_events_rrule_format check (private.is_valid_rrule(rrule)) not valid,
  add constraint calendar_events_sequence_range check (sequence >= 0) not valid;

alter table public.profiles
  add constraint profiles_full_name_text check (private.is_clean_text(full_name)) not valid,
  add constraint profiles_timezone_name check (private.is_time_zone(timezone)) not valid,
  add constraint profiles_avatar_url_format
    check (avatar_url ~ '^https?://[^[:space:]/?#]+([/?#][^[:space:]]*)?$' and private.is_clean_text(avatar_url)) not valid;

alter table public.organizations
  add constraint organizations_name_text check (private.is_clean_text(name)) not valid;
alter table public.workspaces
  add constraint workspaces_name_text check (private.is_clean_text(name)) not valid;
alter table public.invitations
  add constraint invitations_email_format check (private.is_email(email)) not valid;

do $$
declare
  c record;
begin
  for c in
    select conrelid::regclass as tbl, conname from pg_catalog.pg_constraint
    where not convalidated and connamespace = 'public'::regnamespace and contype = 'c'
  loop
    begin
      execute format('alter table %s validate constraint %I', c.tbl, c.conname);
    exception when check_violation then
      raise warning 'constraint % on % does not hold for some existing rows: new and changed rows are checked, '
                    'older ones are left as they are until fixed', c.conname, c.tbl;
    end;
  end loop;
end
$$;
