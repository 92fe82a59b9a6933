from django.urls import path

from . import attention_views, lens_views, views

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
    path("lens/", lens_views.lens_page, name="lens"),
    path("lens/embed/", lens_views.lens_embed, name="lens_embed"),
    path("lens/grid.json", lens_views.lens_grid, name="lens_grid"),
    path("lens/ablate.json", lens_views.lens_ablate, name="lens_ablate"),
]
