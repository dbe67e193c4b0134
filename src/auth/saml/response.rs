//! Validation of the IdP `samlp:Response` posted to the ACS (HTTP-POST).
//!
//! Everything the SPID technical rules and the `spid-sp-test` response suite
//! check is enforced here; see the test matrix in `spid_sp_test.sh`.
//!
//! Signature handling (the part that matters most):
//! 1. the raw XML is parsed with DTDs refused (no XXE / entity bombs);
//! 2. structural anti-wrapping checks: exactly one `saml:Assertion`, a direct
//!    child of the root `Response`; `ds:Signature` elements only as direct
//!    children of the Response or of the Assertion, each with exactly one
//!    `Reference` whose URI is `#` + its parent's `ID`, only the
//!    enveloped-signature and (exclusive) C14N transforms, no `ds:Object`;
//!    all `ID` values unique;
//! 3. the Assertion MUST be signed (SPID); the Response MAY be;
//! 4. libxmlsec1 verifies every signature against the IdP metadata
//!    certificates only (a certificate in `KeyInfo` is never trusted) and
//!    returns the document reduced to signed content; all Assertion data is
//!    read from that reduced, signed copy.
//!
//! Replay: [`SpidIdentity::assertion_id`] and
//! [`SpidIdentity::not_on_or_after`] are returned so the caller can record
//! the assertion (PostgreSQL: `INSERT … ON CONFLICT DO NOTHING`, refusing the
//! login when no row was inserted — the authoritative, race-free check). A
//! [`ReplayCheck`] is also consulted during validation for callers that keep
//! a synchronous cache; and the caller must consume the pending request id
//! (`InResponseTo`) so that it can be used once only.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use roxmltree::Node;

use super::crypto::{check_der_validity, verify_and_reduce, ALG_ENVELOPED, ALG_EXC_C14N};
use super::errors::{SpidAnomaly, SpidError};
use super::idp::{IdpMetadata, IdpTrust};
use super::xml::{self, children, is, only_child, text};
use super::{ns, parse_saml_instant, SpidLevel, CM_BEARER, NAMEID_ENTITY, NAMEID_TRANSIENT, STATUS_SUCCESS};

/// Largest accepted SAMLResponse (base64 characters).
pub const MAX_RESPONSE_B64: usize = 512 * 1024;

const C14N_INCL: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";

/// Synchronous replay check consulted during validation.
pub trait ReplayCheck {
    /// `true` if an assertion with this ID was already accepted.
    fn seen_before(&self, assertion_id: &str) -> bool;
}

impl<F: Fn(&str) -> bool> ReplayCheck for F {
    fn seen_before(&self, assertion_id: &str) -> bool {
        self(assertion_id)
    }
}

/// Use when replay is enforced afterwards by recording the assertion id
/// atomically (the recommended database flow).
pub struct NoReplayCheck;

impl ReplayCheck for NoReplayCheck {
    fn seen_before(&self, _: &str) -> bool {
        false
    }
}

/// What the response must match: taken from the pending login state that
/// was stored when the AuthnRequest was issued.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    pub request_id: &'a str,
    pub request_issue_instant: DateTime<Utc>,
    /// ACS URL the request designated (by index).
    pub acs_url: &'a str,
    pub sp_entity_id: &'a str,
    /// The IdP the request was sent to.
    pub idp: &'a IdpMetadata,
    /// Requested level (Comparison="minimum": returned level must be ≥).
    pub requested_level: SpidLevel,
    pub now: DateTime<Utc>,
    /// Tolerated clock difference with the IdP.
    pub clock_skew: Duration,
    /// Maximum age of the Response `IssueInstant`.
    pub max_response_age: Duration,
}

impl<'a> Expectations<'a> {
    /// Defaults: now, 90 s skew, 10 min maximum response age.
    pub fn new(
        request_id: &'a str,
        request_issue_instant: DateTime<Utc>,
        acs_url: &'a str,
        sp_entity_id: &'a str,
        idp: &'a IdpMetadata,
        requested_level: SpidLevel,
    ) -> Self {
        Self {
            request_id,
            request_issue_instant,
            acs_url,
            sp_entity_id,
            idp,
            requested_level,
            now: Utc::now(),
            clock_skew: Duration::seconds(90),
            max_response_age: Duration::minutes(10),
        }
    }
}

