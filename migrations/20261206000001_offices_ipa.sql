-- Issue 15: the ente's offices (UO) as a tree, synchronised with IPA, the
-- Indice dei domicili digitali della PA (docs/ORGANISATION.md).

-- An office's place in the tree and what IPA says of it. `ipa_code` is IPA's
-- Codice_uni_uo, the key a sync matches on (null: an office of the ente's own,
-- unknown to IPA). `opening_hours` and `notes` are the ente's own: a sync never
-- touches them. A closed office keeps its history and its cases; it can no
-- longer be chosen for a procedure.
alter table offices
    add column parent_code text,
    add column head text not null default '',
    add column pec text not null default '',
    add column notes text not null default '',
    add column ipa_code text check (ipa_code is null or ipa_code ~ '^[A-Za-z0-9_-]{1,40}$'),
    add column ipa_updated text not null default '',
    add column closed_at timestamptz,
    add constraint offices_parent foreign key (tenant_id, parent_code) references offices (tenant_id, code)
        deferrable initially deferred,
    add constraint offices_not_own_parent check (parent_code is distinct from code);
create unique index offices_ipa_code on offices (tenant_id, ipa_code) where ipa_code is not null;

-- Every synchronisation run: who, from what (an upload or the address the
-- platform fetches daily), the file's digest and what it changed, or why the
-- file was refused (`refusal`: the message, as `i18n::Text` JSON). Appended only.
create table office_syncs (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    at timestamptz not null default clock_timestamp(),
    actor_label text not null check (length(actor_label) between 1 and 500),
    source text not null check (source in ('upload', 'url')),
    file_sha256 text not null check (file_sha256 ~ '^[0-9a-f]{64}$'),
    rows_read integer not null check (rows_read >= 0),
    added integer not null check (added >= 0),
    changed integer not null check (changed >= 0),
    closed integer not null check (closed >= 0),
    refusal jsonb,
    primary key (tenant_id, id)
);
create trigger office_syncs_append_only before update or delete on office_syncs
    for each row execute function audit_append_only();

-- What was read of a file uploaded for a sync (the ente's rows as JSON, never the
-- national file), kept between its preview and its application
-- (the admin applies what they saw), then removed.
create table office_sync_uploads (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    created_at timestamptz not null default clock_timestamp(),
    created_by text not null check (length(created_by) between 1 and 500),
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    body bytea not null check (length(body) between 1 and 67108864),
    primary key (tenant_id, id)
);

select enable_tenant_isolation('office_syncs');
select enable_tenant_isolation('office_sync_uploads');
grant select, insert on office_syncs to sportello_runtime;
grant select, insert, delete on office_sync_uploads to sportello_runtime;
