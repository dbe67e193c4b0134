//! Issue 10 — what a hostile visitor, a slow network or a careless setting could
//! do to what had shipped. Each test here failed on the code before its fix.
//! One submodule per area; `docs/SECURITY.md` maps every defence to its test.

mod auth;
mod database;
mod jobs;
mod uploads;
mod web;
