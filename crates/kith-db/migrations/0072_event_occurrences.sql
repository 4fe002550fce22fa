-- One occurrence of a repeating event can be changed or cancelled without touching the rest of the series, as
-- RFC 5545 does: a cancelled occurrence's start goes into the series' `exdates` (EXDATE); a changed one becomes
-- an event of its own that names its series and the start it replaces (`series_id`, `recurrence_id`:
-- RECURRENCE-ID), and is listed instead of that occurrence. The rules live here because the data API writes
-- the same table.
alter table public.calendar_events
  add column series_id uuid,
  add column recurrence_id timestamptz,
  add column exdates timestamptz[] not null default '{}',
  add constraint calendar_events_series_fkey foreign key (series_id, workspace_id)
    references public.calendar_events (id, workspace_id) on delete cascade,
  add constraint calendar_events_occurrence_names_both check ((series_id is null) = (recurrence_id is null)),
  add constraint calendar_events_occurrence_does_not_repeat check (series_id is null or rrule is null),
  add constraint calendar_events_recurrence_id_range check (private.is_plausible_time(recurrence_id)),
  add constraint calendar_events_exdates_bounded check (cardinality(exdates) <= 1000),
  add constraint calendar_events_exdates_need_a_rule check (cardinality(exdates) = 0 or rrule is not null),
  -- Also the index that finds a series' changed occurrences.
  add constraint calendar_events_occurrence_once unique (series_id, recurrence_id);

-- An occurrence belongs to a series that repeats, and is not itself an occurrence. Invoker's rights: whoever may
-- insert into the workspace sees its events.
create function private.check_event_series() returns trigger
language plpgsql set search_path = '' as $$
begin
  if not exists (select 1 from public.calendar_events s
                  where s.id = new.series_id and s.workspace_id = new.workspace_id
                    and s.rrule is not null and s.series_id is null) then
    raise exception 'series_id must name a repeating event of the same workspace'
      using errcode = '23514', constraint = 'calendar_events_series_repeats';
  end if;
  return new;
end
$$;
grant execute on function private.check_event_series() to authenticated, service_role;
create trigger calendar_events_series_repeats before insert on public.calendar_events
  for each row when (new.series_id is not null) execute function private.check_event_series();

-- When a series' occurrences move (its start, rule, zone or all-day flag change), the exceptions named
-- occurrences that may no longer exist: they go, and the series is whole again.
create function private.reset_series_exceptions() returns trigger
language plpgsql set search_path = '' as $$
begin
  if tg_when = 'BEFORE' then
    new.exdates := '{}';
    return new;
  end if;
  delete from public.calendar_events o where o.series_id = new.id and o.workspace_id = new.workspace_id;
  return null;
end
$$;
grant execute on function private.reset_series_exceptions() to authenticated, service_role;
create trigger calendar_events_reset_exdates before update on public.calendar_events
  for each row when ((new.starts_at, new.rrule, new.timezone, new.all_day)
                     is distinct from (old.starts_at, old.rrule, old.timezone, old.all_day))
  execute function private.reset_series_exceptions();
create trigger calendar_events_reset_occurrences after update on public.calendar_events
  for each row when ((new.starts_at, new.rrule, new.timezone, new.all_day)
                     is distinct from (old.starts_at, old.rrule, old.timezone, old.all_day)
                     and old.rrule is not null)
  execute function private.reset_series_exceptions();

-- A series' exdates change in place; which series an occurrence belongs to, and which start it replaces, never do.
grant update (exdates) on public.calendar_events to authenticated;
