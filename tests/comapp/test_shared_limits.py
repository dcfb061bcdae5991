"""Limits that hold across processes: the throttle's counts live in a cache every process shares."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import connection

from comapp.settings import cache_config
from orders.api.throttling import ChannelRateThrottle

ROOT = Path(__file__).resolve().parents[2]

# One process of COM: three throttle checks for one channel user, at 3 requests a minute.
HITS = """
import json, sys
import django
django.setup()
from django.contrib.auth.models import User
from django.test import RequestFactory
from rest_framework.request import Request
from orders.api.throttling import ChannelRateThrottle

ChannelRateThrottle.rate = "3/minute"
request = Request(RequestFactory().get("/tmf-api/productOrderingManagement/v4/productOrder"))
request.user = User(pk=int(sys.argv[1]), username="channel")
print(json.dumps([ChannelRateThrottle().allow_request(request, None) for _ in range(int(sys.argv[2]))]))
"""


def test_cache_url_selects_redis_and_nothing_selects_the_database_cache():
    redis = cache_config("redis://127.0.0.1:6379/3")
    assert redis["BACKEND"] == "django_redis.cache.RedisCache" and redis["LOCATION"] == "redis://127.0.0.1:6379/3"
    assert cache_config("")["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    with pytest.raises(ValueError, match="CACHE_URL"):
        cache_config("memcached://127.0.0.1:11211")


@pytest.mark.django_db
def test_the_throttle_counts_in_the_default_cache_which_is_not_process_local():
    assert settings.CACHES["default"]["BACKEND"] in ("django.core.cache.backends.db.DatabaseCache",
                                                     "django_redis.cache.RedisCache")
    key = f"probe-{uuid.uuid4().hex}"
    caches["default"].set(key, "seen")
    assert ChannelRateThrottle.cache.get(key) == "seen"
    caches["default"].delete(key)


@pytest.mark.django_db
def test_migrate_creates_the_database_cache_table():
    if settings.CACHES["default"]["BACKEND"] != "django.core.cache.backends.db.DatabaseCache":
        pytest.skip("the cache is Redis (CACHE_URL)")
    # The test database was made by `migrate` alone: the post_migrate hook created the table.
    assert settings.CACHES["default"]["LOCATION"] in connection.introspection.table_names()
    caches["default"].set("probe", 1)
    assert caches["default"].get("probe") == 1


def _process(env, user_pk: int, hits: int) -> list[bool]:
    result = subprocess.run([sys.executable, "-c", HITS, str(user_pk), str(hits)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_processes_share_one_channels_count(tmp_path):
    """Two COM processes (as two gunicorn workers): the third request of a channel is the last allowed, whichever
    process serves it. Runs on the configured cache: the database cache on a file both processes open, or Redis."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "comapp.settings", "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}", "LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "manage.py", "createcachetable"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    channel, other = (uuid.uuid4().int % 10**9 for _ in range(2))  # fresh keys, even in a long-lived Redis

    assert _process(env, channel, 2) == [True, True]
    assert _process(env, channel, 2) == [True, False]
    assert _process(env, other, 1) == [True]  # another channel has its own count