/// The authenticated citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpidIdentity {
    /// Codice fiscale without the `TINIT-` prefix, upper case.
    pub fiscal_number: String,
    pub spid_code: Option<String>,
    pub name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub mobile_phone: Option<String>,
    /// Every released attribute (first value), by SPID name.
    pub attributes: BTreeMap<String, String>,
    pub level: SpidLevel,
    pub idp_entity_id: String,
    /// Transient NameID (needed for Single Logout).
    pub name_id: String,
    pub name_id_qualifier: String,
    pub session_index: Option<String>,
    pub assertion_id: String,
    pub authn_instant: Option<DateTime<Utc>>,
    /// Earliest of Conditions/SubjectConfirmationData `NotOnOrAfter`: keep
    /// the replay record at least until then.
    pub not_on_or_after: DateTime<Utc>,
}

fn attr_required<'a>(
    n: Node<'a, '_>,
    name: &str,
    what: &str,
    mk: impl Fn(String) -> SpidError,
) -> Result<&'a str, SpidError> {
    match n.attribute(name) {
        None => Err(mk(format!("{what} {name} missing"))),
        Some(v) if v.trim().is_empty() => Err(mk(format!("{what} {name} empty"))),
        Some(v) => Ok(v),
    }
}

fn instant_attr(
    n: Node,
    name: &str,
    what: &str,
    mk: impl Fn(String) -> SpidError + Copy,
) -> Result<DateTime<Utc>, SpidError> {
    let v = attr_required(n, name, what, mk)?;
    parse_saml_instant(v).ok_or_else(|| mk(format!("{what} {name} malformed: {v:?}")))
}

/// Validates a base64 `SAMLResponse` (HTTP-POST binding).
pub fn validate_response(
    saml_response_b64: &str,
    exp: &Expectations<'_>,
    replay: &dyn ReplayCheck,
) -> Result<SpidIdentity, SpidError> {
    if saml_response_b64.len() > MAX_RESPONSE_B64 {
        return Err(SpidError::Malformed("SAMLResponse too large".into()));
    }
    let compact: String = saml_response_b64.chars().filter(|c| !c.is_whitespace()).collect();
    let raw = B64.decode(compact.as_bytes()).map_err(|e| SpidError::Malformed(format!("base64: {e}")))?;
    let xml_text = String::from_utf8(raw).map_err(|_| SpidError::Malformed("not UTF-8".into()))?;
    validate_response_xml(&xml_text, exp, replay)
}

