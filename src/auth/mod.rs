//! Sign-in and access: the methods (SPID/CIE, CRS card, password + SMS OTP,
//! password, staff OIDC), sessions, CSRF, rate limits and per-ente authorization.

pub mod account;
pub mod authz;
pub mod crs;
pub mod csrf;
pub mod login;
pub mod oidc;
pub mod otp;
pub mod password;
pub mod ratelimit;
pub mod recovery;
pub mod registration;
pub mod saml;
pub mod session;
pub mod settings;
pub mod spid;
pub mod users;

use serde::{Deserialize, Serialize};

/// Level of assurance of a sign-in (SPID L1–L3 and their equivalents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "i16", try_from = "i16")]
pub enum Level {
    L1 = 1,
    L2 = 2,
    L3 = 3,
}

impl From<Level> for i16 {
    fn from(l: Level) -> i16 {
        l as i16
    }
}

impl TryFrom<i16> for Level {
    type Error = String;
    fn try_from(v: i16) -> Result<Self, String> {
        match v {
            1 => Ok(Self::L1),
            2 => Ok(Self::L2),
            3 => Ok(Self::L3),
            _ => Err(format!("level {v} out of range")),
        }
    }
}

/// How a session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Spid,
    Cie,
    Crs,
    PasswordOtp,
    Password,
    Oidc,
}

impl Method {
    pub const ALL: [Method; 6] = [Self::Spid, Self::Cie, Self::Crs, Self::PasswordOtp, Self::Password, Self::Oidc];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spid => "spid",
            Self::Cie => "cie",
            Self::Crs => "crs",
            Self::PasswordOtp => "password_otp",
            Self::Password => "password",
            Self::Oidc => "oidc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The highest level a sign-in with this method can reach (SPID and CIE
    /// report theirs per sign-in, up to L3).
    pub fn max_level(self) -> Level {
        match self {
            Self::Spid | Self::Cie => Level::L3,
            // A smart card with its PIN: two factors, one of them hardware.
            Self::Crs => Level::L2,
            Self::PasswordOtp | Self::Oidc => Level::L2,
            Self::Password => Level::L1,
        }
    }
}
