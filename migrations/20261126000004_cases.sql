-- The citizen's counter: cases (pratiche) from draft to submission, their events,
-- the documents of the case file (objects live in storage, metadata here), the
-- office's requests for integration, messages, assistance and delegations.

-- One line per new tenant table from now on: RLS enabled, forced, the one policy.
create function enable_tenant_isolation(t regclass) returns void
    language plpgsql as $$
begin
    execute format('alter table %s enable row level security', t);
    execute format('alter table %s force row level security', t);
    execute format(
        'create policy tenant_isolation on %s using (tenant_id = app_current_tenant()) '
        'with check (tenant_id = app_current_tenant())', t);
end $$;

-- The form a procedure asks for (null: the generic form).
alter table procedures add column form jsonb;

-- Somebody a citizen acts for: a company (VAT number) or another person
-- (fiscal code), with the title they act in. Recorded once, chosen per case.
create table delegations (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    user_id uuid not null,
    kind text not null check (kind in ('company', 'person')),
    represented_name text not null check (length(represented_name) between 1 and 300),
    represented_code text not null check (length(represented_code) between 11 and 16),
    capacity text not null check (length(capacity) between 1 and 200),
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create unique index delegations_one_active on delegations (tenant_id, user_id, kind, represented_code)
    where revoked_at is null;

create table cases (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    -- What the citizen and the office quote: short, unique per ente.
    reference text not null,
    user_id uuid not null,
    delegation_id uuid,
    procedure_slug text not null,
    -- Snapshot at start: the case keeps the form and terms it was started with.
    procedure_title text not null,
    office_code text not null,
    form jsonb not null,
    time_limit_days integer not null check (time_limit_days > 0),
    answers jsonb not null default '{}'::jsonb,
    -- Index of the step the citizen reached (0-based), for "continue".
    step integer not null default 0,
    status text not null default 'draft'
        check (status in ('draft', 'submitted', 'awaiting_integration', 'in_progress', 'accepted', 'rejected', 'closed')),
    registry_year integer,
    registry_number bigint,
    submitted_at timestamptz,
    due_date date,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    unique (tenant_id, reference),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete restrict,
    foreign key (tenant_id, delegation_id) references delegations (tenant_id, id),
    foreign key (tenant_id, procedure_slug) references procedures (tenant_id, slug),
    foreign key (tenant_id, registry_year, registry_number) references registry_entries (tenant_id, year, number),
    check ((status = 'draft') = (submitted_at is null)),
    check ((status = 'draft') = (registry_number is null))
);
-- A submitted case is a public record: never deleted, its registration never changed.
create function cases_guard() returns trigger
    language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        if old.status <> 'draft' then
            raise exception 'submitted cases are never deleted' using errcode = 'P0001';
        end if;
        return old;
    end if;
    if old.registry_number is not null and (new.registry_year, new.registry_number, new.submitted_at, new.reference,
        new.user_id, new.procedure_slug) is distinct from (old.registry_year, old.registry_number,
        old.submitted_at, old.reference, old.user_id, old.procedure_slug) then
        raise exception 'the registration of a case is immutable' using errcode = 'P0001';
    end if;
    return new;
end $$;
create trigger cases_guard before update or delete on cases
    for each row execute function cases_guard();

create index cases_of_user on cases (tenant_id, user_id, updated_at desc);

-- Requests of the office for more documents or information; answered once.
create table integration_requests (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    case_id uuid not null,
    reason text not null check (length(reason) between 1 and 5000),
    due_date date,
    requested_by text not null,
    requested_at timestamptz not null default now(),
    answered_at timestamptz,
    answer text,
    answer_registry_year integer,
    answer_registry_number bigint,
    primary key (tenant_id, id),
    foreign key (tenant_id, case_id) references cases (tenant_id, id),
    foreign key (tenant_id, answer_registry_year, answer_registry_number)
        references registry_entries (tenant_id, year, number),
    check ((answered_at is null) = (answer_registry_number is null))
);
create index integration_requests_of_case on integration_requests (tenant_id, case_id, requested_at);

-- Requests for help: technical (to the platform) or administrative (to the
-- ente's office), about a case or general. Messages form their thread.
create table assistance_requests (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    user_id uuid not null,
    kind text not null check (kind in ('technical', 'administrative')),
    case_id uuid,
    subject text not null check (length(subject) between 1 and 200),
    status text not null default 'open' check (status in ('open', 'closed')),
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade,
    foreign key (tenant_id, case_id) references cases (tenant_id, id)
);

-- Messages of a case or of an assistance request, in both directions.
create table messages (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    case_id uuid,
    assistance_id uuid,
    -- Who wrote: the citizen, the ente's office, or the platform's support.
    sender text not null check (sender in ('citizen', 'office', 'platform')),
    author_name text not null,
    body text not null check (length(body) between 1 and 10000),
    created_at timestamptz not null default now(),
    -- Read by the other side: the citizen for office/platform messages, the office otherwise.
    read_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, case_id) references cases (tenant_id, id),
    foreign key (tenant_id, assistance_id) references assistance_requests (tenant_id, id) on delete cascade,
    check ((case_id is null) <> (assistance_id is null))
);
create index messages_of_case on messages (tenant_id, case_id, created_at);
create index messages_of_assistance on messages (tenant_id, assistance_id, created_at);

-- The documents of a case file. The bytes live in storage under their SHA-256;
-- this row is their metadata. A registered document is never removed.
create table case_documents (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    case_id uuid not null,
    -- The form field it answers (uploads), if any.
    field_key text,
    origin text not null check (origin in ('upload', 'submission', 'receipt', 'integration', 'message', 'office')),
    name text not null check (length(name) between 1 and 255),
    format text not null,
    mime text not null,
    size bigint not null check (size >= 0),
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    integration_id uuid,
    message_id uuid,
    registry_year integer,
    registry_number bigint,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, case_id) references cases (tenant_id, id),
    foreign key (tenant_id, integration_id) references integration_requests (tenant_id, id),
    foreign key (tenant_id, message_id) references messages (tenant_id, id),
    foreign key (tenant_id, registry_year, registry_number) references registry_entries (tenant_id, year, number)
);
create index case_documents_of_case on case_documents (tenant_id, case_id, created_at);
create index case_documents_by_hash on case_documents (tenant_id, sha256);

