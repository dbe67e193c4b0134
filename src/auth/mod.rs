//! Sign-in and access: the methods (SPID/CIE, CRS card, password + SMS OTP,
//! password; for staff: the ente's OIDC provider, SPID/CIE by fiscal code, local
//! accounts with an authenticator), sessions, CSRF, rate limits and per-ente
//! authorization.

pub mod account;
pub mod authz;
pub mod crs;
pub mod csrf;
pub mod dev_idp;
pub mod login;
pub mod oidc;
pub mod otp;
pub mod page;
pub mod password;
pub mod prune;
pub mod ratelimit;
pub mod recovery;
pub mod registration;
pub mod saml;
pub mod session;
pub mod spid;
pub mod staff_access;
pub mod staff_local;
pub mod store;
pub mod totp;
