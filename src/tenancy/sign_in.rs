//! How people sign in to an ente, as plain data: the levels of assurance, the
//! methods, and what each ente enables (`[auth]` in tenant.toml), resolved with
//! the tenant. Secrets are not here: see `tenant_secrets`. The sign-in flows
//! themselves are in `crate::auth`.

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
    /// A local staff account: e-mail, password and an authenticator app's code.
    Local,
}

impl Method {
    pub const ALL: [Method; 7] =
        [Self::Spid, Self::Cie, Self::Crs, Self::PasswordOtp, Self::Password, Self::Oidc, Self::Local];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Spid => "spid",
            Self::Cie => "cie",
            Self::Crs => "crs",
            Self::PasswordOtp => "password_otp",
            Self::Password => "password",
            Self::Oidc => "oidc",
            Self::Local => "local",
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
            // Something known and something held (the authenticator).
            Self::PasswordOtp | Self::Oidc | Self::Local => Level::L2,
            Self::Password => Level::L1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Sign-in methods offered to citizens, in the order shown.
    pub methods: Vec<Method>,
    /// Sender name of the ente's SMS (max 11 characters for alphanumeric senders).
    pub sms_sender: String,
    /// Staff sign-in through the ente's own identity provider.
    pub oidc: Option<OidcSettings>,
    /// SAML service provider (SPID, CIE).
    pub saml: SamlSettings,
    /// SMS the ente may send per day (Europe/Rome), codes of every kind; a
    /// warning is logged once 80 % is used. Over it, no code goes by SMS.
    pub sms_daily_budget: u32,
    /// International prefixes SMS may go to (`"+39"`, `"+378"`…): numbers
    /// elsewhere are refused before anything is sent.
    pub sms_country_codes: Vec<String>,
    /// How staff sign in besides the ente's OpenID Connect provider.
    pub staff: StaffSignIn,
}

/// `[auth.staff]`: the staff sign-in page (`/backoffice/accesso`) offers the
/// ente's OpenID Connect provider when there is one, then these methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaffSignIn {
    /// `spid` and `cie`: a staff member listed with their fiscal code signs in
    /// with their own digital identity; `local`: an account of this platform
    /// (e-mail, password and a code from an authenticator app), for enti with no
    /// identity provider.
    pub methods: Vec<Method>,
    /// The lowest level a staff session may have (SPID/CIE report theirs).
    pub min_level: Level,
}

impl Default for StaffSignIn {
    fn default() -> Self {
        Self { methods: Vec::new(), min_level: Level::L2 }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamlSettings {
    /// The entity id registered with AgID; default: this host's metadata URL.
    pub entity_id: Option<String>,
    /// PEM files of the signing key and certificate, read when the recipe is
    /// applied. Absent: a key and a self-signed certificate in the SPID profile
    /// are generated once and kept in `tenant_secrets`.
    pub key_file: Option<std::path::PathBuf>,
    pub cert_file: Option<std::path::PathBuf>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            methods: vec![Method::PasswordOtp, Method::Password],
            // The SMS sender id (a name of at most 11 characters, like the
            // ente's own), not a sentence: every recipe may set its own.
            sms_sender: "Comune".into(), // i18n: data
            oidc: None,
            saml: SamlSettings::default(),
            sms_daily_budget: DEFAULT_SMS_DAILY_BUDGET,
            sms_country_codes: vec!["+39".into()],
            staff: StaffSignIn::default(),
        }
    }
}

pub const DEFAULT_SMS_DAILY_BUDGET: u32 = 1000;

impl AuthSettings {
    pub fn enabled(&self, method: Method) -> bool {
        match method {
            Method::Oidc => self.oidc.is_some(),
            m => self.methods.contains(&m),
        }
    }

    /// Whether staff may sign in with `method` (SPID/CIE matched by fiscal code).
    pub fn staff_may_use(&self, method: Method) -> bool {
        match method {
            Method::Oidc => self.oidc.is_some(),
            m => self.staff.methods.contains(&m),
        }
    }

    /// Whether an SMS may go to `mobile` (E.164, as `normalize_mobile` gives it).
    pub fn sms_allowed_to(&self, mobile: &str) -> bool {
        self.sms_country_codes.iter().any(|code| {
            let digits: String = code.chars().filter(char::is_ascii_digit).collect();
            !digits.is_empty() && mobile.strip_prefix('+').is_some_and(|m| m.starts_with(&digits))
        })
    }

    /// Citizen methods able to reach `level`, for "Accedi al servizio".
    pub fn methods_reaching(&self, level: Level) -> Vec<Method> {
        self.methods.iter().copied().filter(|m| m.max_level() >= level).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// Issuer URL; its `/.well-known/openid-configuration` is discovered.
    pub issuer: String,
    pub client_id: String,
    /// Name of the environment variable holding the client secret when the recipe
    /// is applied; the secret itself is stored in `tenant_secrets`.
    #[serde(default)]
    pub client_secret_env: String,
    /// Level recorded for staff sessions opened this way.
    #[serde(default = "level_two")]
    pub level: Level,
    /// Button label, e.g. "Accedi con l'account del Comune".
    #[serde(default)]
    pub label: String,
}

fn level_two() -> Level {
    Level::L2
}
