"""The audit log for admins: browse and filter it, and take the filtered log as CSV
(itself an export, so it leaves an entry)."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import Role
from core.permissions import role_required
from core.spreadsheet import csv_response

from . import selectors
from .forms import LogFilterForm
from .services import Origin, audit_record

PAGE_SIZE = 50


@role_required(Role.ADMIN)
@require_GET
def log(request):
    form = LogFilterForm(request.GET)
    entries = selectors.audit_entries(filters=form.filters())
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/log.html", {"form": form, "page": page, "query": query.urlencode()})


@role_required(Role.ADMIN)
@require_GET
def log_csv(request):
    form = LogFilterForm(request.GET)
    filters = form.filters()
    audit_record(action="audit.exported", origin=Origin.from_request(request),
                 after={k: str(v) for k, v in vars(filters).items() if v})
    return csv_response(selectors.audit_csv_rows(filters=filters), name="llm-academy-audit")
