"""Throttling per channel (per API identity): one channel's burst cannot starve the others.

The counts live in the ``default`` cache, which is Redis (``CACHE_URL``) or the database cache: shared by every
gunicorn worker and host, so the rate holds for the deployment, not per process.
"""
from django.core.cache import cache as default_cache
from rest_framework.throttling import SimpleRateThrottle


class ChannelRateThrottle(SimpleRateThrottle):
    scope = "channel"
    cache = default_cache  # the ``default`` cache (DRF's default too; named here because the guarantee rests on it)

    def get_cache_key(self, request, view):
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
