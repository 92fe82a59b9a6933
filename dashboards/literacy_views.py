"""The AI-literacy record's pages: everyone the viewer may see, one team or one person,
as a printable page or as CSV. Outside the viewer's scope is a 404 (core.policy)."""

from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from accounts.models import Role
from audit.services import Origin
from core.permissions import role_required
from core.spreadsheet import csv_response

from . import literacy, services


def _scope(request, team_id, user_id):
    people, team = literacy.literacy_people(viewer=request.user, team_id=team_id, user_id=user_id)
    return people, team, literacy.literacy_records(people=people)


@role_required(Role.MANAGER)
@require_GET
def record(request, team_id: int | None = None, user_id: int | None = None):
    people, team, records = _scope(request, team_id, user_id)
    return render(request, "dashboards/literacy.html", {
        "team": team, "person": people[0] if user_id else None, "records": records,
        "generated_at": timezone.now(), "active_count": sum(1 for p in people if p.is_active),
        "csv_url": request.path.rstrip("/") + ".csv",
    })


@role_required(Role.MANAGER)
@require_GET
def record_csv(request, team_id: int | None = None, user_id: int | None = None):
    people, team, records = _scope(request, team_id, user_id)
    services.export_downloaded(kind="literacy", origin=Origin.from_request(request), params={
        "team": team.pk if team else None, "person": user_id, "people": len(people), "language": get_language()})
    # Made now, in the request's language: the response streams later, maybe in another thread.
    rows = list(literacy.literacy_csv_rows(records=records, absolute_url=request.build_absolute_uri))
    return csv_response(rows, name="ai-literacy-record", bom=True)
