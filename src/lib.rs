//! Sportello: one deployment, every ente's portal. See README.md and docs/.

pub mod admin;
#[cfg(test)]
mod architecture;
pub mod audit;
pub mod auth;
pub mod backoffice;
pub mod cases;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod fascicolo;
pub mod i18n;
pub mod input;
pub mod jobs;
pub mod notify;
pub mod onboarding;
pub mod organisation;
pub mod pdf;
pub mod platform;
pub mod portal;
pub mod procedure;
pub mod registry;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tenancy;
pub mod time;
pub mod users;
pub mod web;
