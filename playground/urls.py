from django.urls import path

from . import attention_views, views

app_name = "playground"

urlpatterns = [
    path("", views.index, name="index"),
    path("runs/", views.runs, name="runs"),
    path("compare/", views.compare, name="compare"),
    path("runs/<uuid:public_id>/", views.run_detail, name="run"),
    path("attention/", attention_views.attention_page, name="attention"),
    path("attention/embed/", attention_views.attention_embed, name="attention_embed"),
    path("attention/layer.json", attention_views.attention_data, name="attention_data"),
    path("attention/bertviz-<str:view>.js", attention_views.bertviz_script, name="bertviz"),
]
