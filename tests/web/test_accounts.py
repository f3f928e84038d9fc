import pytest
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_sign_up_signs_in_and_lands_on_catalogue(client):
    response = client.post(
        reverse("signup"),
        {"username": "newbie", "email": "", "password1": "correct-horse-battery", "password2": "correct-horse-battery"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("recsys:catalogue")
    user = User.objects.get(username="newbie")
    assert user.role == "member"
    assert client.get(reverse("recsys:home")).status_code == 200


def test_sign_in_and_out(client, make_user):
    make_user("carol", password="correct-horse-battery")
    response = client.post(reverse("login"), {"username": "carol", "password": "correct-horse-battery"})
    assert response.status_code == 302
    client.post(reverse("logout"))
    assert client.get(reverse("recsys:home")).status_code == 302


def test_password_change(client, make_user):
    user = make_user("dave", password="correct-horse-battery")
    client.force_login(user)
    client.post(
        reverse("password_change"),
        {
            "old_password": "correct-horse-battery",
            "new_password1": "another-long-secret",
            "new_password2": "another-long-secret",
        },
    )
    user.refresh_from_db()
    assert user.check_password("another-long-secret")


def test_repeated_failed_sign_ins_are_locked_out(client, make_user, settings):
    make_user("erin", password="correct-horse-battery")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "erin", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "erin", "password": "correct-horse-battery"})
    assert response.status_code == 429
    assert b"Sign-in paused" in response.content and b"nothing was changed" in response.content


def test_roles():
    assert User(is_staff=True).role == "analyst"
    assert User(is_staff=True, is_superuser=True).role == "administrator"
