// A real OpenID Provider for the tests: panva's oidc-provider (certified), on 127.0.0.1.
//
//   node tests/idp/oidc_provider.mjs CONFIG.json
//
// CONFIG.json: {"port", "client_id", "client_secret", "redirect_uris": [...],
//               "jwks": {"keys": [private JWK]}, "users_file": "users.json"}
// users.json maps a login to its claims ({"ana": {"email": ..., "groups": [...]}}); it is
// read at every sign-in, so a test changes someone's groups or department between two
// sign-ins by rewriting it. The sign-in page asks only for the login (no password): the
// site under test never sees it, and the protocol is what is being tested.
import { readFileSync } from "node:fs";
import http from "node:http";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const users = () => JSON.parse(readFileSync(config.users_file, "utf8"));
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    response_types: ["code"],
    grant_types: ["authorization_code"],
    token_endpoint_auth_method: "client_secret_post",
  }],
  jwks: config.jwks,
  cookies: { keys: ["tests-only-cookie-key"] },
  pkce: { required: () => true },  // S256 only (the default method list)
  scopes: ["openid", "email", "profile", "groups"],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
    groups: ["groups", "department"],
  },
  // Put the scopes' claims in the ID token too, as Entra ID and Keycloak do.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const claims = users()[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...users()[id] }; } };
  },
});
provider.proxy = false;

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function interaction(req, res, uid) {
  if (req.method === "GET") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>Test IdP</title><h1>Test identity provider</h1>
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Login <input name="login" autofocus></label>
<button type="submit">Sign in at the IdP</button></form>`);
    return;
  }
  let body = "";
  for await (const chunk of req) body += chunk;
  const login = new URLSearchParams(body).get("login") || "";
  const details = await provider.interactionDetails(req, res);
  if (!users()[login]) {
    await provider.interactionFinished(req, res, { error: "access_denied", error_description: "unknown login" });
    return;
  }
  const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: login }, consent: { grantId } },
    { mergeWithLastSubmission: false });
}

const callback = provider.callback();
http.createServer((req, res) => {
  const match = req.url.match(/^\/interaction\/([^/?]+)(\/login)?/);
  if (match) {
    interaction(req, res, match[1]).catch((err) => {
      res.writeHead(500); res.end(String(err));
    });
    return;
  }
  callback(req, res);
}).listen(config.port, "127.0.0.1", () => console.log(`oidc-provider ready at ${issuer}`));
