#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each target into fuzz/seeds/<target>/.

Run from anywhere: python3 fuzz/make_seeds.py. The form and multipart seeds follow
the real procedure forms (tenants/*/procedures/*.toml) in the order the targets load
them (the generic form first, then the files sorted by path).
"""
import base64, os, pathlib, re, tomllib, urllib.parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- host ---------------------------------------------------------------------
for i, h in enumerate(["valmora.localhost:8080", "[::1]:8080", "Valmora.Example.IT.", "127.0.0.1",
                       "comune.valmora.it, proxy.internal", "xn--vlmora-5ua.it:443"]):
    write("host", f"seed{i}", h)

# --- identifiers --------------------------------------------------------------
for i, v in enumerate(["rssmra85t10a562s", "RSSMRA85TMLA562D", "IT 00743110157", "00743110157",
                       "IT60 X054 2811 1010 0000 0123 456", "DE89370400440532013000", "mario.rossi@example.it",
                       "+39 347 123 4567", "035 123456"]):
    write("identifiers", f"seed{i}", v)

# A CNS-like card certificate: the fiscal code in CN, serialNumber (card_of, crs.rs).
import subprocess, tempfile
with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", f"{tmp}/k.pem",
                    "-days", "3650", "-outform", "DER", "-out", f"{tmp}/card.der", "-subj",
                    "/CN=RSSMRA85T10A562S\\/7420000000000001.abcd/serialNumber=TINIT-RSSMRA85T10A562S/GN=Mario/SN=Rossi"],
                   check=True, capture_output=True)
    write("identifiers", "card.der", pathlib.Path(f"{tmp}/card.der").read_bytes())

# --- formats ------------------------------------------------------------------
def zip_entry(name, data=b""):
    header = b"PK\x03\x04" + b"\x14\x00" + b"\x00\x00" * 2 + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
    header += len(data).to_bytes(4, "little") + len(data).to_bytes(4, "little")
    header += len(name).to_bytes(2, "little") + b"\x00\x00"
    return header + name + data

for name, data in {
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "tiff": b"II*\x00\x08\x00\x00\x00",
    "gif": b"GIF89a\x01\x00\x01\x00",
    "odt": zip_entry(b"mimetype", b"application/vnd.oasis.opendocument.text") + zip_entry(b"content.xml"),
    "docx": zip_entry(b"[Content_Types].xml", b"<Types/>") + zip_entry(b"word/document.xml"),
    "p7m": bytes.fromhex("3080" + "06092a864886f70d010702") + b"\xa0\x80",
    "p7m_long": bytes.fromhex("308204a0" + "06092a864886f70d010702"),
    "svg": b'<?xml version="1.0"?>\n<!-- x --><svg xmlns="http://www.w3.org/2000/svg"/>',
    "xml": b"\xef\xbb\xbf<?xml version=\"1.0\"?><fattura/>",
    "eml": b"From: a@b.it\r\nTo: c@d.it\r\nSubject: x\r\n\r\nbody",
    "txt": "Domanda di rimborso TARI, anno 2024 — è tutto".encode(),
}.items():
    write("formats", name, data)

# --- forms (form and multipart) -----------------------------------------------
GENERIC = None  # the generic form is index 0; its keys are read from src/procedure/form/spec.rs
src = (ROOT / "src/procedure/form/spec.rs").read_text()
m = re.search(r'const GENERIC: &str = r#"(.*?)"#;', src, re.S)
forms = [tomllib.loads(m.group(1))]
for path in sorted(ROOT.glob("tenants/*/procedures/*.toml"), key=lambda p: str(p)):
    spec = tomllib.loads(path.read_text())
    if "form" in spec:
        forms.append(spec["form"])

SAMPLE = {
    "text": "Mario Rossi", "textarea": "Righe\ndi testo", "number": "1.234,50", "date": "2024-05-01",
    "email": "mario.rossi@example.it", "phone": "347 123 4567", "fiscal_code": "RSSMRA85T10A562S",
    "vat_number": "00743110157", "iban": "IT60X0542811101000000123456", "checkbox": "on",
}
ADDRESS = {"street": "Via Roma", "number": "1", "postcode": "24100", "city": "Bergamo", "province": "BG"}


def pairs_for(field, name):
    kind = field["type"]
    if kind == "file":
        return []
    if kind == "address":
        return [(f"{name}.{k}", v) for k, v in ADDRESS.items()]
    if kind == "select":
        return [(name, field["options"][0]["value"])]
    if kind == "group":
        out = [(f"{name}._rows", "2")]
        for i in range(2):
            for sub in field.get("fields", []):
                out += pairs_for(sub, f"{name}.{i}.{sub['key']}")
        return out
    return [(name, SAMPLE[kind])]


def multipart(pairs, files):
    out = b""
    for k, v in pairs:
        out += f'--X\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for k, fname, data in files:
        out += (f'--X\r\nContent-Disposition: form-data; name="{k}"; filename="{fname}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return out + b"--X--\r\n"


for fi, form in enumerate(forms):
    for si, step in enumerate(form["steps"]):
        pairs = [p for f in step["fields"] for p in pairs_for(f, f["key"])]
        groups = [f["key"] for f in step["fields"] if f["type"] == "group"]
        head = bytes([fi, si])
        write("form", f"f{fi}s{si}", head + urllib.parse.urlencode(pairs).encode())
        for g in groups:
            write("form", f"f{fi}s{si}_add", head + urllib.parse.urlencode(pairs + [("_action", f"add:{g}")]).encode())
            write("form", f"f{fi}s{si}_rm", head + urllib.parse.urlencode(pairs + [("_action", f"remove:{g}:1")]).encode())
        files = [(f["key"], "Planimetria è 1.pdf", b"%PDF-1.7\n") for f in step["fields"] if f["type"] == "file"]
        if files or fi < 3:
            write("multipart", f"f{fi}s{si}", head + multipart(pairs, files))

# --- saml_response ------------------------------------------------------------
II = "2026-01-01T00:00:01Z"
NOA = "2026-01-01T00:05:00Z"
ACS = "https://valmora.example.it/accesso/spid/acs"
IDP = "https://idp.example.it"
SP = "https://valmora.example.it/accesso/spid/metadata"


def sig(ref):
    return (f'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
            f'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
            f'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
            f'<ds:Reference URI="#{ref}"><ds:Transforms>'
            f'<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>'
            f'<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>'
            f'<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
            f'<ds:DigestValue>47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=</ds:DigestValue></ds:Reference>'
            f'</ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue><ds:KeyInfo><ds:X509Data>'
            f'<ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>')


ASSERTION = (
    f'<saml:Assertion ID="_assert1" Version="2.0" IssueInstant="{II}">'
    f'<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{IDP}</saml:Issuer>{sig("_assert1")}'
    f'<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" NameQualifier="{IDP}">_n</saml:NameID>'
    f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData '
    f'InResponseTo="_req1" NotOnOrAfter="{NOA}" Recipient="{ACS}"/></saml:SubjectConfirmation></saml:Subject>'
    f'<saml:Conditions NotBefore="{II}" NotOnOrAfter="{NOA}"><saml:AudienceRestriction><saml:Audience>{SP}'
    f'</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{II}" '
    f'SessionIndex="_s"><saml:AuthnContext><saml:AuthnContextClassRef>https://www.spid.gov.it/SpidL2'
    f'</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement>'
    f'<saml:Attribute Name="fiscalNumber"><saml:AttributeValue>TINIT-RSSMRA80A01H501U</saml:AttributeValue>'
    f'</saml:Attribute></saml:AttributeStatement></saml:Assertion>')


def response(status, assertion, signed=True):
    return (f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" IssueInstant="{II}" '
            f'Destination="{ACS}" InResponseTo="_req1"><saml:Issuer '
            f'Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{IDP}</saml:Issuer>'
            f'{sig("_resp1") if signed else ""}<samlp:Status>{status}</samlp:Status>{assertion}</samlp:Response>')


OK = '<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
FAIL = ('<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode '
        'Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode>'
        '<samlp:StatusMessage>ErrorCode nr22</samlp:StatusMessage>')
good = response(OK, ASSERTION)
write("saml_response", "signed_shape", good)
write("saml_response", "assertion_signed_only", response(OK, ASSERTION, signed=False))
write("saml_response", "failed_unsigned", response(FAIL, "", signed=False))
write("saml_response", "failed_signed", response(FAIL, "", signed=True))
write("saml_response", "base64", base64.b64encode(good.encode()))
write("saml_response", "doctype", '<!DOCTYPE r [<!ENTITY x "y">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;</samlp:Response>')

# --- workflow -----------------------------------------------------------------
wsrc = (ROOT / "src/backoffice/workflow.rs").read_text()
m = re.search(r'const STANDARD: &str = r#"(.*?)"#;', wsrc, re.S)
write("workflow", "standard", m.group(1))
for path in sorted(ROOT.glob("tenants/*/procedures/*.toml")):
    text = path.read_text()
    if "[workflow]" in text:
        body = text[text.index("[workflow]"):]
        # The [workflow] table of the file, as a document of its own.
        write("workflow", f"{path.parent.parent.name}-{path.stem}", re.sub(r"\bworkflow\.", "", body.replace("[workflow]\n", "", 1)))
        write("workflow", f"{path.parent.parent.name}-{path.stem}-procedure", text)
