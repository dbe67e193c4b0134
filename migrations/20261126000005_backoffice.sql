-- The back office: workflows on procedures and cases, assignment, internal
-- notes, tasks for other offices (internal opinions), the clock effect of each
-- integration request, and API tokens for the ente's own systems.

-- The workflow a procedure runs (null: the platform's standard workflow).
alter table procedures add column workflow jsonb;

-- A case keeps the workflow it was started with (the procedure may change),
-- its current status in it and since when, and who is working on it.
alter table cases add column workflow jsonb;
alter table cases add column state text;
alter table cases add column state_since timestamptz;
alter table cases add column assignee_id uuid;
alter table cases add foreign key (tenant_id, assignee_id) references users (tenant_id, id);
alter table cases add constraint cases_state_when_submitted check ((status = 'draft') = (state is null));

-- The inbox: an office's open cases by deadline; search by registry number.
create index cases_inbox on cases (tenant_id, office_code, due_date, submitted_at) where status <> 'draft';
create index cases_by_registry on cases (tenant_id, registry_number) where registry_number is not null;
create index cases_by_assignee on cases (tenant_id, assignee_id) where assignee_id is not null;
create index users_by_family_name on users (tenant_id, lower(family_name) text_pattern_ops);
create index users_by_fiscal_code on users (tenant_id, fiscal_code) where fiscal_code is not null;

-- Whether the request suspended or interrupted the legal clock (the procedure's
-- rule at the time of the request).
alter table integration_requests add column clock_effect text not null default 'suspend'
    check (clock_effect in ('suspend', 'interrupt'));

-- Notes of the office on a case: never shown to the citizen.
create table case_notes (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    case_id uuid not null,
    author_id uuid not null,
    body text not null check (length(body) between 1 and 5000),
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, case_id) references cases (tenant_id, id),
    foreign key (tenant_id, author_id) references users (tenant_id, id)
);
create index case_notes_of_case on case_notes (tenant_id, case_id, created_at);

-- Work asked of an office on a case: an internal opinion, or a task a
-- workflow creates on entering a status. Its office may read the case.
create table case_tasks (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    case_id uuid not null,
    office_code text not null,
    kind text not null check (kind in ('opinion', 'task')),
    question text not null check (length(question) between 1 and 5000),
    requested_by text not null,
    requested_at timestamptz not null default now(),
    answer text check (length(answer) <= 5000),
    answered_by text,
    answered_at timestamptz,
    primary key (tenant_id, id),
    foreign key (tenant_id, case_id) references cases (tenant_id, id),
    foreign key (tenant_id, office_code) references offices (tenant_id, code),
    check ((answered_at is null) = (answer is null))
);
create index case_tasks_open on case_tasks (tenant_id, office_code, case_id) where answered_at is null;
create index case_tasks_of_case on case_tasks (tenant_id, case_id);

-- Tokens of the ente's own systems: a role (as staff roles), the offices it
-- works for, scopes; only the SHA-256 of the secret is kept.
create table api_tokens (
    tenant_id uuid not null references tenants (id) on delete restrict,
    id uuid not null,
    name text not null check (length(name) between 1 and 200),
    secret_sha256 bytea not null unique,
    role text not null,
    -- The offices it works for; empty: those the role's policy allows.
    offices text[] not null default '{}',
    scopes text[] not null check (scopes <@ array['cases:read', 'cases:transition', 'cases:message', 'cases:document']),
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz,
    primary key (tenant_id, id),
    unique (tenant_id, name)
);

select enable_tenant_isolation(t)
from unnest(array['case_notes', 'case_tasks', 'api_tokens']::regclass[]) as t;

grant select, insert on case_notes to sportello_runtime;
grant select, insert, update on case_tasks to sportello_runtime;
grant select, update (last_used_at) on api_tokens to sportello_runtime;
