//! The one integration-test binary: the real application over HTTP against a
//! real PostgreSQL with row-level security.

mod helpers;

mod accessibility;
mod admin;
mod auth;
mod backoffice;
mod cases;
mod catalog;
mod deadlines;
mod demo;
mod demo_seed;
mod fascicolo;
mod hardening;
mod i18n;
mod isolation;
mod organisation;
mod platform;
mod registry;
mod tenancy;
mod tenant_export;
mod web;
