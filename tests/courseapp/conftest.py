import pytest

from courseapp.services import course_seed_builtin


@pytest.fixture
def builtin_course(db):
    return course_seed_builtin(log=lambda *_: None)
