"""A real SAML 2.0 identity provider for tests: SimpleSAMLphp from Debian's packages
(`apt-get install simplesamlphp`), served by PHP's built-in server on a free port, with its
configuration in tests/idp/simplesamlphp/ and what varies in a JSON file beside a fresh
signing key. Test users sign in with their login as password; their attributes are read
from users.json at every sign-in."""

import datetime
import json
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.processes import ROOT, free_port, stop

SSP_WWW = Path("/usr/share/simplesamlphp/www")
CONFIG = ROOT / "tests" / "idp" / "simplesamlphp"


@dataclass
class SAMLProvider:
    base_url: str
    config_file: Path
    users_file: Path

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/simplesaml/saml2/idp/metadata.php"

    def set_user(self, login: str, **attributes) -> None:
        users = json.loads(self.users_file.read_text())
        users[login] = {k: v if isinstance(v, list) else [v] for k, v in attributes.items()}
        self.users_file.write_text(json.dumps(users))

    def configure_sp(self, **options) -> None:
        """Change how the IdP treats the site (e.g. assertion lifetime), from the next sign-in."""
        config = json.loads(self.config_file.read_text())
        config["service_providers"][0].update(options)
        self.config_file.write_text(json.dumps(config))


def _key_and_cert(folder: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-idp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    (folder / "idp.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    (folder / "idp.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def saml_site_url(live_server) -> str:
    """The site as the SAML tests reach it: on 127.0.0.1 like the IdP, so the browser
    treats the IdP's POST back as same-site (see SAML_SESSION_COOKIE_SAMESITE)."""
    return live_server.url.replace("localhost", "127.0.0.1")


@pytest.fixture(scope="session")
def saml_provider(live_server):
    php = shutil.which("php")
    if not php or not SSP_WWW.is_dir():
        pytest.fail("The SAML tests need SimpleSAMLphp: apt-get install -y simplesamlphp xmlsec1")
    folder = Path(tempfile.mkdtemp(prefix="saml-idp-"))
    (folder / "tmp").mkdir()
    (folder / "docroot").mkdir()
    (folder / "docroot" / "simplesaml").symlink_to(SSP_WWW)
    _key_and_cert(folder)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    site = saml_site_url(live_server)
    users_file = folder / "users.json"
    users_file.write_text("{}")
    config_file = folder / "config.json"
    config_file.write_text(json.dumps({
        "base_url": base_url, "folder": str(folder), "secret": secrets.token_hex(16), "users_file": str(users_file),
        "service_providers": [{"entity_id": f"{site}/accounts/sso/saml/metadata/",
                               "acs_url": f"{site}/accounts/sso/saml/acs/"}],
    }))
    log = open(folder / "php.log", "w")  # noqa: SIM115  (closed below)
    env = {"PATH": "/usr/bin:/bin", "SIMPLESAMLPHP_CONFIG_DIR": str(CONFIG / "config"),
           "SSP_TEST_CONFIG": str(config_file)}
    proc = subprocess.Popen([php, "-S", f"127.0.0.1:{port}", "-t", str(folder / "docroot")], cwd=folder, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    provider = SAMLProvider(base_url=base_url, config_file=config_file, users_file=users_file)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"SimpleSAMLphp exited with {proc.returncode}: {(folder / 'php.log').read_text()}")
        try:
            with urllib.request.urlopen(provider.metadata_url, timeout=5) as r:  # noqa: S310
                if r.read().lstrip().startswith(b"<?xml"):
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"SimpleSAMLphp did not serve its metadata within 30 s; see {folder}")
        time.sleep(0.3)
    yield provider
    stop(proc)
    log.close()
    shutil.rmtree(folder, ignore_errors=True)


def saml_settings(provider: SAMLProvider, site: str) -> dict:
    """The settings a site configured from SAML_* variables for this provider has."""
    from django.conf import settings

    from config.settings.saml import saml_config

    return {
        "SAML_CONFIG": saml_config(base_url=site, metadata_url=provider.metadata_url),
        "AUTHENTICATION_BACKENDS": [*settings.AUTHENTICATION_BACKENDS, "accounts.saml.SAMLBackend"],
        # Production's cookie is SameSite=None and Secure; over plain http the browser
        # refuses that, and the IdP on 127.0.0.1 is same-site with the site anyway.
        "SAML_SESSION_COOKIE_SAMESITE": "Lax",
        "SSO_COMPANY_NAME": "Acme", "SSO_MANAGER_GROUPS": ["academy-managers"],
        "SSO_ADMIN_GROUPS": ["academy-admins"], "SAML_EMAIL_ATTRIBUTE": "email",
        "SAML_NAME_ATTRIBUTE": "displayName",
    }
