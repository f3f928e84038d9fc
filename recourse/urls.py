from django.urls import path

from . import views

app_name = "recourse"
urlpatterns = [
    path("for-you/", views.for_you, name="for-you"),
    path("why/<int:item_id>/", views.why, name="why"),
    path("drift/", views.drift_check, name="drift"),
    path("fix/", views.fix, name="fix"),
    path("fix/apply/", views.apply_fix, name="apply-fix"),
    path("corrections/", views.correction_list, name="corrections"),
    path("corrections/<int:result_id>/undo/", views.undo_correction, name="undo"),
    path("history/<int:interaction_id>/remove/", views.remove_interaction, name="remove-interaction"),
    path("history/<int:interaction_id>/add-back/", views.add_back_interaction, name="add-back-interaction"),
    path("not-interested/<int:item_id>/", views.not_interested, name="not-interested"),
    path("not-interested/<int:signal_id>/undo/", views.undo_not_interested, name="undo-not-interested"),
    path("explanations/<int:explanation_id>/feedback/", views.feedback, name="feedback"),
    path("drift-alerts/<int:alert_id>/dismiss/", views.dismiss_alert, name="dismiss-alert"),
    path("history/<int:interaction_id>/never-flag/", views.never_flag, name="never-flag"),
    path("never-flag/<int:flag_id>/undo/", views.undo_never_flag, name="undo-never-flag"),
]
