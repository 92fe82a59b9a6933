from django.urls import path

from . import views

app_name = "training"

urlpatterns = [
    path("", views.index, name="index"),
    path("submit/", views.submit, name="submit"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="progress"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="cancel"),
    path("jobs/<int:pk>/compare/", views.compare, name="compare"),
    path("backend/", views.backend, name="backend"),
    path("backend/quota/<int:user_id>/", views.quota_update, name="quota"),
]
