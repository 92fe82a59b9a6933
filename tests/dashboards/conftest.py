import pytest

from tests.dashboards.factories import make_course


@pytest.fixture
def course(db):
    return make_course(lessons=3)
