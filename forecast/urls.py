from django.urls import path

from . import views

app_name = "forecast"
urlpatterns = [
    path("", views.emerging, name="emerging"),
    path("train/", views.train, name="train"),
    path("<int:forecaster_id>/activate/", views.activate, name="activate"),
    path("<int:forecaster_id>/titles/<int:item_id>/", views.title, name="title"),
    path("<int:forecaster_id>/audit/", views.audit, name="audit"),
    path("<int:forecaster_id>/sensitivity/", views.sensitivity, name="sensitivity"),
    path("<int:forecaster_id>/card/", views.card, name="card"),
    path("<int:forecaster_id>/card/download/", views.card_download, name="card-download"),
]
