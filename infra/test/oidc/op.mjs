#!/usr/bin/env node
// Local OpenID Connect provider for Sportello's integration tests (staff sign-in).
// DEV/TEST ONLY: plain http, generated keys, in-memory storage, password-less
// scriptable login. Never expose it beyond 127.0.0.1.
//
//   node infra/test/oidc/op.mjs --port 0 [--host 127.0.0.1] [--issuer URL]
//        [--config clients-and-users.json] [--exit-with-stdin]
//
// Prints exactly one line on stdout, `READY <issuer>`, once it is listening;
// everything else goes to stderr. See README.md beside this file.

import * as http from 'node:http';
import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

// ---------------------------------------------------------------- options --

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.OIDC_PORT ?? '0' },
    host: { type: 'string', default: process.env.OIDC_HOST ?? '127.0.0.1' },
    issuer: { type: 'string', default: process.env.OIDC_ISSUER },
    config: { type: 'string', default: process.env.OIDC_CONFIG },
    'exit-with-stdin': { type: 'boolean', default: false },
  },
  strict: true,
});

function die(message) {
  process.stderr.write(`op.mjs: ${message}\n`);
  process.exit(2);
}

function parseJson(text, where) {
  try {
    return JSON.parse(text);
  } catch (err) {
    return die(`${where} is not valid JSON: ${err.message}`);
  }
}

const fileConfig = args.config ? parseJson(readFileSync(args.config, 'utf8'), args.config) : {};
const asList = (v) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

// Built-in defaults: one confidential client, three staff accounts of the
// Valmora municipality (the third has an unverified e-mail, for negative tests).
const DEFAULT_CLIENTS = [
  {
    client_id: 'sportello-valmora',
    client_secret: 'sportello-valmora-secret',
    redirect_uris: ['http://valmora.localhost/backoffice/accesso/oidc/callback'],
    redirect_uris_any_port: true,
  },
];

const DEFAULT_USERS = [
  {
    sub: 'b3c1f0de-0001-4d6a-9c1e-valmora00001',
    email: 'mario.rossi@valmora.example',
    email_verified: true,
    name: 'Mario Rossi',
    given_name: 'Mario',
    family_name: 'Rossi',
    password: 'password',
  },
  {
    sub: 'b3c1f0de-0002-4d6a-9c1e-valmora00002',
    email: 'giulia.bianchi@valmora.example',
    email_verified: true,
    name: 'Giulia Bianchi',
    given_name: 'Giulia',
    family_name: 'Bianchi',
    password: 'password',
  },
  {
    sub: 'b3c1f0de-0003-4d6a-9c1e-valmora00003',
    email: 'luca.verdi@valmora.example',
    email_verified: false,
    name: 'Luca Verdi',
    given_name: 'Luca',
    family_name: 'Verdi',
    password: 'password',
  },
];

const clientsIn = asList(process.env.OIDC_CLIENTS ? parseJson(process.env.OIDC_CLIENTS, 'OIDC_CLIENTS') : undefined)
  ?? asList(fileConfig.clients) ?? DEFAULT_CLIENTS;
const usersIn = asList(process.env.OIDC_USERS ? parseJson(process.env.OIDC_USERS, 'OIDC_USERS') : undefined)
  ?? asList(fileConfig.users) ?? DEFAULT_USERS;

// Our own client keys (not oidc-provider metadata) are taken off here.
const anyPortClients = new Set();
const clients = clientsIn.map((c, i) => {
  const { redirect_uris_any_port: anyPort, ...metadata } = c;
  if (!metadata.client_id) die(`client #${i} has no client_id`);
  if (!Array.isArray(metadata.redirect_uris) || metadata.redirect_uris.length === 0) {
    die(`client ${metadata.client_id} has no redirect_uris`);
  }
  if (anyPort) anyPortClients.add(metadata.client_id);
  return {
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...metadata,
  };
});

const users = new Map();
for (const [i, u] of usersIn.entries()) {
  if (!u.sub) die(`user #${i} has no sub`);
  users.set(u.sub, u);
}
// A login name is the e-mail or the sub, case-insensitive.
function findUser(login) {
  const wanted = String(login ?? '').trim().toLowerCase();
  if (!wanted) return undefined;
  for (const u of users.values()) {
    if (u.sub.toLowerCase() === wanted || u.email?.toLowerCase() === wanted) return u;
  }
  return undefined;
}

// ----------------------------------------------------------------- server --

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), args.host, resolve);
});
const { port } = server.address();
const hostForUrl = args.host.includes(':') ? `[${args.host}]` : args.host;
const issuer = (args.issuer ?? `http://${hostForUrl}:${port}`).replace(/\/$/, '');

