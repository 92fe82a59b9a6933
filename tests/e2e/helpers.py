"""Steps shared by the browser journeys."""

import re

from tests.factories import PASSWORD

LANDING = re.compile(r"/learn/$|/team/$|/curation/$")


def login(page, username: str, *, wait: bool = True):
    """Log in through the real form; by default wait until the role's landing page."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if wait:
        page.wait_for_url(LANDING)
