from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running the site: health checks, the ASGI lifespan and the `serve`, `prepare` and
    `seed_demo` commands. It sits beside `config` and above the apps it starts and checks;
    `core`, the base layer, imports none of them."""

    name = "ops"
    verbose_name = "Operations"
