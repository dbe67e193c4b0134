-- Issue 14: the ente admin console. A procedure has one draft and a history of
-- published revisions (docs/ADMIN.md). `procedures` stays what the public
-- pages and a new case read: the catalogue placement (category, order,
-- published, archived) plus the content of its current revision.

-- The revision a procedure's columns hold (0: not yet published through a
-- revision — a procedure created in the console, or one applied before this
-- migration, until its next apply).
alter table procedures add column revision integer not null default 0 check (revision >= 0);
-- Archived: out of the catalogue and of the console's list, kept for its cases.
alter table procedures add column archived boolean not null default false;
alter table procedures add constraint procedures_archived_unpublished check (not (archived and published));

-- The revision a case was started on (a draft may move to a later one).
alter table cases add column revision integer not null default 0 check (revision >= 0);

-- Published revisions: immutable, numbered 1, 2, 3 … per procedure.
create table procedure_revisions (
    tenant_id uuid not null references tenants (id) on delete restrict,
    procedure_slug text not null,
    number integer not null check (number > 0),
    -- `procedure::revision::ProcedureContent` as JSON.
    content jsonb not null,
    -- `procedure::revision::Change` list against the revision before.
    changes jsonb not null default '[]'::jsonb,
    published_at timestamptz not null default clock_timestamp(),
    published_by text not null check (length(published_by) between 1 and 500),
    published_by_id uuid,
    primary key (tenant_id, procedure_slug, number),
    foreign key (tenant_id, procedure_slug) references procedures (tenant_id, slug)
);
create trigger procedure_revisions_immutable
    before update or delete on procedure_revisions
    for each row execute function audit_append_only();
create trigger procedure_revisions_no_truncate
    before truncate on procedure_revisions
    for each statement execute function audit_append_only();

-- The one draft of a procedure, while someone is editing it (none: the draft
-- is the published content). `version` is the optimistic lock: a save names
-- the version it was made from, and a save from an older one is refused.
create table procedure_drafts (
    tenant_id uuid not null references tenants (id) on delete restrict,
    procedure_slug text not null,
    content jsonb not null,
    version integer not null check (version > 0),
    -- The revision the draft was started from (0: none yet).
    base_revision integer not null check (base_revision >= 0),
    updated_at timestamptz not null default clock_timestamp(),
    updated_by text not null check (length(updated_by) between 1 and 500),
    updated_by_id uuid,
    primary key (tenant_id, procedure_slug),
    foreign key (tenant_id, procedure_slug) references procedures (tenant_id, slug)
);

select enable_tenant_isolation('procedure_revisions');
select enable_tenant_isolation('procedure_drafts');
grant select, insert on procedure_revisions to sportello_runtime;
grant select, insert, update, delete on procedure_drafts to sportello_runtime;

-- Drafts to move when a revision is published.
create index cases_open_drafts on cases (tenant_id, procedure_slug, revision) where status = 'draft';
