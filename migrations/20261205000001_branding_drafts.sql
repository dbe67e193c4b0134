-- Issue 14: the branding section of the admin console (docs/ADMIN.md,
-- "Branding"). An ente's admin edits a draft of its look (theme, primary
-- colour, home texts, quick links, pending logo and banner), previews the home
-- page with it and publishes it.

-- The one branding draft of an ente, while someone is editing it (none: the
-- published profile is the draft). `content` is `admin::branding::draft::
-- BrandingContent` as JSON; `version` is the optimistic lock, as for
-- procedure drafts: a save names the version it was made from.
create table branding_drafts (
    tenant_id uuid not null references tenants (id) on delete cascade,
    content jsonb not null,
    version integer not null check (version > 0),
    updated_at timestamptz not null default clock_timestamp(),
    updated_by text not null check (length(updated_by) between 1 and 500),
    updated_by_id uuid,
    primary key (tenant_id)
);

-- A logo or banner uploaded with the draft, already checked (format from the
-- content, SVG without script or external references); it reaches
-- `tenant_assets` when the draft is published, and goes with the draft.
create table branding_draft_images (
    tenant_id uuid not null references branding_drafts (tenant_id) on delete cascade,
    kind text not null check (kind in ('logo', 'banner')),
    content_type text not null check (content_type in ('image/png', 'image/jpeg', 'image/svg+xml')),
    sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    body bytea not null check (length(body) between 1 and 2097152),
    primary key (tenant_id, kind)
);

select enable_tenant_isolation('branding_drafts');
select enable_tenant_isolation('branding_draft_images');
grant select, insert, update, delete on branding_drafts, branding_draft_images to sportello_runtime;

-- Publishing changes the ente's row of `tenants`, which the runtime role may
-- only read. This function, owned by the owner role, changes the row of the
-- ente in scope (`app.tenant_id`) and nothing else, and of that row only what
-- the branding section edits: the theme and, inside the profile, the tagline,
-- the quick links and the branding object. Contacts, languages, codes, sign-in
-- settings and status stay the owner's (onboarding's).
create function publish_tenant_branding(new_theme text, new_tagline text, new_quick_links jsonb, new_branding jsonb)
    returns void
    language plpgsql volatile security definer
    set search_path = pg_catalog, pg_temp
as $$
declare
    tenant uuid := public.app_current_tenant();
begin
    if tenant is null then
        raise exception 'publish_tenant_branding: no ente in scope (app.tenant_id)';
    end if;
    if new_theme !~ '^[a-z0-9][a-z0-9_-]{0,63}$' then
        raise exception 'publish_tenant_branding: not a theme name: %', new_theme;
    end if;
    if jsonb_typeof(new_quick_links) <> 'array' or jsonb_typeof(new_branding) <> 'object' then
        raise exception 'publish_tenant_branding: quick links must be an array and branding an object';
    end if;
    update public.tenants
    set theme = new_theme,
        profile = profile || jsonb_build_object('tagline', new_tagline, 'quick_links', new_quick_links,
                                                'branding', new_branding),
        updated_at = now()
    where id = tenant;
    if not found then
        raise exception 'publish_tenant_branding: no ente %', tenant;
    end if;
end $$;
revoke all on function publish_tenant_branding(text, text, jsonb, jsonb) from public;
grant execute on function publish_tenant_branding(text, text, jsonb, jsonb) to sportello_runtime;
