-- Issue 10, symptom 10: what the runtime role may do.

-- 1. The timeline is append-only for the runtime role too: it loses DELETE on
-- case events. A discarded draft still takes its events with it, through the
-- foreign key's cascade (referential actions run as the table's owner), and the
-- trigger below refuses any other deletion — the owner's included — while the
-- case exists.
revoke delete on case_events from sportello_runtime;

create function case_events_only_with_their_case() returns trigger
    language plpgsql as $$
begin
    if exists (select 1 from cases where tenant_id = old.tenant_id and id = old.case_id) then
        raise exception 'case events are append-only' using errcode = 'P0001';
    end if;
    return old;
end $$;
create trigger case_events_only_with_their_case before delete on case_events
    for each row execute function case_events_only_with_their_case();

-- 2. Identities (the fiscal codes proven by SPID, CIE or a card) were one
-- platform table the runtime role could read whole: every citizen of every
-- ente. Each ente now keeps its own identity rows, under row-level security
-- like every other table with a person's data. The ids are kept, so users
-- keep pointing at the same identity; one shared by two enti becomes two rows.
create table identities_of_tenant (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    fiscal_code text not null check (fiscal_code ~ '^[A-Z0-9]{11,16}$'),
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    unique (tenant_id, fiscal_code)
);
insert into identities_of_tenant (tenant_id, id, fiscal_code, created_at)
select distinct u.tenant_id, i.id, i.fiscal_code, i.created_at
from users u join identities i on i.id = u.identity_id;

alter table users drop constraint users_identity_id_fkey;
drop table identities;
alter table identities_of_tenant rename to identities;
alter index identities_of_tenant_pkey rename to identities_pkey;
alter index identities_of_tenant_tenant_id_fiscal_code_key rename to identities_tenant_id_fiscal_code_key;
alter table users add constraint users_identity_fkey
    foreign key (tenant_id, identity_id) references identities (tenant_id, id);

select enable_tenant_isolation('identities');
grant select, insert on identities to sportello_runtime;
