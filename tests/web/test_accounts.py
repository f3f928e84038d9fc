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


def _sign_up(client, username, email="", **extra):
    return client.post(reverse("signup"), {"username": username, "email": email, "password1": "correct-horse-battery",
                                           "password2": "correct-horse-battery"}, **extra)


@pytest.mark.parametrize("username", ["dеmo", "Demo", "DEMO", "de mo", "d", "ｄｅｍｏ", "demo\u200b"])
def test_look_alike_and_case_variant_usernames_are_refused(client, make_user, username):
    make_user("demo")
    response = _sign_up(client, username)
    assert response.status_code == 200
    assert User.objects.count() == 1
    text = response.content.decode()
    assert "already exists" in text or "English letters" in text


def test_the_username_rule_is_shown_on_the_sign_up_form(client):
    assert "English letters A–Z, digits 0–9" in client.get(reverse("signup")).content.decode()


def test_an_email_address_can_belong_to_one_account_only(client, make_user):
    make_user("first", email="Someone@Example.org")
    response = _sign_up(client, "second", email="someone@example.org")
    assert "already exists" in response.content.decode()
    assert not User.objects.filter(username="second").exists()
    assert _sign_up(client, "third").status_code == 302  # no e-mail at all is fine, many times


def test_sign_up_is_rate_limited_per_address(client, settings):
    for n in range(settings.HIKMAX["SIGNUPS_PER_HOUR"]):
        assert _sign_up(client, f"user{n}", REMOTE_ADDR="198.51.100.7").status_code == 302
        client.post(reverse("logout"))
    response = _sign_up(client, "onemore", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 429 and b"Sign-up paused" in response.content
    assert not User.objects.filter(username="onemore").exists()
    assert _sign_up(client, "elsewhere", REMOTE_ADDR="198.51.100.8").status_code == 302


def _fail_sign_in(client, username, **meta):
    return client.post(reverse("login"), {"username": username, "password": "wrong"}, **meta)


def test_one_address_trying_many_usernames_is_throttled(client, make_user, settings):
    make_user("victim", password="correct-horse-battery")
    for n in range(settings.AXES_FAILURE_LIMIT):
        _fail_sign_in(client, f"guess{n}", REMOTE_ADDR="203.0.113.9")
    response = client.post(reverse("login"), {"username": "victim", "password": "correct-horse-battery"},
                           REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    response = client.post(reverse("login"), {"username": "victim", "password": "correct-horse-battery"},
                           REMOTE_ADDR="203.0.113.10")
    assert response.status_code == 302  # the account itself was not the target


def test_without_a_configured_proxy_x_forwarded_for_is_ignored(client, settings):
    for n in range(settings.AXES_FAILURE_LIMIT):
        _fail_sign_in(client, f"guess{n}", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert _fail_sign_in(client, "another", REMOTE_ADDR="203.0.113.9").status_code == 429


def test_behind_a_configured_proxy_the_forwarded_client_address_is_used(client, make_user, settings):
    settings.HIKMAX = {**settings.HIKMAX, "TRUSTED_PROXIES": 1}
    make_user("victim", password="correct-horse-battery")
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(settings.AXES_FAILURE_LIMIT):
        # The left entry is what the attacker wrote; the proxy appended the address it saw.
        _fail_sign_in(client, f"guess{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.1", **proxy)
    assert _fail_sign_in(client, "another", HTTP_X_FORWARDED_FOR="198.51.100.1", **proxy).status_code == 429
    response = client.post(reverse("login"), {"username": "victim", "password": "correct-horse-battery"},
                           HTTP_X_FORWARDED_FOR="198.51.100.2", **proxy)
    assert response.status_code == 302  # another client behind the same proxy is not locked out


@pytest.mark.parametrize("taken", [{"username": "Newbie"}, {"username": "other", "email": "N@Example.org"}])
def test_a_sign_up_that_loses_a_race_for_its_name_is_told_so_not_a_server_error(client, monkeypatch, taken):
    """A double-clicked Sign up: both requests pass the form's checks, then the second one's insert meets the
    first one's row (the unique constraints ignore case)."""
    from accounts.forms import SignUpForm

    is_valid = SignUpForm.is_valid

    def meanwhile(form):
        valid = is_valid(form)
        if valid and not User.objects.exists():
            User.objects.create_user(password="x", **taken)  # the other request commits between check and save
        return valid

    monkeypatch.setattr(SignUpForm, "is_valid", meanwhile)
    client.raise_request_exception = False
    response = _sign_up(client, "newbie", email="n@example.org")
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1 and "_auth_user_id" not in client.session
