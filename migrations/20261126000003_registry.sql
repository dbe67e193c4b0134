-- Protocollo informatico (DPR 445/2000 art. 53, 57): one register per ente, numbers
-- gapless and restarting every year, entries never altered nor deleted.

create table registry_counters (
    tenant_id uuid not null references tenants (id) on delete restrict,
    year integer not null,
    last_number bigint not null check (last_number > 0),
    primary key (tenant_id, year)
);

create table registry_entries (
    tenant_id uuid not null references tenants (id) on delete restrict,
    year integer not null,
    number bigint not null check (number > 0),
    registered_at timestamptz not null default now(),
    direction text not null check (direction in ('incoming', 'outgoing', 'internal')),
    correspondent text not null check (length(correspondent) between 1 and 500),
    subject text not null check (length(subject) between 1 and 2000),
    document_sha256 text check (document_sha256 ~ '^[0-9a-f]{64}$'),
    case_id uuid,
    -- A cancellation is an annotation: the entry stays, marked.
    cancelled_at timestamptz,
    cancellation_reason text,
    primary key (tenant_id, year, number),
    check ((cancelled_at is null) = (cancellation_reason is null))
);

-- Nothing registered changes: only a one-time cancellation annotation is allowed.
create function registry_entries_immutable() returns trigger
    language plpgsql as $$
begin
    if tg_op in ('DELETE', 'TRUNCATE') then
        raise exception 'registry entries are never deleted' using errcode = 'P0001';
    end if;
    if (new.tenant_id, new.year, new.number, new.registered_at, new.direction, new.correspondent,
        new.subject, new.document_sha256, new.case_id)
       is distinct from
       (old.tenant_id, old.year, old.number, old.registered_at, old.direction, old.correspondent,
        old.subject, old.document_sha256, old.case_id) then
        raise exception 'registry entries are immutable' using errcode = 'P0001';
    end if;
    if old.cancelled_at is not null then
        raise exception 'a cancelled registry entry cannot change again' using errcode = 'P0001';
    end if;
    return new;
end $$;

create trigger registry_entries_immutable
    before update or delete on registry_entries
    for each row execute function registry_entries_immutable();

-- TRUNCATE bypasses row triggers: nobody but the owner may truncate, and the
-- runtime role gets no DELETE at all.
create trigger registry_entries_no_truncate
    before truncate on registry_entries
    for each statement execute function registry_entries_immutable();

do $$
declare t text;
begin
    foreach t in array array['registry_counters', 'registry_entries'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = app_current_tenant()) '
            'with check (tenant_id = app_current_tenant())', t);
    end loop;
end $$;
grant select, insert, update on registry_counters to sportello_runtime;
grant select, insert, update on registry_entries to sportello_runtime;
