from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scim.models import ScimToken
from scim.tokens import token_create, token_revoke, token_rotate


class Command(BaseCommand):
    help = ("Bearer tokens for directory sync (SCIM). create and rotate print the token once; "
            "only its hash is kept.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "rotate", "revoke", "list"])
        parser.add_argument("name", nargs="?", help="a short name, e.g. okta-prod (it goes into the audit log)")

    def handle(self, *args, action, name, **opts):
        if action == "list":
            for token in ScimToken.objects.all():
                state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "live"
                used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
                self.stdout.write(f"{token.name}\t{state}\tlast used {used}")
            return
        if not name:
            raise CommandError(f"scim_token {action} needs a NAME")
        try:
            if action == "revoke":
                token_revoke(name=name)
                self.stdout.write(self.style.SUCCESS(f"Revoked {name}; it is refused from now on."))
                return
            _token, raw = (token_create if action == "create" else token_rotate)(name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"SCIM token {name} (shown once; only its hash is kept):"))
        self.stdout.write(raw)
