"""The audit log for admins: browse and filter it, and take the filtered log as CSV
(itself an export, so it leaves an entry)."""

import csv

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import Role
from core.permissions import role_required

from . import selectors
from .forms import LogFilterForm
from .services import Origin, audit_record

PAGE_SIZE = 50


class _Echo:
    def write(self, value):
        return value


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
    writer = csv.writer(_Echo())
    rows = selectors.audit_csv_rows(filters=filters)
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="llm-academy-audit-{stamp}.csv"'
    return response