// A fresh RSA key per run (RS256). Clients fetch it from jwks_uri.
const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `test-${crypto.randomBytes(6).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  scopes: ['openid', 'email', 'profile', 'offline_access'],
  responseTypes: ['code'],
  // Put the scope's claims (email, name, ...) into the id_token too, not only
  // into the userinfo response.
  conformIdTokenClaims: false,
  // PKCE (S256 is the only method oidc-provider 9 accepts) for every client,
  // confidential ones included.
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
  },
  interactions: {
    url: (ctx, interaction) => `${issuer}/interaction/${interaction.uid}`,
  },
  async findAccount(ctx, sub) {
    const user = users.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        const { password, ...claims } = user;
        return claims;
      },
    };
  },
  clientBasedCORS: () => false,
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    Grant: 3600,
    Session: 3600,
  },
  async renderError(ctx, out) {
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
  },
});

// Redirect URIs registered with `redirect_uris_any_port: true` match whatever
// port the test server picked (scheme, host, path and query must still match).
const withoutPort = (uri) => {
  const u = URL.parse(uri);
  if (!u) return undefined;
  u.port = '';
  return u.href;
};
const redirectUriAllowed = provider.Client.prototype.redirectUriAllowed;
provider.Client.prototype.redirectUriAllowed = function allowed(value) {
  if (redirectUriAllowed.call(this, value)) return true;
  if (!anyPortClients.has(this.clientId)) return false;
  const wanted = withoutPort(value);
  return wanted !== undefined && this.redirectUris.some((r) => withoutPort(r) === wanted);
};

for (const event of ['authorization.error', 'grant.error', 'server_error', 'userinfo.error', 'introspection.error']) {
  provider.on(event, (ctx, err) => {
    const why = [err.error_description, err.error_detail, err.cause?.message].filter(Boolean).join(' / ');
    process.stderr.write(`op.mjs: ${event}: ${err.message}${why ? ` (${why})` : ''}\n`);
  });
}

// ---------------------------------------------------------- interactions --

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function send(res, status, type, body) {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

function loginPage(res, uid, details, message, status = 200) {
  const client = details.params.client_id;
  send(res, status, 'text/html; charset=utf-8', `<!doctype html>
<html lang="it"><head><meta charset="utf-8"><title>IdP di prova — accesso</title></head>
<body>
<h1>IdP di prova (test only)</h1>
<p>Client: <code>${escapeHtml(client)}</code></p>
${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}">
  <label>Utente (e-mail o sub) <input name="login" autocomplete="username" autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"></label>
  <button type="submit">Accedi</button>
  <button type="submit" name="abort" value="1">Annulla</button>
</form>
</body></html>
`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Grants what the authorization request asked for, so that no consent page is
// ever shown (the municipality's IdP is trusted by the portal).
async function autoConsentGrant(details, accountId) {
  const { params } = details;
  let grant;
  if (details.grantId) grant = await provider.Grant.find(details.grantId);
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }
  grant.addOIDCScope(String(params.scope ?? 'openid'));
  const missingClaims = details.prompt.details?.missingOIDCClaims;
  if (missingClaims?.length) grant.addOIDCClaims(missingClaims);
  const missingResources = details.prompt.details?.missingResourceScopes ?? {};
  for (const [indicator, scopes] of Object.entries(missingResources)) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function handleInteraction(req, res, uid) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    // No or expired `_interaction` cookie (wrong path, other cookie jar, ...).
    return send(res, 400, 'text/plain; charset=utf-8', `interaction not found: ${err.message}\n`);
  }
  if (details.uid !== uid) {
    return send(res, 400, 'text/plain; charset=utf-8', 'interaction cookie does not match the URL\n');
  }

  if (details.prompt.name === 'consent') {
    // Existing session: nothing to type, consent is given straight away.
    const grantId = await autoConsentGrant(details, details.session.accountId);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  if (req.method === 'GET') return loginPage(res, uid, details);
  if (req.method !== 'POST') return send(res, 405, 'text/plain', 'method not allowed\n');

  const form = await readForm(req);
  if (form.get('abort')) {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }
  const user = findUser(form.get('login'));
  if (!user || (user.password !== undefined && user.password !== (form.get('password') ?? ''))) {
    return loginPage(res, uid, details, 'Utente o password errati.', 401);
  }
  const grantId = await autoConsentGrant(details, user.sub);
  return provider.interactionFinished(req, res, {
    login: { accountId: user.sub, amr: ['pwd'] },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const providerCallback = provider.callback();
server.on('request', (req, res) => {
  const { pathname } = new URL(req.url, issuer);
  const m = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(pathname);
  if (!m) return providerCallback(req, res);
  return handleInteraction(req, res, m[1]).catch((err) => {
    process.stderr.write(`op.mjs: interaction error: ${err.stack ?? err}\n`);
    if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `${err.message}\n`);
    else res.end();
  });
});

// --------------------------------------------------------------- lifetime --

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (args['exit-with-stdin']) {
  // The test harness holds our stdin; when it dies, so do we.
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.resume();
}

// oidc-provider validates static clients lazily; fail now rather than mid-test.
for (const c of clients) {
  try {
    await provider.Client.find(c.client_id);
  } catch (err) {
    die(`client ${c.client_id}: ${err.error_description ?? err.message}`);
  }
}

process.stderr.write(`op.mjs: clients: ${clients.map((c) => `${c.client_id} -> ${c.redirect_uris.join(', ')}${anyPortClients.has(c.client_id) ? ' (any port)' : ''}`).join('; ')}\n`);
process.stderr.write(`op.mjs: users: ${[...users.values()].map((u) => u.email ?? u.sub).join(', ')}\n`);
process.stdout.write(`READY ${issuer}\n`);
