"""Reads of the recourse app shared by pages, API and the account export."""

from .models import Explanation, ExplanationFeedback


def export_for_user(user) -> dict:
    explanations = Explanation.objects.filter(user=user).select_related("target_item").order_by("created_at")
    feedback = ExplanationFeedback.objects.filter(user=user).order_by("created_at")
    return {
        "explanations": [
            {"id": e.pk, "model_id": e.trained_model_id, "item": e.target_item.title, "method": e.method,
             "interaction_ids": e.interaction_ids, "raw_scores": e.raw_scores, "created_at": e.created_at.isoformat()}
            for e in explanations
        ],
        "explanation_feedback": [
            {"explanation_id": f.explanation_id, "helpful": f.helpful, "comment": f.comment,
             "created_at": f.created_at.isoformat()}
            for f in feedback
        ],
    }
