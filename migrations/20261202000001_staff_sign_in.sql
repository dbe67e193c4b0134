-- Issue 12: staff sign in through SPID or CIE (matched by fiscal code), and a
-- session knows whether it is a staff session.

-- The ente's staff as its recipe lists them: the e-mail their roles follow
-- (`staff:<email>` in authz_rules) and, for SPID/CIE sign-in, their fiscal code.
create table staff_members (
    tenant_id uuid not null references tenants (id) on delete cascade,
    email text not null check (length(email) between 3 and 254),
    fiscal_code text check (fiscal_code ~ '^[A-Z0-9]{16}$'),
    primary key (tenant_id, email),
    unique (tenant_id, fiscal_code)
);
select enable_tenant_isolation('staff_members');
grant select on staff_members to sportello_runtime;

-- The authorization subject a staff session acts as (`staff:<email>`). Null for
-- every citizen session: a citizen session never carries staff roles, whoever
-- the person is.
alter table sessions add column staff_subject text;
