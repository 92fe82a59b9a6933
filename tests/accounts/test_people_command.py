import pytest
from django.core.management import CommandError, call_command

from accounts.models import Team, User


@pytest.mark.django_db
def test_command_imports_a_file(tmp_path, capsys):
    path = tmp_path / "people.csv"
    path.write_text("username,email,name,team,role\nann,ann@example.com,Ann,Data,manager\n", encoding="utf-8")
    call_command("people", "import", str(path))
    assert "Imported 1 new" in capsys.readouterr().out
    assert Team.objects.get(name="Data").managers.get().username == "ann"


@pytest.mark.django_db
def test_command_refuses_a_bad_file_and_writes_nothing(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("username,email,name,team,role\nann,ann@example.com,Ann,Data,employee\nbo,,Bo,Data,wizard\n")
    with pytest.raises(CommandError, match=r"Nothing was imported[\s\S]*line 3: role 'wizard'"):
        call_command("people", "import", str(path))
    assert not User.objects.exists()


@pytest.mark.django_db
def test_command_adds_a_user_and_a_team():
    call_command("people", "add", "zoe", "--role", "manager", "--team", "Infra", "--password", "s3cret-pass-123")
    zoe = User.objects.get(username="zoe")
    assert zoe.check_password("s3cret-pass-123")
    assert Team.objects.get(name="Infra").managers.filter(pk=zoe.pk).exists()
    call_command("people", "team", "Infra2", "--manager", "zoe")
    assert zoe.managed_teams.count() == 2
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("people", "team", "Infra3", "--manager", "nobody")


@pytest.mark.django_db
def test_a_latin1_file_is_refused_with_the_line_of_the_first_bad_byte(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes("username,email,name,team,role\nann,ann@example.com,Ann,Data,employee\n"
                     "jose,jose@example.com,José,Data,employee\n".encode("latin-1"))
    with pytest.raises(CommandError, match=r"Nothing was imported[\s\S]*line 3: byte 0xe9 at column 26 is not UTF-8"):
        call_command("people", "import", str(path))
    assert not User.objects.exists()


@pytest.mark.django_db
def test_only_a_manager_can_be_named_a_teams_manager():
    call_command("people", "add", "emil", "--role", "employee", "--team", "Infra")
    with pytest.raises(CommandError, match="not managers .*: emil"):
        call_command("people", "team", "Infra", "--manager", "emil")
    assert not Team.objects.get(name="Infra").managers.exists()