/// Same as [`validate_response`], on the decoded XML.
pub fn validate_response_xml(
    xml_text: &str,
    exp: &Expectations<'_>,
    replay: &dyn ReplayCheck,
) -> Result<SpidIdentity, SpidError> {
    let doc = xml::parse(xml_text).map_err(|e| SpidError::Malformed(format!("xml: {e}")))?;
    let resp = doc.root_element();
    if !is(&resp, ns::SAMLP, "Response") {
        return Err(SpidError::Malformed("root element is not samlp:Response".into()));
    }
    let skew = exp.clock_skew;
    let now = exp.now;

    // --- Response attributes -------------------------------------------------
    let response_id = attr_required(resp, "ID", "Response", SpidError::Id)?;
    if resp.attribute("Version") != Some("2.0") {
        return Err(SpidError::Version("Response"));
    }
    let ii = instant_attr(resp, "IssueInstant", "Response", SpidError::IssueInstant)?;
    if ii + skew < exp.request_issue_instant {
        return Err(SpidError::IssueInstant("Response issued before the request".into()));
    }
    if ii > now + skew {
        return Err(SpidError::IssueInstant("Response IssueInstant in the future".into()));
    }
    if ii + exp.max_response_age < now {
        return Err(SpidError::IssueInstant("Response too old".into()));
    }
    let irt = attr_required(resp, "InResponseTo", "Response", SpidError::InResponseTo)?;
    if irt != exp.request_id {
        return Err(SpidError::InResponseTo("Response InResponseTo is not the request ID".into()));
    }
    let dest = attr_required(resp, "Destination", "Response", SpidError::Destination)?;
    if dest != exp.acs_url {
        return Err(SpidError::Destination(format!("Destination {dest:?} is not our ACS")));
    }

    // --- Issuer --------------------------------------------------------------
    check_issuer(resp, exp, false, "Response")?;

    // --- Structure of signatures / assertions (anti-XSW) ---------------------
    let mut ids = std::collections::HashSet::new();
    for n in resp.descendants().filter(|n| n.is_element()) {
        if let Some(id) = n.attribute("ID") {
            if !ids.insert(id) {
                return Err(SpidError::Id(format!("duplicate ID {id:?}")));
            }
        }
        let tn = n.tag_name();
        if tn.namespace() == Some(ns::SAML)
            && matches!(tn.name(), "EncryptedAssertion" | "EncryptedID" | "EncryptedAttribute")
        {
            return Err(SpidError::Malformed("encrypted content is not used by SPID".into()));
        }
    }
    let assertions: Vec<Node> = resp.descendants().filter(|n| is(n, ns::SAML, "Assertion")).collect();
    let signatures: Vec<Node> = resp.descendants().filter(|n| is(n, ns::DS, "Signature")).collect();
    let resp_sigs: Vec<Node> = children(resp, ns::DS, "Signature").collect();
    if resp_sigs.len() > 1 {
        return Err(SpidError::Signature("more than one Response signature".into()));
    }

    // --- Status ----------------------------------------------------------------
    let status =
        only_child(resp, ns::SAMLP, "Status").map_err(|n| SpidError::StatusMissing(format!("{n} Status elements")))?;
    let code = only_child(status, ns::SAMLP, "StatusCode")
        .map_err(|n| SpidError::StatusMissing(format!("{n} StatusCode elements")))?;
    let code_value = attr_required(code, "Value", "StatusCode", SpidError::StatusMissing)?;
    if code_value != STATUS_SUCCESS {
        // A failed authentication carries no identity. Whatever the IdP signed
        // must still verify; an unsigned error response only yields an error.
        if !signatures.is_empty() {
            for sig in &signatures {
                let parent =
                    sig.parent().filter(|p| *p == resp || (is(p, ns::SAML, "Assertion") && p.parent() == Some(resp)));
                let pid = parent
                    .and_then(|p| p.attribute("ID"))
                    .ok_or_else(|| SpidError::Signature("ds:Signature in an unexpected position".into()))?;
                check_signature_shape(*sig, pid)?;
            }
            verify_and_reduce(xml_text, &trusted_certs(exp)?)?;
        }
        let message = super::xml::child(status, ns::SAMLP, "StatusMessage").map(text);
        if let Some(a) = message.as_deref().and_then(SpidAnomaly::from_status_message) {
            return Err(SpidError::Anomaly(a));
        }
        let sub = super::xml::child(code, ns::SAMLP, "StatusCode").and_then(|c| c.attribute("Value")).unwrap_or("");
        return Err(SpidError::StatusNotSuccess {
            code: if sub.is_empty() { code_value.to_string() } else { format!("{code_value} / {sub}") },
            message,
        });
    }

    let assertion = match assertions.as_slice() {
        [] => return Err(SpidError::AssertionMissing),
        [a] => *a,
        _ => return Err(SpidError::Signature("more than one Assertion (wrapping?)".into())),
    };
    if assertion.parent() != Some(resp) {
        return Err(SpidError::Signature("Assertion is not a child of Response (wrapping?)".into()));
    }
    let assertion_id = attr_required(assertion, "ID", "Assertion", SpidError::Id)?.to_string();
    let a_sigs: Vec<Node> = children(assertion, ns::DS, "Signature").collect();
    match a_sigs.len() {
        0 => return Err(SpidError::Signature("Assertion not signed".into())),
        1 => check_signature_shape(a_sigs[0], &assertion_id)?,
        _ => return Err(SpidError::Signature("more than one Assertion signature".into())),
    }
    if let Some(s) = resp_sigs.first() {
        check_signature_shape(*s, response_id)?;
    }
    if signatures.len() != a_sigs.len() + resp_sigs.len() {
        return Err(SpidError::Signature("ds:Signature in an unexpected position".into()));
    }

    // --- Cryptographic verification, then work on signed content only -----
    let reduced = verify_and_reduce(xml_text, &trusted_certs(exp)?)?;
    let rdoc = xml::parse(&reduced).map_err(|e| SpidError::Signature(format!("reduced: {e}")))?;
    let signed: Vec<Node> = rdoc
        .descendants()
        .filter(|n| is(n, ns::SAML, "Assertion") && n.attribute("ID") == Some(&assertion_id))
        .collect();
    let a = match signed.as_slice() {
        [a] => *a,
        _ => return Err(SpidError::Signature("signed Assertion not found".into())),
    };

    validate_assertion(a, exp, &assertion_id, replay)
}

