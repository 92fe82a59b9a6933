from django.urls import path

from . import literacy_views, views

app_name = "dashboards"

urlpatterns = [
    path("team/", views.overview, name="overview"),
    path("team/<int:team_id>/", views.team, name="team"),
    path("team/<int:team_id>/matrix/", views.team_matrix, name="team_matrix"),
    path("team/assign/", views.assign, name="assign"),
    path("team/assignments/<int:assignment_id>/delete/", views.assignment_delete, name="assignment_delete"),
    path("team/people/<int:user_id>/", views.person, name="person"),
    path("team/export/", views.export, name="export"),
    path("team/exports/<int:job_id>/", views.export_detail, name="export"),
    path("team/exports/<int:job_id>/status/", views.export_status, name="export_status"),
    path("team/exports/<int:job_id>/download/", views.export_download, name="export_download"),
    path("me/progress/", views.my_progress, name="my_progress"),
    # The AI-literacy record (EU AI Act, Article 4): printable page and CSV
    path("team/literacy/", literacy_views.record, name="literacy"),
    path("team/literacy.csv", literacy_views.record_csv, name="literacy_csv"),
    path("team/<int:team_id>/literacy/", literacy_views.record, name="team_literacy"),
    path("team/<int:team_id>/literacy.csv", literacy_views.record_csv, name="team_literacy_csv"),
    path("team/people/<int:user_id>/literacy/", literacy_views.record, name="person_literacy"),
    path("team/people/<int:user_id>/literacy.csv", literacy_views.record_csv, name="person_literacy_csv"),
]
