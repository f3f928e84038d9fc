from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A HikmaX account. Role: member (default), analyst (is_staff), administrator (is_superuser)."""

    @property
    def role(self) -> str:
        if self.is_superuser:
            return "administrator"
        if self.is_staff:
            return "analyst"
        return "member"


class ErasureRecord(models.Model):
    """Audit trail of an erased account: what was removed, never who it was."""

    former_user_id = models.BigIntegerField()
    erased_at = models.DateTimeField(auto_now_add=True)
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-erased_at"]

    def __str__(self):
        return f"Erasure of account #{self.former_user_id} at {self.erased_at:%Y-%m-%d %H:%M}"
