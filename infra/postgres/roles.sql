-- Roles for a production PostgreSQL, run once by a superuser (the embedded default
-- runs the same statements itself). Then:
--   DATABASE_ADMIN_URL -> sportello_owner   (migrations, `sportello tenant apply`)
--   DATABASE_URL       -> sportello_app     (serving requests)
create role sportello_owner login nosuperuser nobypassrls password 'change-me-owner';
create role sportello_runtime nologin nosuperuser nobypassrls;
create role sportello_app login nosuperuser nobypassrls nocreatedb nocreaterole
    in role sportello_runtime password 'change-me-app';
create database sportello owner sportello_owner;
