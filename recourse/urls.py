from django.urls import path

from . import views

app_name = "recourse"
urlpatterns = [
    path("for-you/", views.for_you, name="for-you"),
    path("why/<int:item_id>/", views.why, name="why"),
    path("explanations/<int:explanation_id>/feedback/", views.feedback, name="feedback"),
]