fn trusted_certs(exp: &Expectations<'_>) -> Result<Vec<Vec<u8>>, SpidError> {
    let idp = exp.idp;
    if idp.trust == IdpTrust::AcceptExpiredTestCertificate {
        return Ok(idp.signing_certs.clone());
    }
    let mut reasons = Vec::new();
    let valid: Vec<Vec<u8>> = idp
        .signing_certs
        .iter()
        .filter(|c| match check_der_validity(c, exp.now, exp.clock_skew) {
            Ok(()) => true,
            Err(r) => {
                reasons.push(r);
                false
            }
        })
        .cloned()
        .collect();
    if valid.is_empty() {
        return Err(SpidError::CertificateExpired(format!(
            "{}: no IdP signing certificate currently valid ({})",
            idp.entity_id,
            reasons.join("; ")
        )));
    }
    Ok(valid)
}

/// Issuer: present, non-empty, = IdP entity id; Format entity (optional on the
/// Response, mandatory on the Assertion).
fn check_issuer(parent: Node, exp: &Expectations<'_>, format_required: bool, what: &str) -> Result<(), SpidError> {
    let iss = only_child(parent, ns::SAML, "Issuer")
        .map_err(|n| SpidError::Issuer(format!("{what}: {n} Issuer elements")))?;
    let value = text(iss);
    if value.is_empty() {
        return Err(SpidError::Issuer(format!("{what} Issuer empty")));
    }
    if value != exp.idp.entity_id {
        return Err(SpidError::Issuer(format!("{what} Issuer {value:?} is not the IdP")));
    }
    match iss.attribute("Format") {
        None if !format_required => Ok(()),
        Some(NAMEID_ENTITY) => Ok(()),
        None => Err(SpidError::Issuer(format!("{what} Issuer Format missing"))),
        Some(f) => Err(SpidError::Issuer(format!("{what} Issuer Format {f:?} not entity"))),
    }
}

/// Shape of one `ds:Signature`: single Reference to `#parent_id`, only the
/// enveloped + C14N transforms, no Object, SignedInfo/SignatureValue/KeyInfo only.
fn check_signature_shape(sig: Node, parent_id: &str) -> Result<(), SpidError> {
    let bad = |m: &str| Err(SpidError::Signature(m.to_string()));
    for c in sig.children().filter(|c| c.is_element()) {
        let ok = c.tag_name().namespace() == Some(ns::DS)
            && matches!(c.tag_name().name(), "SignedInfo" | "SignatureValue" | "KeyInfo");
        if !ok {
            return bad("unexpected element inside ds:Signature");
        }
    }
    let si = only_child(sig, ns::DS, "SignedInfo").map_err(|_| SpidError::Signature("SignedInfo".into()))?;
    let c14n =
        only_child(si, ns::DS, "CanonicalizationMethod").ok().and_then(|n| n.attribute("Algorithm")).unwrap_or("");
    if c14n != ALG_EXC_C14N && c14n != C14N_INCL {
        return bad("unsupported CanonicalizationMethod");
    }
    let r = only_child(si, ns::DS, "Reference")
        .map_err(|n| SpidError::Signature(format!("{n} References (exactly one required)")))?;
    if r.attribute("URI") != Some(&format!("#{parent_id}")) {
        return bad("signature Reference does not point to its parent element");
    }
    if let Some(ts) = super::xml::child(r, ns::DS, "Transforms") {
        let ts: Vec<Node> = ts.children().filter(|c| c.is_element()).collect();
        if ts.len() > 2 {
            return bad("too many transforms");
        }
        for t in ts {
            let alg = t.attribute("Algorithm").unwrap_or("");
            if !is(&t, ns::DS, "Transform") || !(alg == ALG_ENVELOPED || alg == ALG_EXC_C14N || alg == C14N_INCL) {
                return bad("transform not allowed");
            }
            // Only ec:InclusiveNamespaces may appear inside a C14N transform.
            if t.children()
                .filter(|c| c.is_element())
                .any(|c| c.tag_name().name() != "InclusiveNamespaces" || c.tag_name().namespace() != Some(ALG_EXC_C14N))
            {
                return bad("transform with unexpected content");
            }
        }
    }
    Ok(())
}

