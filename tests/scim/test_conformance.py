"""scim2-tester, the SCIM RFCs' conformance checker, against /scim/v2/ on a live server
(Django's threaded live server on the test database: SQLite, or PostgreSQL in the
production configuration). Its summary is printed; what it leaves out is listed below."""

from collections import Counter

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from scim.tokens import token_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Checks left out, each with its reason (also in docs/DEPLOY.md, "Directory sync"):
# (check, attribute) → why.
LEFT_OUT = {
    ("check_remove_attribute", "active"): "a person here is always active or deactivated; removing `active` "
                                          "deactivates them (as active:false does), and `active` stays in the "
                                          "resource, false",
}


def left_out(result) -> bool:
    urn = result.data.get("urn") if isinstance(result.data, dict) else None
    return (result.title, urn) in LEFT_OUT
PASSING = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED}


def test_scim2_tester_passes(live_server, capsys):
    _token, raw = token_create(name="scim2-tester")
    http = httpx2.Client(base_url=f"{live_server.url}/scim/v2", headers={"Authorization": f"Bearer {raw}"},
                         timeout=30)
    client = SyncSCIMClient(http)
    client.discover()
    results = check_server(client)
    counts = Counter(r.status.name for r in results)
    failed = [r for r in results if r.status not in PASSING and not left_out(r)]
    with capsys.disabled():
        print(f"\nscim2-tester: {len(results)} checks, " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for r in results:
            if r.status not in (Status.SUCCESS,):
                print(f"  {r.status.name:10} {r.resource_type or '':6} {r.title}: {(r.reason or '')[:300]}")
        for (title, urn), reason in LEFT_OUT.items():
            print(f"  left out: {title} on {urn}: {reason}")
    assert not failed, "\n".join(f"{r.title} ({r.resource_type}): {r.reason}" for r in failed)
