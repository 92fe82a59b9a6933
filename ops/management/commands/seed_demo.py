import json
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import Role, User
from accounts.services import team_get_or_create, user_create_or_update
from courseapp.services import course_seed_builtin

DEMO_USERS = [
    # username, full name, role
    ("employee", "Erin Employee", Role.EMPLOYEE),
    ("manager", "Mina Manager", Role.MANAGER),
    ("admin", "Ada Admin", Role.ADMIN),
]


class Command(BaseCommand):
    help = "Create the demo team and one user per role (idempotent), and print their passwords."

    def handle(self, *args, **options):
        path = settings.VAR_DIR / "demo-credentials.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        team = team_get_or_create(name="Demo team")
        for username, name, role in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            password = saved.get(username)
            if user is not None and password and user.check_password(password):
                continue  # already set up; hashing again would only slow the start
            # First run (or a reset database): a fresh random password, kept in var/ for the next run.
            password = secrets.token_urlsafe(9)
            user_create_or_update(
                username=username,
                email=f"{username}@example.com",
                name=name,
                role=role,
                team=team if role != Role.ADMIN else None,
                password=password,
            )
            saved[username] = password
        path.write_text(json.dumps(saved, indent=2))
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS("Demo users (username / password):"))
        for username, _name, role in DEMO_USERS:
            self.stdout.write(f"  {role:<9} {username:<9} {saved[username]}")
        course_seed_builtin(log=self.stdout.write)
