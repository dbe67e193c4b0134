-- Issue 16: the platform operators, who sign in at admin.<base-domain> with a
-- local account (password and an authenticator app). Not tenant data: no
-- tenant_id, no row-level security; nothing here reaches an ente's cases,
-- messages or documents (those stay behind RLS, which no operator role passes).

create table platform_operators (
    email text primary key check (length(email) between 3 and 254),
    role text not null check (role in ('platform-admin', 'platform-support')),
    given_name text not null default '',
    family_name text not null default '',
    -- Set by the enrolment: until then the operator cannot sign in.
    password_hash text,
    totp_secret bytea check (totp_secret is null or length(totp_secret) >= 16),
    -- The 30-second step of the last code accepted: a code is good once.
    last_totp_step bigint not null default 0,
    failed_attempts integer not null default 0,
    locked_until timestamptz,
    created_at timestamptz not null default now(),
    enrolled_at timestamptz,
    last_sign_in_at timestamptz
);

-- A one-time enrolment link (7 days), printed by `sportello platform admin create`.
create table platform_enrolments (
    token_hash bytea primary key,
    email text not null references platform_operators (email) on delete cascade,
    -- Made when the link is first opened, so the QR code stays the same.
    pending_secret bytea,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);

-- A platform operator's session: its own table and cookie, so it never opens
-- an ente's pages (an ente's sessions are tenant rows under RLS).
create table platform_sessions (
    token_hash bytea primary key,
    email text not null references platform_operators (email) on delete cascade,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null
);

-- Row-level security all the same, the other way round: visible only to a
-- transaction that works for no ente, so no code path scoped to an ente (every
-- request of an ente's host) can read or change an operator's account.
do $$
declare t text;
begin
    foreach t in array array['platform_operators', 'platform_enrolments', 'platform_sessions'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy platform_only on %I using (app_current_tenant() is null) '
            'with check (app_current_tenant() is null)', t);
    end loop;
end $$;

grant select, insert, update on platform_operators, platform_enrolments to sportello_runtime;
grant select, insert, update, delete on platform_sessions to sportello_runtime;

-- Suspension from the console: the reason is shown on the ente's pages. The
-- runtime role reads `tenants` but never writes it; this one function, run as
-- its owner, is all the console may change there (status and reason).
alter table tenants add column suspension_reason text not null default '' check (length(suspension_reason) <= 500);

create function platform_set_tenant_status(p_slug text, p_status text, p_reason text) returns uuid
    language plpgsql security definer set search_path = public, pg_temp as $$
declare
    v_id uuid;
begin
    update tenants
    set status = p_status,
        suspension_reason = case when p_status = 'suspended' then coalesce(p_reason, '') else '' end,
        updated_at = now()
    where slug = p_slug
    returning id into v_id;
    return v_id;
end $$;
revoke all on function platform_set_tenant_status(text, text, text) from public;
grant execute on function platform_set_tenant_status(text, text, text) to sportello_runtime;
