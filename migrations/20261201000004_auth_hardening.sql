-- Issue 10, symptoms 4 and 5: who may be sent a code, and who a staff member is.

-- Staff are the identity their ente's OpenID Connect provider asserted: issuer +
-- subject, never an e-mail a visitor typed. One binding per user; `email` is the
-- verified address the provider last asserted, the one `[[staff]]` roles follow
-- (a user's profile e-mail may change, their roles do not follow it).
create table staff_identities (
    tenant_id uuid not null references tenants (id) on delete cascade,
    issuer text not null check (length(issuer) between 1 and 2000),
    subject text not null check (length(subject) between 1 and 255),
    user_id uuid not null,
    email text not null,
    first_seen_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    primary key (tenant_id, issuer, subject),
    unique (tenant_id, user_id),
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);
select enable_tenant_isolation('staff_identities');
grant select, insert, update on staff_identities to sportello_runtime;

-- Every code sent (SMS or e-mail), kept so that limits per account, per
-- destination and per client address hold across nodes. Not tied to the user by
-- a foreign key: deleting an account (or an expired registration) must not give
-- its sender a fresh budget. Rows older than a day are of no use (see
-- `auth::otp::prune_send_log`).
create table otp_sends (
    tenant_id uuid not null references tenants (id) on delete cascade,
    id uuid not null,
    user_id uuid not null,
    purpose text not null,
    channel text not null check (channel in ('sms', 'email')),
    destination text not null,
    -- The client's address (IPv4) or its /64 (IPv6), as the rate limits key it.
    client_net inet,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id)
);
create index otp_sends_user on otp_sends (tenant_id, user_id, created_at);
create index otp_sends_destination on otp_sends (tenant_id, destination, created_at);
create index otp_sends_client on otp_sends (tenant_id, client_net, created_at);
select enable_tenant_isolation('otp_sends');
grant select, insert, delete on otp_sends to sportello_runtime;

-- SMS sent per ente and day (Europe/Rome), against `[auth].sms_daily_budget`.
-- `warned_at`: the 80 % warning of that day was given (once, across nodes).
create table sms_daily_usage (
    tenant_id uuid not null references tenants (id) on delete cascade,
    day date not null,
    sent integer not null check (sent >= 0),
    warned_at timestamptz,
    primary key (tenant_id, day)
);
select enable_tenant_isolation('sms_daily_usage');
-- Delete: the prune job forgets days older than a month.
grant select, insert, update, delete on sms_daily_usage to sportello_runtime;

-- Registrations that never completed are found (and expired) by age.
create index users_unverified on users (tenant_id, created_at)
    where password_hash is not null and (email_verified_at is null or mobile_verified_at is null);
