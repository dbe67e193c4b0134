//! Per-tenant SPID service-provider configuration.
//!
//! One [`SpConfig`] per municipality (tenant). The portal builds it from the
//! tenant's configuration file; [`SpConfig::validate`] is called at start-up so
//! that a bad key or certificate stops the tenant from loading instead of
//! failing at the first login.

use super::crypto::SigningCredentials;
use super::errors::SpidError;

/// `md:Organization` (SPID wants Italian `xml:lang="it"` values).
#[derive(Debug, Clone)]
pub struct Organization {
    pub name: String,
    pub display_name: String,
    pub url: String,
}

/// One `md:AttributeConsumingService` (its index is its position in
/// [`SpConfig::attribute_sets`]).
#[derive(Debug, Clone)]
pub struct AttributeConsumingService {
    pub service_name: String,
    /// SPID attribute names, e.g. `fiscalNumber`, `name`, `familyName`.
    pub attributes: Vec<String>,
}

impl AttributeConsumingService {
    /// Index-0 set used by the portal: the identity attributes the citizen
    /// profile needs.
    pub fn default_citizen_set() -> Self {
        Self {
            service_name: "Accesso ai servizi online".into(),
            attributes: ["spidCode", "name", "familyName", "fiscalNumber", "email", "mobilePhone"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// SPID SP configuration of a tenant.
#[derive(Debug, Clone)]
pub struct SpConfig {
    /// SP entity id; by convention the metadata URL,
    /// e.g. `https://valmora.example.it/accesso/spid/metadata`.
    pub entity_id: String,
    /// `AssertionConsumerService` URLs (HTTP-POST). Index 0 is the default.
    pub acs_urls: Vec<String>,
    /// `SingleLogoutService` URL (HTTP-POST).
    pub slo_url: String,
    /// PEM private key (PKCS#1 or PKCS#8, RSA ≥ 2048 bits).
    pub key_pem: String,
    /// PEM certificate (SPID profile per Avviso 29 v3).
    pub cert_pem: String,
    pub organization: Organization,
    /// IPA code of the municipality (`spid:IPACode`), e.g. `c_a123`.
    pub ipa_code: String,
    /// `ContactPerson contactType="other"` e-mail (mandatory).
    pub contact_email: String,
    /// `ContactPerson` telephone (optional; `+39…`, no spaces).
    pub contact_phone: Option<String>,
    /// Attribute consuming services; index 0 must exist.
    pub attribute_sets: Vec<AttributeConsumingService>,
}

/// SPID attribute names (Tabella attributi SPID) accepted in `RequestedAttribute`.
pub const SPID_ATTRIBUTES: &[&str] = &[
    "spidCode",
    "name",
    "familyName",
    "placeOfBirth",
    "countyOfBirth",
    "dateOfBirth",
    "gender",
    "companyName",
    "registeredOffice",
    "fiscalNumber",
    "ivaCode",
    "idCard",
    "mobilePhone",
    "email",
    "address",
    "expirationDate",
    "digitalAddress",
    "domicileStreetAddress",
    "domicilePostalCode",
    "domicileMunicipality",
    "domicileProvince",
    "domicileNation",
    "companyFiscalNumber",
];

impl SpConfig {
    /// The default ACS URL (index 0).
    pub fn acs_url(&self) -> &str {
        self.acs_urls.first().map(String::as_str).unwrap_or("")
    }

    /// ACS URL for an `AssertionConsumerServiceIndex`.
    pub fn acs_url_for(&self, index: u16) -> Option<&str> {
        self.acs_urls.get(index as usize).map(String::as_str)
    }

    /// Loads the signing key and certificate.
    pub fn credentials(&self) -> Result<SigningCredentials, SpidError> {
        SigningCredentials::from_pem(&self.key_pem, &self.cert_pem)
    }

    /// Checks everything that would otherwise fail at login time.
    pub fn validate(&self) -> Result<(), SpidError> {
        let err = |m: &str| Err(SpidError::Config(m.to_string()));
        if !self.entity_id.starts_with("https://") && !self.entity_id.starts_with("http://") {
            return err("entity_id must be an absolute http(s) URL");
        }
        if self.acs_urls.is_empty() || self.acs_urls.iter().any(|u| !u.starts_with("http")) {
            return err("at least one absolute acs_url is required");
        }
        if !self.slo_url.starts_with("http") {
            return err("slo_url must be an absolute URL");
        }
        if self.organization.name.trim().is_empty()
            || self.organization.display_name.trim().is_empty()
            || !self.organization.url.starts_with("http")
        {
            return err("organization name, display name and url are required");
        }
        let ipa_ok = !self.ipa_code.is_empty()
            && self.ipa_code.len() <= 11
            && self.ipa_code.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if !ipa_ok {
            return err("ipa_code must be the IPA code of the entity (e.g. c_a123)");
        }
        if !self.contact_email.contains('@') || self.contact_email.contains(char::is_whitespace) {
            return err("contact_email is not an e-mail address");
        }
        if let Some(p) = &self.contact_phone {
            if !p.starts_with('+') || p.contains(' ') || !p[1..].bytes().all(|c| c.is_ascii_digit()) {
                return err("contact_phone must be like +39061234567 (no spaces)");
            }
        }
        if self.attribute_sets.is_empty() {
            return err("attribute consuming service index 0 is required");
        }
        for set in &self.attribute_sets {
            if set.attributes.is_empty() {
                return err("an attribute consuming service needs at least one attribute");
            }
            if let Some(a) = set.attributes.iter().find(|a| !SPID_ATTRIBUTES.contains(&a.as_str())) {
                return Err(SpidError::Config(format!("unknown SPID attribute {a}")));
            }
        }
        let creds = self.credentials()?;
        creds.check_for_signing(chrono::Utc::now())?;
        Ok(())
    }
}
