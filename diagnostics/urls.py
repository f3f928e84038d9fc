from django.urls import path

from . import views

app_name = "diagnostics"
urlpatterns = [
    path("", views.run_list, name="runs"),
    path("start/", views.start, name="start"),
    path("<int:run_id>/", views.run_detail, name="run"),
    path("<int:run_id>/cancel/", views.cancel, name="cancel"),
    path("<int:run_id>/resume/", views.resume, name="resume"),
    path("<int:run_id>/export.<str:fmt>", views.export, name="export"),
    path("<int:run_id>/<str:kind>/<str:key>/", views.entity, name="entity"),
    path("exclusions/", views.exclusions, name="exclusions"),
    path("exclusions/add/", views.exclude, name="exclude"),
    path("exclusions/<int:exclusion_id>/lift/", views.lift, name="lift"),
]
