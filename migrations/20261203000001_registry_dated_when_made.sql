-- Issue 12 review: the registry is dated by the clock, never by the caller.
-- A registration number is assigned in time order (DPR 445/2000 art. 53: the
-- date of registration is part of the entry), so an entry must carry the
-- moment it is made and never precede the entry before it. The one exception
-- is an ente marked `demo` — only `sportello demo seed` (development pages on)
-- sets it, through the owner role: the runtime role cannot update tenants —
-- whose demo cases replay a plausible past.

alter table tenants add column demo boolean not null default false;

alter table registry_entries alter column registered_at set default clock_timestamp();

create function registry_entries_dated_when_made() returns trigger
    language plpgsql as $$
declare
    previous timestamptz;
begin
    if exists (select from tenants where id = new.tenant_id and demo) then
        return new;
    end if;
    if new.registered_at < clock_timestamp() - interval '5 seconds'
       or new.registered_at > clock_timestamp() + interval '5 seconds' then
        raise exception 'registry entries are dated when they are made (got %)', new.registered_at
            using errcode = 'P0001';
    end if;
    -- The counter row is locked by this transaction: no other entry of the
    -- year can come between this read and the insert.
    select registered_at into previous from registry_entries
     where tenant_id = new.tenant_id and year = new.year
     order by number desc limit 1;
    if previous is not null and new.registered_at < previous then
        raise exception 'registry entry % of % would be dated before the entry before it', new.number, new.year
            using errcode = 'P0001';
    end if;
    return new;
end $$;

create trigger registry_entries_dated_when_made
    before insert on registry_entries
    for each row execute function registry_entries_dated_when_made();
