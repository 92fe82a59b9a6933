"""Under ASGI the whole middleware chain runs in one thread per request: a page costs a
handful of thread hand-offs, not one or two per middleware (core.middleware.DomainErrorMiddleware)."""

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.test import AsyncClient

from accounts.models import Role
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_page_under_asgi_hands_off_to_threads_a_few_times_only(monkeypatch):
    client = AsyncClient()
    await sync_to_async(client.force_login)(await sync_to_async(make_user)(Role.EMPLOYEE))
    hops = []
    original = SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    response = await client.get("/learn/")
    assert response.status_code == 200
    # The request_started/finished signals, the middleware chain, the view and closing
    # the response: about five. With the chain in async mode, each of the nine
    # MiddlewareMixin middlewares added one or two more.
    assert len(hops) <= 8, hops
