-- Platform tables: read by the runtime role to resolve hosts, written only by the
-- owner role (onboarding). They hold no ente data beyond the public profile.
create table tenants (
    id uuid primary key,
    slug text not null unique check (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name text not null check (length(name) between 1 and 200),
    status text not null default 'active' check (status in ('active', 'suspended')),
    theme text not null default 'base',
    -- Public profile: branding, contacts, quick links (see tenancy::model::Profile).
    profile jsonb not null default '{}',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table tenant_domains (
    host text primary key check (host = lower(host) and length(host) <= 253),
    tenant_id uuid not null references tenants (id) on delete cascade,
    is_primary boolean not null default false,
    created_at timestamptz not null default now()
);
create unique index tenant_domains_one_primary on tenant_domains (tenant_id) where is_primary;

grant select on tenants, tenant_domains to sportello_runtime;

-- The tenant a transaction works for; NULL (no rows visible) when unset.
create function app_current_tenant() returns uuid
    language sql stable
    as $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;

-- Tenant tables. Every one: tenant_id first in the key, RLS enabled and forced.
create table tenant_assets (
    tenant_id uuid not null references tenants (id) on delete cascade,
    name text not null check (name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    content_type text not null,
    sha256 text not null,
    body bytea not null,
    updated_at timestamptz not null default now(),
    primary key (tenant_id, name)
);

create table offices (
    tenant_id uuid not null references tenants (id) on delete cascade,
    code text not null,
    name text not null,
    email text not null default '',
    phone text not null default '',
    address text not null default '',
    opening_hours text not null default '',
    primary key (tenant_id, code)
);

create table categories (
    tenant_id uuid not null references tenants (id) on delete cascade,
    slug text not null,
    name text not null,
    description text not null default '',
    position integer not null default 0,
    primary key (tenant_id, slug)
);

create table procedures (
    tenant_id uuid not null references tenants (id) on delete cascade,
    slug text not null,
    category_slug text not null,
    office_code text not null,
    title text not null,
    summary text not null,
    description text not null default '',
    audience text not null default '',
    how_to text not null default '',
    required_documents text[] not null default '{}',
    costs text not null default '',
    fees jsonb not null default '[]',
    officer text not null default '',
    time_limit_days integer not null check (time_limit_days > 0),
    calendar_text text not null default '',
    legal_basis text[] not null default '{}',
    outcome text not null default '',
    conditions text not null default '',
    contacts text not null default '',
    keywords text not null default '',
    online boolean not null default true,
    published boolean not null default true,
    position integer not null default 0,
    updated_at timestamptz not null default now(),
    search tsvector generated always as (
        setweight(to_tsvector('italian'::regconfig, title), 'A')
        || setweight(to_tsvector('italian'::regconfig, keywords), 'A')
        || setweight(to_tsvector('italian'::regconfig, summary), 'B')
        || setweight(to_tsvector('italian'::regconfig, description), 'C')
    ) stored,
    primary key (tenant_id, slug),
    foreign key (tenant_id, category_slug) references categories (tenant_id, slug),
    foreign key (tenant_id, office_code) references offices (tenant_id, code)
);
create index procedures_search on procedures using gin (search);
create index procedures_category on procedures (tenant_id, category_slug, position);

do $$
declare t text;
begin
    foreach t in array array['tenant_assets', 'offices', 'categories', 'procedures'] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy tenant_isolation on %I using (tenant_id = app_current_tenant()) '
            'with check (tenant_id = app_current_tenant())', t);
        execute format('grant select, insert, update, delete on %I to sportello_runtime', t);
    end loop;
end $$;