fn validate_assertion(
    a: Node,
    exp: &Expectations<'_>,
    assertion_id: &str,
    replay: &dyn ReplayCheck,
) -> Result<SpidIdentity, SpidError> {
    let skew = exp.clock_skew;
    let now = exp.now;
    if a.attribute("Version") != Some("2.0") {
        return Err(SpidError::Version("Assertion"));
    }
    let aii = instant_attr(a, "IssueInstant", "Assertion", SpidError::IssueInstant)?;
    if aii + skew < exp.request_issue_instant {
        return Err(SpidError::IssueInstant("Assertion issued before the request".into()));
    }
    if aii > now + skew {
        return Err(SpidError::IssueInstant("Assertion IssueInstant in the future".into()));
    }
    check_issuer(a, exp, true, "Assertion")?;

    // Subject / NameID
    let subject =
        only_child(a, ns::SAML, "Subject").map_err(|n| SpidError::Subject(format!("{n} Subject elements")))?;
    let name_id =
        only_child(subject, ns::SAML, "NameID").map_err(|n| SpidError::Subject(format!("{n} NameID elements")))?;
    let name_id_value = text(name_id);
    if name_id_value.is_empty() {
        return Err(SpidError::Subject("NameID empty".into()));
    }
    let fmt = attr_required(name_id, "Format", "NameID", SpidError::Subject)?;
    if fmt != NAMEID_TRANSIENT {
        return Err(SpidError::Subject(format!("NameID Format {fmt:?} is not transient")));
    }
    let name_qualifier = attr_required(name_id, "NameQualifier", "NameID", SpidError::Subject)?.to_string();

    // SubjectConfirmation (bearer)
    let sc = only_child(subject, ns::SAML, "SubjectConfirmation")
        .map_err(|n| SpidError::SubjectConfirmation(format!("{n} SubjectConfirmation elements")))?;
    let method = attr_required(sc, "Method", "SubjectConfirmation", SpidError::SubjectConfirmation)?;
    if method != CM_BEARER {
        return Err(SpidError::SubjectConfirmation(format!("Method {method:?} is not bearer")));
    }
    let scd = only_child(sc, ns::SAML, "SubjectConfirmationData")
        .map_err(|n| SpidError::SubjectConfirmation(format!("{n} SubjectConfirmationData elements")))?;
    let recipient = attr_required(scd, "Recipient", "SubjectConfirmationData", SpidError::SubjectConfirmation)?;
    if recipient != exp.acs_url {
        return Err(SpidError::SubjectConfirmation(format!("Recipient {recipient:?} is not our ACS")));
    }
    let scd_irt = attr_required(scd, "InResponseTo", "SubjectConfirmationData", SpidError::SubjectConfirmation)?;
    if scd_irt != exp.request_id {
        return Err(SpidError::SubjectConfirmation("InResponseTo is not the request ID".into()));
    }
    let scd_noa = instant_attr(scd, "NotOnOrAfter", "SubjectConfirmationData", SpidError::SubjectConfirmation)?;
    if now - skew >= scd_noa {
        return Err(SpidError::SubjectConfirmation("SubjectConfirmationData expired".into()));
    }
    if scd.attribute("NotBefore").is_some() {
        let nb = instant_attr(scd, "NotBefore", "SubjectConfirmationData", SpidError::SubjectConfirmation)?;
        if nb > now + skew {
            return Err(SpidError::SubjectConfirmation("SubjectConfirmationData not yet valid".into()));
        }
    }

    // Conditions
    let cond =
        only_child(a, ns::SAML, "Conditions").map_err(|n| SpidError::Conditions(format!("{n} Conditions elements")))?;
    let nb = instant_attr(cond, "NotBefore", "Conditions", SpidError::Conditions)?;
    let noa = instant_attr(cond, "NotOnOrAfter", "Conditions", SpidError::Conditions)?;
    if nb > now + skew {
        return Err(SpidError::Conditions("Assertion not yet valid (NotBefore)".into()));
    }
    if now - skew >= noa {
        return Err(SpidError::Conditions("Assertion expired (NotOnOrAfter)".into()));
    }
    let restrictions: Vec<Node> = children(cond, ns::SAML, "AudienceRestriction").collect();
    if restrictions.is_empty() {
        return Err(SpidError::Audience("AudienceRestriction missing".into()));
    }
    for r in restrictions {
        let auds: Vec<String> = children(r, ns::SAML, "Audience").map(text).collect();
        if auds.is_empty() {
            return Err(SpidError::Audience("Audience missing".into()));
        }
        if auds.iter().any(|s| s.is_empty()) {
            return Err(SpidError::Audience("Audience empty".into()));
        }
        if !auds.iter().any(|s| s == exp.sp_entity_id) {
            return Err(SpidError::Audience("Audience is not our entity id".into()));
        }
    }

    // AuthnStatement / level
    let st = only_child(a, ns::SAML, "AuthnStatement")
        .map_err(|n| SpidError::AuthnContext(format!("{n} AuthnStatement elements")))?;
    let ctx = only_child(st, ns::SAML, "AuthnContext")
        .map_err(|n| SpidError::AuthnContext(format!("{n} AuthnContext elements")))?;
    let acr = only_child(ctx, ns::SAML, "AuthnContextClassRef")
        .map_err(|n| SpidError::AuthnContext(format!("{n} AuthnContextClassRef elements")))?;
    let acr_value = text(acr);
    if acr_value.is_empty() {
        return Err(SpidError::AuthnContext("AuthnContextClassRef empty".into()));
    }
    let level = SpidLevel::from_uri(&acr_value)
        .ok_or_else(|| SpidError::AuthnContext(format!("unknown AuthnContextClassRef {acr_value:?}")))?;
    if level < exp.requested_level {
        return Err(SpidError::LevelTooLow { requested: exp.requested_level.as_u8(), got: level.as_u8() });
    }
    let session_index = st.attribute("SessionIndex").map(str::to_string);
    let authn_instant = st.attribute("AuthnInstant").and_then(parse_saml_instant);

    // Attributes
    let mut attributes = BTreeMap::new();
    let stmts: Vec<Node> = children(a, ns::SAML, "AttributeStatement").collect();
    if stmts.len() > 1 {
        return Err(SpidError::Attributes("more than one AttributeStatement".into()));
    }
    if let Some(stmt) = stmts.first() {
        let attrs: Vec<Node> = children(*stmt, ns::SAML, "Attribute").collect();
        if attrs.is_empty() {
            return Err(SpidError::Attributes("AttributeStatement without Attribute".into()));
        }
        for at in attrs {
            let name = attr_required(at, "Name", "Attribute", SpidError::Attributes)?;
            let value = children(at, ns::SAML, "AttributeValue")
                .next()
                .map(text)
                .ok_or_else(|| SpidError::Attributes(format!("Attribute {name} without value")))?;
            attributes.entry(name.to_string()).or_insert(value);
        }
    }
    let fiscal = attributes
        .get("fiscalNumber")
        .map(|v| v.strip_prefix("TINIT-").unwrap_or(v).trim().to_uppercase())
        .filter(|v| !v.is_empty())
        .ok_or(SpidError::MissingAttribute("fiscalNumber"))?;

    if replay.seen_before(assertion_id) {
        return Err(SpidError::Replay(format!("assertion {assertion_id} already used")));
    }

    let get = |k: &str| attributes.get(k).filter(|v| !v.is_empty()).cloned();
    Ok(SpidIdentity {
        fiscal_number: fiscal,
        spid_code: get("spidCode"),
        name: get("name"),
        family_name: get("familyName"),
        email: get("email"),
        mobile_phone: get("mobilePhone"),
        level,
        idp_entity_id: exp.idp.entity_id.clone(),
        name_id: name_id_value,
        name_id_qualifier: name_qualifier,
        session_index,
        assertion_id: assertion_id.to_string(),
        authn_instant,
        not_on_or_after: noa.min(scd_noa),
        attributes,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    struct Ctx {
        idp_kp: KeyPair,
        idp: IdpMetadata,
        now: DateTime<Utc>,
    }

    fn ctx() -> Ctx {
        let idp_kp = KeyPair::generate("idp", -1, 365);
        let idp = idp_metadata(&idp_kp, IdpTrust::Strict);
        Ctx { idp_kp, idp, now: Utc::now() }
    }

    fn exp<'a>(c: &'a Ctx) -> Expectations<'a> {
        let mut e = Expectations::new("_req1", c.now, SP_ACS, SP_ENTITY, &c.idp, SpidLevel::L2);
        e.now = c.now + Duration::seconds(2);
        e
    }

    fn run(c: &Ctx, r: &Resp) -> Result<SpidIdentity, SpidError> {
        validate_response(&r.b64(&c.idp_kp), &exp(c), &NoReplayCheck)
    }

    #[test]
    fn accepts_good_response_and_strips_tinit() {
        let c = ctx();
        let id = run(&c, &Resp::good("_req1", c.now)).unwrap();
        assert_eq!(id.fiscal_number, "RSSMRA80A01H501U");
        assert_eq!(id.name.as_deref(), Some("Mario"));
        assert_eq!(id.family_name.as_deref(), Some("Rossi"));
        assert_eq!(id.level, SpidLevel::L2);
        assert_eq!(id.assertion_id, "_assert1");
        assert_eq!(id.session_index.as_deref(), Some("_sess"));
        assert_eq!(id.idp_entity_id, IDP_ENTITY);
    }

    #[test]
    fn assertion_only_signature_is_enough() {
        let c = ctx();
        let mut r = Resp::good("_req1", c.now);
        r.sign_response = false;
        assert!(run(&c, &r).is_ok());
    }

    #[test]
    fn unsigned_assertion_rejected() {
        let c = ctx();
        let mut r = Resp::good("_req1", c.now);
        r.sign_assertion = false;
        assert_eq!(run(&c, &r).unwrap_err().code(), "spid.signature");
        r.sign_response = false;
        assert_eq!(run(&c, &r).unwrap_err().code(), "spid.signature");
    }

    #[test]
    fn tampered_or_foreign_signature_rejected() {
        let c = ctx();
        let xml = Resp::good("_req1", c.now).xml(&c.idp_kp);
        let tampered = xml.replace("RSSMRA80A01H501U", "VRDLGU80A01H501X");
        let e = validate_response(&B64.encode(tampered), &exp(&c), &NoReplayCheck).unwrap_err();
        assert_eq!(e.code(), "spid.signature");
        let other = KeyPair::generate("evil", -1, 365);
        let r = Resp::good("_req1", c.now);
        let e = validate_response(&r.b64(&other), &exp(&c), &NoReplayCheck).unwrap_err();
        assert_eq!(e.code(), "spid.signature");
    }

    #[test]
    fn wrapped_second_assertion_rejected() {
        let c = ctx();
        let xml = Resp::good("_req1", c.now).xml(&c.idp_kp);
        let start = xml.find("<saml:Assertion").unwrap();
        let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        let evil = xml[start..end].replace("ID=\"_assert1\"", "ID=\"_evil\"");
        let wrapped = xml.replace("</samlp:Response>", &format!("{evil}</samlp:Response>"));
        let e = validate_response(&B64.encode(wrapped), &exp(&c), &NoReplayCheck).unwrap_err();
        assert_eq!(e.code(), "spid.signature");
    }

    fn signed_parts(c: &Ctx) -> (String, String) {
        let xml = Resp::good("_req1", c.now).xml(&c.idp_kp);
        let start = xml.find("<saml:Assertion").unwrap();
        let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        let evil =
            xml[start..end].replace("ID=\"_assert1\"", "ID=\"_evil\"").replace("RSSMRA80A01H501U", "VRDLGU80A01H501X");
        (xml, evil)
    }

    fn rejects(c: &Ctx, xml: &str) -> SpidError {
        validate_response(&B64.encode(xml), &exp(c), &NoReplayCheck).unwrap_err()
    }

    #[test]
    fn xsw_variants_rejected() {
        let c = ctx();
        let (xml, evil) = signed_parts(&c);
        // evil assertion placed before the signed one
        let v1 = xml.replacen("<saml:Assertion", &format!("{evil}<saml:Assertion"), 1);
        // evil assertion hidden in a ds:Object of the assertion signature
        let v2 = xml.replacen("</ds:SignatureValue>", &format!("</ds:SignatureValue><ds:Object>{evil}</ds:Object>"), 2);
        // signed assertion moved into Extensions, evil one in its place
        let start = xml.find("<saml:Assertion").unwrap();
        let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        let v3 = format!(
            "{}<samlp:Extensions>{}</samlp:Extensions>{}{}",
            &xml[..start],
            &xml[start..end],
            evil,
            &xml[end..]
        );
        // only the evil assertion, with the genuine signature pasted in
        let sig_start = xml[start..].find("<ds:Signature").unwrap() + start;
        let sig_end = xml[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
        let evil_signed = evil.replacen("<saml:Subject>", &format!("{}<saml:Subject>", &xml[sig_start..sig_end]), 1);
        let v4 = format!("{}{}{}", &xml[..start], evil_signed, &xml[end..]);
        for (i, v) in [v1, v2, v3, v4].iter().enumerate() {
            let e = rejects(&c, v);
            assert!(matches!(e.code(), "spid.signature" | "spid.id"), "variant {i}: {e}");
        }
    }

    #[test]
    fn comment_injection_does_not_truncate_values() {
        let c = ctx();
        let xml = Resp::good("_req1", c.now).xml(&c.idp_kp);
        // Exclusive C14N drops comments, so the digest still matches. Either
        // the message is refused (samael refuses comments in signed content)
        // or the whole value is read: never the truncated "RSSMRA".
        let injected = xml.replace("TINIT-RSSMRA80A01H501U", "TINIT-RSSMRA<!---->80A01H501U");
        match validate_response(&B64.encode(injected), &exp(&c), &NoReplayCheck) {
            Ok(id) => assert_eq!(id.fiscal_number, "RSSMRA80A01H501U"),
            Err(e) => assert_eq!(e.code(), "spid.signature"),
        }
    }

    #[test]
    fn failed_status_with_signed_assertion_reports_status() {
        let c = ctx();
        let xml = Resp::good("_req1", c.now).xml(&c.idp_kp).replace("status:Success", "status:Requester");
        // response signature breaks (status is signed), so: signature error
        assert_eq!(rejects(&c, &xml).code(), "spid.signature");
        let mut r = Resp::good("_req1", c.now);
        r.sign_response = false;
        let xml = r.xml(&c.idp_kp).replace("status:Success", "status:Requester");
        assert_eq!(rejects(&c, &xml).code(), "spid.status_not_success");
    }

    #[test]
    fn expired_idp_certificate_needs_explicit_test_trust() {
        let idp_kp = KeyPair::generate("idp-old", -400, -30);
        let mut c = ctx();
        c.idp = idp_metadata(&idp_kp, IdpTrust::Strict);
        c.idp_kp = idp_kp;
        let r = Resp::good("_req1", c.now);
        assert_eq!(run(&c, &r).unwrap_err().code(), "spid.certificate_expired");
        c.idp = c.idp.clone().trusting_expired_test_certificate();
        assert!(run(&c, &r).is_ok());
    }

    #[test]
    fn binding_checks() {
        let c = ctx();
        type Mutation = Box<dyn Fn(&mut Resp)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("spid.in_response_to", Box::new(|r| r.request_id = "_other".into())),
            ("spid.destination", Box::new(|r| r.destination = "https://evil/acs".into())),
            ("spid.subject_confirmation", Box::new(|r| r.recipient = "https://evil/acs".into())),
            ("spid.audience", Box::new(|r| r.audience = "https://other-sp".into())),
            ("spid.issuer", Box::new(|r| r.issuer = "https://other-idp".into())),
            ("spid.authn_context", Box::new(|r| r.acr = "urn:oasis:names:tc:SAML:2.0:ac:classes:SpidL1".into())),
            ("spid.level_too_low", Box::new(|r| r.acr = "https://www.spid.gov.it/SpidL1".into())),
            ("spid.issue_instant", Box::new(|r| r.issue_instant = Utc::now() - Duration::days(365))),
            ("spid.missing_attribute", Box::new(|r| r.fiscal_number = String::new())),
        ];
        for (code, f) in cases {
            let mut r = Resp::good("_req1", c.now);
            f(&mut r);
            let e = run(&c, &r).unwrap_err();
            assert_eq!(e.code(), code, "{e}");
        }
        let mut r = Resp::good("_req1", c.now);
        r.acr = "https://www.spid.gov.it/SpidL3".into();
        assert_eq!(run(&c, &r).unwrap().level, SpidLevel::L3);
    }

    #[test]
    fn expired_assertion_rejected() {
        let c = ctx();
        let mut r = Resp::good("_req1", c.now);
        r.not_on_or_after = c.now - Duration::minutes(10);
        assert_eq!(run(&c, &r).unwrap_err().code(), "spid.subject_confirmation");
    }

    #[test]
    fn spid_anomalies_map_to_distinct_errors() {
        let c = ctx();
        for n in [19u16, 20, 21, 22, 23, 25] {
            let mut r = Resp::good("_req1", c.now);
            r.sign_response = false;
            r.status = format!(
                r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode><samlp:StatusMessage>ErrorCode nr{n}</samlp:StatusMessage></samlp:Status>"#
            );
            let e = run(&c, &r).unwrap_err();
            assert_eq!(e.code(), format!("spid.anomaly_{n}"));
        }
    }

    #[test]
    fn replay_callback_is_consulted() {
        let c = ctx();
        let r = Resp::good("_req1", c.now).b64(&c.idp_kp);
        let seen = |id: &str| id == "_assert1";
        let e = validate_response(&r, &exp(&c), &seen).unwrap_err();
        assert_eq!(e.code(), "spid.replay");
    }

    #[test]
    fn dtd_and_garbage_rejected() {
        let c = ctx();
        let xxe = r#"<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>"#;
        let e = validate_response(&B64.encode(xxe), &exp(&c), &NoReplayCheck).unwrap_err();
        assert_eq!(e.code(), "spid.malformed");
        assert_eq!(validate_response("%%%", &exp(&c), &NoReplayCheck).unwrap_err().code(), "spid.malformed");
    }
}
