-- Audit trail (docs/AUDIT.md): every operator and system action, append-only and
-- hash-chained per ente. The hash is computed by the application (src/audit), so
-- the database only keeps the shape honest: gapless positive seq, 32-byte hashes,
-- no UPDATE or DELETE.

create table audit_log (
    tenant_id uuid not null references tenants (id) on delete restrict,
    -- 1, 2, 3 ... per ente, no gaps: appends of one ente are serialised.
    seq bigint not null check (seq > 0),
    -- Set by the application inside the appending transaction (it is hashed).
    at timestamptz not null,
    actor_kind text not null check (actor_kind in ('staff', 'citizen', 'system', 'api')),
    actor_id uuid,
    actor_label text not null check (length(actor_label) <= 500),
    action text not null check (length(action) between 1 and 200),
    object_type text not null check (length(object_type) between 1 and 200),
    object_id text not null check (length(object_id) <= 500),
    before jsonb,
    after jsonb,
    -- SHA-256 of the previous entry (32 zero bytes for seq 1) and of this one.
    prev_hash bytea not null check (length(prev_hash) = 32),
    hash bytea not null check (length(hash) = 32),
    primary key (tenant_id, seq)
);
-- An object's history, for the back office.
create index audit_log_object on audit_log (tenant_id, object_type, object_id, seq);

-- The chain head of each ente at the end of a day: what gets published (and,
-- with the trust-services work, timestamped by an RFC 3161 authority), so that a
-- rewrite of the whole chain from some entry on is detectable too.
create table audit_digests (
    tenant_id uuid not null references tenants (id) on delete restrict,
    day date not null,
    last_seq bigint not null check (last_seq > 0),
    head_hash bytea not null check (length(head_hash) = 32),
    created_at timestamptz not null default now(),
    primary key (tenant_id, day)
);

-- Append-only, for every role. The owner can still disable the trigger
-- (`alter table audit_log disable trigger audit_log_append_only`): that is an
-- attacker with owner credentials, and the hash chain is what catches them.
create function audit_append_only() returns trigger
    language plpgsql as $$
begin
    raise exception '% is append-only', tg_table_name using errcode = 'P0001';
end $$;

create trigger audit_log_append_only
    before update or delete on audit_log
    for each row execute function audit_append_only();
-- TRUNCATE bypasses row triggers.
create trigger audit_log_no_truncate
    before truncate on audit_log
    for each statement execute function audit_append_only();
create trigger audit_digests_append_only
    before update or delete on audit_digests
    for each row execute function audit_append_only();
create trigger audit_digests_no_truncate
    before truncate on audit_digests
    for each statement execute function audit_append_only();

select enable_tenant_isolation('audit_log');
select enable_tenant_isolation('audit_digests');

-- The runtime role reads and appends; it never updates nor deletes.
grant select, insert on audit_log, audit_digests to sportello_runtime;
