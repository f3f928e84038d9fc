"""Reads of the accounts app: the member's profile and, for staff, their admin actions (account export)."""

from django.contrib.admin.models import LogEntry

# Model label -> where its rows appear in the export (see accounts.export).
EXPORTED_MODELS = {"admin.LogEntry": "admin_actions"}


def export_for_user(user) -> dict:
    return {
        "profile": {
            "username": user.username,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": user.role,
            "groups": sorted(group.name for group in user.groups.all()),
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        "admin_actions": [
            {"at": entry.action_time.isoformat(), "action": _ACTIONS.get(entry.action_flag, str(entry.action_flag)),
             "object": entry.object_repr, "kind": str(entry.content_type) if entry.content_type else "",
             "change": entry.get_change_message()}
            for entry in LogEntry.objects.filter(user=user).select_related("content_type").order_by("action_time")
        ],
    }


_ACTIONS = {1: "added", 2: "changed", 3: "deleted"}
