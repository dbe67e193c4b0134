-- Issue 15: the ente's staff and roles become the console's (docs/ORGANISATION.md).

-- A staff member's standing and how they sign in. `invited`: the admin invited
-- them and they have not yet signed in through their invitation; `deactivated`:
-- they can no longer sign in and their sessions are gone, everything they did
-- stays theirs. `sign_in` is the method the admin chose (null: any the ente
-- offers its staff, as for staff listed by the recipe). `origin`: who owns the
-- row — `recipe` rows follow `tenant apply`; a row the console created or
-- changed is the console's, and the recipe no longer touches it.
alter table staff_members
    add column status text not null default 'active' check (status in ('invited', 'active', 'deactivated')),
    add column sign_in text check (sign_in in ('provider', 'spid_cie', 'local')),
    add column origin text not null default 'recipe' check (origin in ('recipe', 'console')),
    add column changed_by text,
    add column changed_at timestamptz not null default now(),
    add constraint staff_members_spid_has_fiscal_code check (sign_in is distinct from 'spid_cie' or fiscal_code is not null);
grant insert, update on staff_members to sportello_runtime;

-- A rule the console wrote (a staff member's roles and offices, a role's
-- permissions in the matrix) is the console's: `tenant apply` keeps it.
alter table authz_rules add column origin text not null default 'recipe' check (origin in ('recipe', 'console'));

-- Deactivating someone ends their staff sessions: found by subject.
create index sessions_staff_subject on sessions (tenant_id, staff_subject) where staff_subject is not null;

-- Roles whose permissions the console's matrix owns: the ente's own roles, and
-- a built-in role once an admin changed it there (from then on the recipe's
-- `p` lines for that role are ignored).
create table staff_roles (
    tenant_id uuid not null references tenants (id) on delete cascade,
    key text not null check (key ~ '^[a-z][a-z0-9_-]{1,39}$'),
    -- The ente's own name for its role; a built-in role is named by the console.
    label text not null check (length(label) <= 80),
    built_in boolean not null default false,
    check (built_in or length(label) >= 1),
    created_by text not null check (length(created_by) between 1 and 500),
    created_at timestamptz not null default now(),
    primary key (tenant_id, key)
);
select enable_tenant_isolation('staff_roles');
grant select, insert, update on staff_roles to sportello_runtime;

-- An enrolment link (`staff_enrolments`) is also the invitation: the one-time,
-- 7-day link that lets an invited staff member in (a local account sets its
-- password and authenticator through it; the others sign in through it once).
