import pytest

from accounts.models import Role, Team, User
from accounts.services import ImportError_, people_import_csv

GOOD = """username,email,name,team,role
alice,alice@example.com,Alice Liddell,Research,employee
bob,bob@example.com,Bob Builder,Research,manager
carol,carol@example.com,Carol Danvers,Support,admin
"""


@pytest.mark.django_db
def test_import_creates_users_teams_and_managers():
    result = people_import_csv(text=GOOD)
    assert (result.created, result.updated, result.teams_created) == (3, 0, 2)
    research = Team.objects.get(name="Research")
    assert list(research.managers.values_list("username", flat=True)) == ["bob"]
    assert set(research.members.values_list("username", flat=True)) == {"alice", "bob"}
    carol = User.objects.get(username="carol")
    assert carol.role == Role.ADMIN and carol.is_staff and carol.is_superuser
    # Imported users have no usable password until one is set.
    assert not User.objects.get(username="alice").has_usable_password()


@pytest.mark.django_db
def test_reimport_updates_instead_of_duplicating():
    people_import_csv(text=GOOD)
    result = people_import_csv(text=GOOD.replace("Alice Liddell", "Alice L."))
    assert (result.created, result.updated, result.teams_created) == (0, 3, 0)
    assert User.objects.get(username="alice").name == "Alice L."
    assert User.objects.count() == 3


@pytest.mark.django_db
def test_bad_rows_name_their_lines_and_change_nothing():
    bad = (
        "username,email,name,team,role\n"
        "dave,dave@example.com,Dave,Ops,employee\n"
        "erin,not-an-email,Erin,Ops,employee\n"
        ",x@example.com,Nobody,Ops,employee\n"
        "frank,frank@example.com,Frank,Ops,boss\n"
        "dave,dave2@example.com,Dave again,Ops,employee\n"
        "gina,gina@example.com,Gina,,manager\n"
    )
    with pytest.raises(ImportError_) as excinfo:
        people_import_csv(text=bad)
    errors = excinfo.value.errors
    assert any(e.startswith("line 3:") and "not-an-email" in e for e in errors)
    assert any(e.startswith("line 4:") and "username is empty" in e for e in errors)
    assert any(e.startswith("line 5:") and "'boss'" in e for e in errors)
    assert any(e.startswith("line 6:") and "line 2" in e for e in errors)
    assert any(e.startswith("line 7:") and "manager needs a team" in e for e in errors)
    # The good row on line 2 was not written either.
    assert not User.objects.exists()
    assert not Team.objects.exists()


@pytest.mark.django_db
def test_missing_columns_are_reported():
    with pytest.raises(ImportError_) as excinfo:
        people_import_csv(text="username,email\nzed,zed@example.com\n")
    assert "missing column(s): name, team, role" in excinfo.value.errors[0]


@pytest.mark.django_db
def test_multiline_field_reports_physical_line():
    text = 'username,email,name,team,role\nhal,hal@example.com,"Hal\nNine",Ops,employee\nivy,bad,Ivy,Ops,employee\n'
    with pytest.raises(ImportError_) as excinfo:
        people_import_csv(text=text)
    assert excinfo.value.errors == ["line 4: 'bad' is not a valid email address"]
