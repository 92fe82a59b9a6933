"""ASGI entry point: Django for HTTP, Channels for WebSockets.

In the embedded default the model worker runs inside this process; it starts on
the ASGI lifespan "startup" event (uvicorn sends one) and stops on "shutdown".
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# Initialise Django (apps, settings) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from core.origin import StrictOriginValidator  # noqa: E402
from ops.lifespan import LifespanApp  # noqa: E402
from playground.routing import websocket_urlpatterns  # noqa: E402

# Scheme, host and port of the Origin must be ours (core/origin.py), not only the host.
websocket_app = StrictOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))

application = LifespanApp(
    ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_app})
)
