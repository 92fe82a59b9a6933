from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Role
from accounts.services import (
    ImportError_,
    people_import_file,
    team_get_or_create,
    team_managers_add,
    user_create_or_update,
    user_erase,
)
from audit.services import COMMAND


class Command(BaseCommand):
    help = "Create users and teams, or bulk-import them from CSV (username,email,name,team,role)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="Import a CSV file; a bad row changes nothing.")
        imp.add_argument("csv_file")
        add = sub.add_parser("add", help="Create or update one user.")
        add.add_argument("username")
        add.add_argument("--email", default="")
        add.add_argument("--name", default="")
        add.add_argument("--team", default="")
        add.add_argument("--role", default=Role.EMPLOYEE, choices=Role.values)
        add.add_argument("--password", help="Set this password (otherwise the user cannot log in until one is set).")
        team = sub.add_parser("team", help="Create a team, optionally naming its managers.")
        team.add_argument("name")
        team.add_argument("--manager", action="append", default=[], help="username; repeatable")

        erase = sub.add_parser("erase", help="Erase a person on purpose (anonymised; see docs/DEPLOY.md). "
                                             "A leaver is deactivated, not erased.")
        erase.add_argument("username")
        erase.add_argument("--yes", action="store_true", help="Confirm: this cannot be undone.")

    def handle(self, *args, action, **opts):
        getattr(self, f"handle_{action}")(**opts)

    def handle_import(self, csv_file, **_):
        path = Path(csv_file)
        if not path.is_file():
            raise CommandError(f"{path} does not exist")
        try:
            result = people_import_file(data=path.read_bytes())
        except ImportError_ as exc:
            raise CommandError("Nothing was imported. Fix these rows and run again:\n  " + "\n  ".join(exc.errors)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.created} new and {result.updated} updated users, "
                f"{result.teams_created} new teams."
            )
        )

    def handle_add(self, username, email, name, team, role, password, **_):
        try:
            team_obj = team_get_or_create(name=team, origin=COMMAND) if team else None
            user = user_create_or_update(
                username=username, email=email, name=name, role=role, team=team_obj, password=password,
                origin=COMMAND,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Saved {user.username} ({user.role})"))

    def handle_team(self, name, manager, **_):
        from accounts.models import User

        users = []
        for username in manager:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"No user {username!r}")
            users.append(user)
        team = team_get_or_create(name=name, origin=COMMAND)
        try:
            team_managers_add(team=team, users=users, origin=COMMAND)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Team {team.name}: managers {[u.username for u in team.managers.all()]}"))

    def handle_erase(self, username, yes, **_):
        from accounts.models import User

        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}")
        if not yes:
            raise CommandError(f"Erasing {username} cannot be undone; run again with --yes.")
        user = user_erase(user=user, origin=COMMAND)
        self.stdout.write(self.style.SUCCESS(f"Erased {username}: now {user.username}, with no name or email."))
