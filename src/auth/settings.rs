//! What each ente enables for sign-in (`[auth]` in tenant.toml), resolved with
//! the tenant. Secrets are not here: see `tenant_secrets`.

use serde::{Deserialize, Serialize};

use super::{Level, Method};

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
            sms_sender: "Comune".into(),
            oidc: None,
            saml: SamlSettings::default(),
        }
    }
}

impl AuthSettings {
    pub fn enabled(&self, method: Method) -> bool {
        match method {
            Method::Oidc => self.oidc.is_some(),
            m => self.methods.contains(&m),
        }
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
