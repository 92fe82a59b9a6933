"""Team dashboards, assignments, drill-down, My progress and CSV exports. Each view
parses its input with a scoped form, calls one selector or service, and renders.
Anything outside the viewer's scope is a 404, never a hint that it exists."""


from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from audit.services import Origin
from core.permissions import role_required
from core.spreadsheet import csv_response

from . import exports, people, scope, selectors, services
from .filters import Filters
from .forms import AssignmentForm, ExportForm, FilterForm


def _filter_form(request, *, team_id: int | None = None) -> FilterForm:
    # Always bound: no parameters is a valid choice (every course, all time). On a team's
    # page the team select shows that team (choosing "all" goes back to the overview).
    data = request.GET
    if team_id is not None and "team" not in data:
        data = data.copy()
        data["team"] = str(team_id)
    form = FilterForm(data, viewer=request.user)
    # An unknown or foreign team or course is not a choice the viewer has.
    if not form.is_valid() and any(name in form.errors for name in ("team", "course")):
        raise Http404
    return form


def _filters(form: FilterForm) -> Filters:
    if form.errors:  # a bad date range: show the whole range and the error
        return Filters(courses=tuple(form.courses))
    return form.filters()


@role_required(Role.MANAGER)
@require_GET
def overview(request):
    form = _filter_form(request)
    team = form.cleaned_data.get("team")
    if team is not None:
        query = request.GET.copy()
        query.pop("team")
        return redirect(f"{reverse('dashboards:team', args=[team.pk])}?{query.urlencode()}")
    context = selectors.overview(viewer=request.user, filters=_filters(form))
    return render(request, "dashboards/overview.html", context | {"form": form, "query": request.GET.urlencode()})


def _matrix_course(request, form: FilterForm):
    return selectors.matrix_course(filters=_filters(form), wanted=request.GET.get("matrix", ""))


@role_required(Role.MANAGER)
@require_GET
def team(request, team_id: int):
    form = _filter_form(request, team_id=team_id)
    context = selectors.team_dashboard(viewer=request.user, team_id=team_id, filters=_filters(form),
                                       matrix_course=_matrix_course(request, form))
    query = request.GET.copy()
    query.pop("matrix", None)
    return render(request, "dashboards/team.html", context | {
        "form": form, "query": query.urlencode(), "assign_form": AssignmentForm(viewer=request.user, initial={
            "team": context["team"]})})


@role_required(Role.MANAGER)
@require_GET
def team_matrix(request, team_id: int):
    """HTMX partial: the matrix for another course."""
    form = _filter_form(request)
    context = selectors.team_matrix(viewer=request.user, team_id=team_id, course=_matrix_course(request, form))
    return render(request, "dashboards/partials/matrix.html", context | {
        "courses": form.courses, "query": request.GET.urlencode()})


@role_required(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def assign(request):
    form = AssignmentForm(request.POST or None, viewer=request.user, initial={"team": request.GET.get("team")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            assignment = services.assignment_create(assigned_by=request.user, course=data["course"],
                                                    due_date=data["due_date"], team=data["team"],
                                                    user=data["person"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("%(course)s assigned to %(who)s, due %(due)s.") % {
                "course": assignment.course.title_text, "who": assignment.team or assignment.user,
                "due": assignment.due_date.isoformat()})
            team_id = assignment.team_id or assignment.user.team_id
            return redirect("dashboards:team", team_id) if team_id else redirect("dashboards:overview")
    return render(request, "dashboards/assign.html", {"form": form})


@role_required(Role.MANAGER)
@require_POST
def assignment_delete(request, assignment_id: int):
    assignment = scope.assignment_get(viewer=request.user, assignment_id=assignment_id)
    team_id = assignment.team_id or assignment.user.team_id
    services.assignment_delete(deleted_by=request.user, assignment=assignment)
    messages.success(request, _("Assignment removed."))
    return redirect("dashboards:team", team_id)


@role_required(Role.MANAGER)
@require_GET
def person(request, user_id: int):
    person = scope.person_get(viewer=request.user, user_id=user_id)
    return render(request, "dashboards/person.html", people.person_detail(person=person) | {"drilldown": True})


@role_required(Role.EMPLOYEE)
@require_GET
def my_progress(request):
    return render(request, "dashboards/person.html", people.person_detail(person=request.user))


@role_required(Role.MANAGER)
@require_POST
def export(request):
    """Small exports stream straight back; large ones become a background job."""
    form = ExportForm(request.POST, viewer=request.user)
    if not form.is_valid():
        if any(name in form.errors for name in ("team", "course")):
            raise Http404
        messages.error(request, " ".join(form.errors.get("__all__", [])) or _("Choose what to export."))
        return redirect("dashboards:overview")
    kind, params, filters = form.cleaned_data["kind"], form.export_params(), form.filters()
    team_ids = [params["team"]] if params["team"] else None
    size = exports.export_row_count(viewer=request.user, kind=kind, team_ids=team_ids, filters=filters)
    if size > settings.EXPORT_INLINE_MAX_ROWS:
        job = services.export_job_create(requested_by=request.user, kind=kind, params=params,
                                         origin=Origin.from_request(request))
        return redirect(job)
    services.export_downloaded(kind=kind, params=params, origin=Origin.from_request(request))
    rows = exports.export_rows(viewer=request.user, kind=kind, team_ids=team_ids, filters=filters)
    return csv_response(rows, name=f"llm-academy-{kind}")


@role_required(Role.MANAGER)
@require_GET
def export_detail(request, job_id: int):
    job = exports.export_job_get(viewer=request.user, job_id=job_id)
    return render(request, "dashboards/export.html", {"job": job})


@role_required(Role.MANAGER)
@require_GET
def export_status(request, job_id: int):
    """HTMX partial, polled every 2 s until the job is finished."""
    job = exports.export_job_get(viewer=request.user, job_id=job_id)
    return render(request, "dashboards/partials/export_status.html", {"job": job})


@role_required(Role.MANAGER)
@require_GET
def export_download(request, job_id: int):
    job = exports.export_download_get(viewer=request.user, job_id=job_id)
    try:  # from the default storage: the object store in production, whichever host built it
        f = default_storage.open(job.file_path, "rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    services.export_downloaded(kind=job.kind, params=job.params, origin=Origin.from_request(request), job=job)
    return FileResponse(f, as_attachment=True, filename=f"llm-academy-{job.kind}-{job.pk}.csv",
                        content_type="text/csv; charset=utf-8")

