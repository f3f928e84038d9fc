from django.urls import path

from . import views

app_name = "recsys"
urlpatterns = [
    path("home/", views.home, name="home"),
    path("dataset/", views.choose_dataset, name="choose-dataset"),
    path("catalogue/", views.catalogue, name="catalogue"),
    path("catalogue/<int:item_id>/add/", views.add_to_history, name="add-to-history"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/status/", views.job_status, name="job-status"),
    path("jobs/<int:job_id>/retry/", views.job_retry, name="job-retry"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job-cancel"),
]
