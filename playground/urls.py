from django.urls import path

from . import views

app_name = "playground"

urlpatterns = [
    path("", views.index, name="index"),
    path("runs/", views.runs, name="runs"),
    path("runs/<uuid:public_id>/", views.run_detail, name="run"),
]
