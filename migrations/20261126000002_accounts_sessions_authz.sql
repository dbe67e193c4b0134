-- One identity per person (fiscal code), proven by SPID, CIE or a CRS/CNS card.
-- Platform table: holds nothing but the code; each ente links it to its own user.
create table identities (
    id uuid primary key,
    fiscal_code text not null unique check (fiscal_code ~ '^[A-Z0-9]{11,16}$'),
    created_at timestamptz not null default now()
);
grant select, insert on identities to sportello_runtime;

-- Sign-in settings of each ente (methods, IdPs, corporate OIDC issuer...): public
-- facts, resolved with the tenant. Secrets live in tenant_secrets.
alter table tenants add column auth jsonb not null default '{}';

-- Credentials of an ente towards others (the corporate IdP's client secret...):
-- never rendered, never logged.
create table tenant_secrets (
    tenant_id uuid not null references tenants (id) on delete cascade,
    name text not null,
    value text not null,
    updated_at timestamptz not null default now(),
    primary key (tenant_id, name)
);

create table users (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    -- Set only by a method that proves the fiscal code (SPID, CIE, CRS).
    identity_id uuid references identities (id),
    fiscal_code text,
    given_name text not null default '',
    family_name text not null default '',
    email text,
    email_verified_at timestamptz,
    mobile text,
    mobile_verified_at timestamptz,
    password_hash text,
    password_changed_at timestamptz,
    is_staff boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (tenant_id, id),
    unique (tenant_id, identity_id)
);
create unique index users_email on users (tenant_id, lower(email)) where email is not null;

create table sessions (
    tenant_id uuid not null references tenants (id) on delete cascade,
    -- SHA-256 of the cookie value: a leaked table does not leak sessions.
    token_hash bytea not null,
    user_id uuid not null,
    method text not null,
    level smallint not null check (level between 1 and 3),
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null,
    ip inet,
    user_agent text not null default '',
    primary key (tenant_id, token_hash),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
create index sessions_user on sessions (tenant_id, user_id);

-- State kept between the steps of a sign-in (OTP, SAML, OIDC, registration).
create table login_flows (
    tenant_id uuid not null references tenants (id) on delete cascade,
    token_hash bytea not null,
    kind text not null,
    user_id uuid,
    data jsonb not null default '{}',
    expires_at timestamptz not null,
    primary key (tenant_id, token_hash)
);

create table otp_codes (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    user_id uuid not null,
    purpose text not null check (purpose in ('login', 'verify_mobile', 'verify_email', 'password_reset')),
    destination text not null,
    code_hash text not null,
    attempts integer not null default 0,
    max_attempts integer not null default 5,
    expires_at timestamptz not null,
    consumed_at timestamptz,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

-- Messages leaving the system; written in the transaction that causes them.
create table sms_outbox (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    recipient text not null,
    body text not null,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    provider_ref text,
    last_error text,
    primary key (tenant_id, id)
);

create table mail_outbox (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    recipient text not null,
    subject text not null,
    body text not null,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    last_error text,
    primary key (tenant_id, id)
);

-- SAML assertions already used: a response can be accepted once.
create table saml_replay (
    tenant_id uuid not null references tenants (id) on delete cascade,
    assertion_id text not null,
    expires_at timestamptz not null,
    primary key (tenant_id, assertion_id)
);

-- Casbin rules of each ente (ptype p = policy, g = role assignment).
create table authz_rules (
    tenant_id uuid not null references tenants (id) on delete cascade,
    ptype text not null check (ptype in ('p', 'g')),
    v0 text not null,
    v1 text not null,
    v2 text not null default '',
    v3 text not null default '',
    primary key (tenant_id, ptype, v0, v1, v2, v3)
);

do $$
declare t text;
begin
    foreach t in array array['tenant_secrets', 'users', 'sessions', 'login_flows', 'otp_codes',
                             'sms_outbox', 'mail_outbox', 'saml_replay', 'authz_rules'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = app_current_tenant()) '
            'with check (tenant_id = app_current_tenant())', t);
        execute format('grant select, insert, update, delete on %I to sportello_runtime', t);
    end loop;
end $$;

-- The lowest level of assurance a procedure accepts to be started (1 = SPID L1).
alter table procedures add column min_level smallint not null default 1 check (min_level between 1 and 3);
