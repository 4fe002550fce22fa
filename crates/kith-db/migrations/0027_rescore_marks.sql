-- Scores are stored on contacts and recomputed by /api in the same transaction as any change. A write through the
-- data API skips that code, so it marks the contact instead (scored_at = null) and the background re-score picks
-- it up within a minute. Invoker's rights: whoever may write an interaction may update its contact's scores.
create function private.mark_contact_for_rescore() returns trigger
language plpgsql set search_path = '' as $$
begin
  if tg_table_name = 'interactions' then
    update public.contacts c set scored_at = null
     where c.id = coalesce(new.contact_id, old.contact_id)
       and c.workspace_id = coalesce(new.workspace_id, old.workspace_id)
       and c.scored_at is not null;
    return null;
  end if;
  if (new.first_name, new.last_name, new.email, new.phone, new.company, new.job_title, new.status)
       is distinct from (old.first_name, old.last_name, old.email, old.phone, old.company, old.job_title, old.status)
     and new.scored_at is not distinct from old.scored_at then
    new.scored_at := null;
  end if;
  return new;
end
$$;
grant execute on function private.mark_contact_for_rescore() to authenticated, service_role;

create trigger interactions_mark_contact_for_rescore after insert or update or delete on public.interactions
  for each row execute function private.mark_contact_for_rescore();
create trigger contacts_mark_for_rescore before update on public.contacts
  for each row execute function private.mark_contact_for_rescore();

-- The background re-score's query: never-scored contacts first, then the oldest scores.
create index contacts_rescore_due_idx on public.contacts (scored_at nulls first);
