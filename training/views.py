from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Role
from audit.services import Origin
from core.permissions import role_required

from . import selectors, services
from .forms import JobForm, QuotaForm
from .models import FineTuneJob, JobKind
from .params import ParamsInvalid


def _visible_job(request, pk) -> FineTuneJob:
    job = get_object_or_404(FineTuneJob.objects.select_related("user", "dataset"), pk=pk)
    if not selectors.job_visible_to(user=request.user, job=job):
        raise Http404  # another employee's job does not exist, as far as you can tell
    return job


@role_required(Role.EMPLOYEE)
@require_GET
def index(request):
    return render(request, "training/index.html", {"form": JobForm(), "jobs": selectors.jobs_for_user(user=request.user)})


@role_required(Role.EMPLOYEE)
@require_POST
def submit(request):
    form = JobForm(request.POST, request.FILES)
    dataset_errors = []
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = services.job_submit(
                user=request.user, kind=data["kind"], preset=data["preset"], method=data["method"],
                builtin_dataset=data["builtin_dataset"], upload=data["upload"], overrides=form.overrides(),
                name=data["name"], submission_token=data["submission_token"])
        except services.DatasetInvalid as exc:
            dataset_errors = exc.errors
        except ParamsInvalid as exc:
            for name, message in exc.errors.items():
                form.add_error(name if name in form.fields else None, message)
        except services.QuotaExceeded as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Fine-tune queued."))
            return redirect(job)
    return render(request, "training/index.html", {
        "form": form, "dataset_errors": dataset_errors, "jobs": selectors.jobs_for_user(user=request.user),
    }, status=400)


def _progress_context(request, job):
    metrics = selectors.job_metrics(job=job)
    return {
        "job": job,
        "metrics_last": metrics[-1] if metrics else None,
        "curve": selectors.loss_curve(metrics, total_steps=job.steps_total or 0),
        "pace": selectors.job_pace(job=job, metrics=metrics),
        "failure_message": selectors.job_failure_message(job=job),
        "position": selectors.queue_position(job=job),
        "logs": selectors.job_logs(job=job),
        "can_cancel": selectors.job_cancellable_by(user=request.user, job=job),
        # Only the owner may use the tuned model, so only they get the buttons that use it.
        "can_use_model": selectors.tuned_model_usable_by(user=request.user, job=job),
        "can_compare": job.kind == JobKind.CAUSAL_LM and selectors.tuned_model_usable_by(user=request.user, job=job),
        "is_classifier": job.kind == JobKind.CLASSIFIER,
    }


@role_required(Role.EMPLOYEE)
@require_GET
def job_detail(request, pk):
    job = _visible_job(request, pk)
    return render(request, "training/job.html", _progress_context(request, job))


@role_required(Role.EMPLOYEE)
@require_GET
def job_progress(request, pk):
    job = _visible_job(request, pk)
    return render(request, "training/partials/progress.html", _progress_context(request, job))


@role_required(Role.EMPLOYEE)
@require_POST
def job_cancel(request, pk):
    job = _visible_job(request, pk)
    if not selectors.job_cancellable_by(user=request.user, job=job):
        raise PermissionDenied
    try:
        services.job_cancel(job_id=job.pk)
    except services.JobNotCancellable as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, _("Cancelling…"))
    return redirect(job)


@role_required(Role.EMPLOYEE)
@require_GET
def compare(request, pk):
    job = _visible_job(request, pk)
    if job.kind != JobKind.CAUSAL_LM or not job.registered_model:
        raise Http404
    if not selectors.tuned_model_usable_by(user=request.user, job=job):
        raise PermissionDenied  # a manager sees the job, but the tuned model is its owner's
    return render(request, "training/compare.html", {"job": job})


@role_required(Role.ADMIN)
@require_GET
def backend(request):
    return render(request, "training/backend.html", selectors.backend_overview())


@role_required(Role.ADMIN)
@require_POST
def quota_update(request, user_id):
    user = get_object_or_404(get_user_model(), pk=user_id)
    form = QuotaForm(request.POST, instance=services.quota_for(user))
    if form.is_valid():
        services.quota_set(user=user, max_concurrent=form.cleaned_data["max_concurrent"],
                           gpu_seconds_per_week=form.cleaned_data["gpu_seconds_per_week"],
                           origin=Origin.from_request(request))
        messages.success(request, _("Quota for %(user)s saved.") % {"user": user.username})
    else:
        messages.error(request, _("Quota not saved: %(errors)s") % {"errors": form.errors.as_text()})
    return redirect("training:backend")
