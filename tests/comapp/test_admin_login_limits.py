"""Admin logins are limited by django-axes: 5 failures lock that username from that address for 15 minutes."""
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

LOGIN = "/admin/login/?next=/admin/"
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def supervisor(django_user_model):
    return django_user_model.objects.create_superuser(username="boss", password="right-pw-123",
                                                      email="boss@example.com")


def login(client, password, username="boss", ip="10.0.0.5"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def logged_in(client) -> bool:
    return client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_the_sixth_attempt_is_refused_even_with_the_right_password(client, supervisor):
    for _ in range(4):
        assert login(client, "wrong").status_code == 200  # the form again, with its error
    assert login(client, "wrong").status_code == 429  # the 5th failure locks
    assert login(client, "right-pw-123").status_code == 429
    assert not logged_in(client)
    attempt = AccessAttempt.objects.get(username="boss")
    assert attempt.failures_since_start >= 5 and attempt.ip_address == "10.0.0.5"


@pytest.mark.django_db
def test_four_failures_then_the_right_password_logs_in_and_resets_the_count(client, supervisor):
    for _ in range(4):
        login(client, "wrong")
    assert login(client, "right-pw-123").status_code == 302
    assert logged_in(client)
    assert not AccessAttempt.objects.filter(username="boss").exists()


@pytest.mark.django_db
def test_the_lock_is_per_username_and_address(client, supervisor, django_user_model):
    django_user_model.objects.create_superuser(username="other", password="other-pw-123", email="o@example.com")
    for _ in range(5):
        login(client, "wrong")
    assert login(client, "right-pw-123", ip="10.0.0.6").status_code == 302  # same user, another address
    client.logout()
    assert login(client, "other-pw-123", username="other").status_code == 302  # same address, another user


@pytest.mark.django_db
def test_the_lock_ends_after_15_minutes(client, supervisor):
    for _ in range(5):
        login(client, "wrong")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert login(client, "right-pw-123").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert login(client, "right-pw-123").status_code == 302
    assert logged_in(client)


@pytest.mark.django_db
def test_channel_bearer_tokens_are_unaffected(client, portal):
    """A locked username (even the channel's own user) does not stop the channel's API calls by token."""
    username = portal.channel.user.username
    for _ in range(6):
        login(client, "wrong", username=username, ip="127.0.0.1")
    assert AccessAttempt.objects.filter(username=username).exists()
    assert portal.get(ORDERS, REMOTE_ADDR="127.0.0.1").status_code == 200


@pytest.mark.django_db
def test_attempts_are_visible_in_the_admin(client, supervisor, admin_client):
    for _ in range(2):
        login(client, "wrong")
    page = admin_client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200 and "boss" in page.content.decode()
    assert admin_client.get("/admin/axes/accesslog/").status_code == 200


@pytest.mark.django_db
def test_behind_a_proxy_one_address_locked_out_does_not_lock_the_user_out_everywhere(client, supervisor, settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    settings.AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")

    def via_proxy(password, address):  # every request reaches COM from the proxy, 10.0.0.1
        return client.post(LOGIN, {"username": "boss", "password": password}, REMOTE_ADDR="10.0.0.1",
                           HTTP_X_FORWARDED_FOR=f"198.51.100.1, {address}")

    for _ in range(5):
        via_proxy("wrong", "203.0.113.66")  # an attacker guessing the supervisor's password
    assert via_proxy("right-pw-123", "203.0.113.66").status_code == 429
    assert via_proxy("right-pw-123", "203.0.113.10").status_code == 302  # the supervisor, from their desk
    assert AccessAttempt.objects.get(username="boss").ip_address == "203.0.113.66"

