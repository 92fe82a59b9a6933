"""A real OpenID Provider for tests: panva's `oidc-provider` from npm (node_modules), run by
tests/idp/oidc_provider.mjs on a free port, with one client whose redirect URI is the
live server's callback. Its signing key is made here, so a test can also mint a token the
provider's JWKS vouches for but whose claims are wrong (expired, another audience).
"""

import json
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from tests.processes import ROOT, free_port, stop

SCRIPT = ROOT / "tests" / "idp" / "oidc_provider.mjs"


@dataclass
class OIDCProvider:
    issuer: str
    client_id: str
    client_secret: str
    users_file: Path
    private_key: object
    kid: str

    def set_user(self, login: str, **claims) -> None:
        """Add or change someone at the provider; read at their next sign-in."""
        users = json.loads(self.users_file.read_text())
        users[login] = claims
        self.users_file.write_text(json.dumps(users))

    def django_settings(self) -> dict:
        """The settings a site configured from OIDC_* variables for this provider has."""
        return {
            "OIDC_RP_CLIENT_ID": self.client_id, "OIDC_RP_CLIENT_SECRET": self.client_secret,
            "OIDC_OP_ISSUER": self.issuer,
            "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{self.issuer}/auth",
            "OIDC_OP_TOKEN_ENDPOINT": f"{self.issuer}/token",
            "OIDC_OP_USER_ENDPOINT": f"{self.issuer}/me",
            "OIDC_OP_JWKS_ENDPOINT": f"{self.issuer}/jwks",
            "OIDC_RP_SCOPES": "openid email profile groups",
            "AUTHENTICATION_BACKENDS": [*settings.AUTHENTICATION_BACKENDS, "accounts.oidc.OIDCBackend"],
            "SSO_COMPANY_NAME": "Acme", "SSO_MANAGER_GROUPS": ["academy-managers"],
            "SSO_ADMIN_GROUPS": ["academy-admins"],
        }

    def mint(self, claims: dict) -> str:
        """An ID token signed with the provider's own key."""
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid})


def node() -> str:
    path = shutil.which("node")
    if not path:
        pytest.fail("The OpenID Provider tests need Node.js: apt-get install -y nodejs npm")
    if not (ROOT / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("oidc-provider is missing from node_modules: npm ci")
    return path


@pytest.fixture(scope="session")
def oidc_provider(live_server):
    folder = Path(tempfile.mkdtemp(prefix="oidc-idp-"))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = secrets.token_hex(8)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key)) | {"kid": kid, "alg": "RS256", "use": "sig"}
    port = free_port()
    users_file = folder / "users.json"
    users_file.write_text("{}")
    config = {"port": port, "client_id": "academy", "client_secret": secrets.token_urlsafe(24),
              "redirect_uris": [f"{live_server.url}/accounts/sso/oidc/callback/"],
              "jwks": {"keys": [jwk]}, "users_file": str(users_file)}
    (folder / "config.json").write_text(json.dumps(config))
    log = open(folder / "oidc-provider.log", "w")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen([node(), str(SCRIPT), str(folder / "config.json")], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"oidc-provider exited with {proc.returncode}: {(folder / 'oidc-provider.log').read_text()}")
        try:
            with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2):  # noqa: S310
                break
        except OSError:
            if time.monotonic() > deadline:
                stop(proc)
                pytest.fail("oidc-provider did not answer within 30 s")
            time.sleep(0.2)
    yield OIDCProvider(issuer=issuer, client_id=config["client_id"], client_secret=config["client_secret"],
                       users_file=users_file, private_key=key, kid=kid)
    stop(proc)
    log.close()
    shutil.rmtree(folder, ignore_errors=True)
