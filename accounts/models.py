from django.contrib.auth.models import AbstractUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

USERNAME_RULE = "3 to 30 characters: English letters A–Z, digits 0–9, dot, hyphen and underscore"


class UsernameValidator(UnicodeUsernameValidator):
    """ASCII only, so a look-alike (Cyrillic “dеmo” beside “demo”) cannot be registered."""

    regex = r"^[A-Za-z0-9._-]{3,30}\Z"
    message = f"Choose a username of {USERNAME_RULE}."
    flags = 0


class User(AbstractUser):
    """A HikmaX account. Role: member (default), analyst (is_staff), administrator (is_superuser).

    Usernames are unique ignoring case and limited to USERNAME_RULE; e-mail addresses, when given,
    are unique ignoring case.
    """

    username_validator = UsernameValidator()
    username = models.CharField(
        "username", max_length=150, unique=True, help_text=f"{USERNAME_RULE[0].upper()}{USERNAME_RULE[1:]}.",
        validators=[username_validator], error_messages={"unique": "A user with that username already exists."},
    )

    class Meta:
        verbose_name = "user"
        verbose_name_plural = "users"
        constraints = [
            models.UniqueConstraint(Lower("username"), name="user_username_unique_ignoring_case"),
            models.UniqueConstraint(Lower("email"), condition=~Q(email=""), name="user_email_unique_ignoring_case"),
        ]

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