-- Registered documents stay as they are; only draft attachments may be removed,
-- and registering one is the only change allowed.
create function case_documents_guard() returns trigger
    language plpgsql as $$
begin
    if old.registry_number is not null then
        raise exception 'registered case documents are immutable' using errcode = 'P0001';
    end if;
    if tg_op = 'UPDATE' and (new.tenant_id, new.id, new.case_id, new.sha256, new.size, new.name, new.origin)
        is distinct from (old.tenant_id, old.id, old.case_id, old.sha256, old.size, old.name, old.origin) then
        raise exception 'case documents are immutable' using errcode = 'P0001';
    end if;
    return case when tg_op = 'DELETE' then old else new end;
end $$;
create trigger case_documents_guard before update or delete on case_documents
    for each row execute function case_documents_guard();

-- The timeline: append-only.
create table case_events (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id bigint generated always as identity,
    case_id uuid not null,
    at timestamptz not null default clock_timestamp(),
    kind text not null,
    actor text not null check (actor in ('citizen', 'office', 'system')),
    summary text not null,
    data jsonb not null default '{}'::jsonb,
    primary key (tenant_id, id),
    foreign key (tenant_id, case_id) references cases (tenant_id, id) on delete cascade
);
create index case_events_of_case on case_events (tenant_id, case_id, id);

create function case_events_append_only() returns trigger
    language plpgsql as $$
begin
    raise exception 'case events are append-only' using errcode = 'P0001';
end $$;
create trigger case_events_append_only before update on case_events
    for each row execute function case_events_append_only();

select enable_tenant_isolation(t)
from unnest(array['delegations', 'cases', 'integration_requests', 'assistance_requests', 'messages',
                  'case_documents', 'case_events']::regclass[]) as t;

grant select, insert, update on delegations, cases, integration_requests, assistance_requests, messages
    to sportello_runtime;
-- Drafts (and their events and attachments) can be thrown away; the triggers
-- and the checks keep anything submitted.
grant delete on cases, case_documents, case_events to sportello_runtime;
grant select, insert, update on case_documents to sportello_runtime;
grant select, insert on case_events to sportello_runtime;
