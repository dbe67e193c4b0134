-- Issue 12: local staff accounts for enti with no identity provider: e-mail,
-- password (argon2id) and a TOTP authenticator (RFC 6238), ten single-use
-- recovery codes, and the one-time enrolment link that creates them.

-- The account of a staff member listed in the recipe (`staff_members`): gone
-- with them when the recipe drops them.
create table staff_accounts (
    tenant_id uuid not null references tenants (id) on delete cascade,
    email text not null,
    user_id uuid not null,
    password_hash text not null,
    totp_secret bytea not null check (length(totp_secret) >= 16),
    -- The 30-second step of the last code accepted: a code is good once.
    last_totp_step bigint not null default 0,
    -- Consecutive wrong sign-ins; at five the account waits `locked_until`.
    failed_attempts integer not null default 0,
    locked_until timestamptz,
    enrolled_at timestamptz not null default now(),
    last_sign_in_at timestamptz,
    primary key (tenant_id, email),
    foreign key (tenant_id, email) references staff_members (tenant_id, email) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

create table staff_recovery_codes (
    tenant_id uuid not null,
    email text not null,
    -- SHA-256 of the code: a leaked table does not leak codes.
    code_hash bytea not null,
    used_at timestamptz,
    primary key (tenant_id, email, code_hash),
    foreign key (tenant_id, email) references staff_accounts (tenant_id, email) on delete cascade
);

-- A one-time enrolment link (7 days): whoever holds it sets the password and
-- the authenticator of that staff member's account.
create table staff_enrolments (
    tenant_id uuid not null,
    token_hash bytea not null,
    email text not null,
    -- Made when the link is first opened, so the QR code stays the same until
    -- the enrolment is confirmed.
    pending_secret bytea,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz,
    primary key (tenant_id, token_hash),
    foreign key (tenant_id, email) references staff_members (tenant_id, email) on delete cascade
);

select enable_tenant_isolation(t)
from unnest(array['staff_accounts', 'staff_recovery_codes', 'staff_enrolments']::regclass[]) as t;
grant select, insert, update on staff_accounts to sportello_runtime;
grant select, insert, update, delete on staff_recovery_codes to sportello_runtime;
grant select, insert, update on staff_enrolments to sportello_runtime;
