-- Background jobs. The queue itself is the `underway` crate's schema (its own
-- migrations, run by `db::migrate` right after these, as the owner role): it is
-- platform-level, every job's payload carries its tenant and the handler opens a
-- TenantTx. What is ours is the idempotency key: one row per (tenant, kind, key),
-- written in the same transaction as the job, so the same key enqueued twice
-- runs once, even after the job itself is long gone from the queue.
create table job_keys (
    tenant_id uuid not null references tenants (id) on delete cascade,
    kind text not null check (length(kind) between 1 and 100),
    key text not null check (length(key) between 1 and 300),
    -- The underway task that carries it (set right after, in the same transaction).
    task_id uuid,
    created_at timestamptz not null default now(),
    primary key (tenant_id, kind, key)
);
select enable_tenant_isolation('job_keys');
-- Update: `enqueue` records the task id right after inserting the key.
grant select, insert, update on job_keys to sportello_runtime;
