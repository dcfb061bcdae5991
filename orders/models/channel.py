"""Channels (API clients: portal, CPQ, retail, B2B) and their TMF622 hub listeners."""
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


class Channel(models.Model):
    """A sales channel calling the API with a bearer token. Only the token's hash is stored."""

    name = models.SlugField(max_length=60, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="channel",
                                help_text="The API identity of the channel (throttling, audit).")
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12, help_text="First characters of the token, to recognise it.")
    webhook_secret = models.CharField(max_length=64, default=new_webhook_secret,
                                      help_text="Key for the HMAC signature of events sent to this channel.")
    is_active = models.BooleanField(default=True)
    sees_all_channels = models.BooleanField(
        default=False, verbose_name="sees every channel's orders",
        help_text="Read (never change) the orders of every channel and the products they made, e.g. a call "
                  "centre serving customers who ordered online (TAM 5.3). Notifications stay the channel's own.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class HubSubscription(models.Model):
    """A channel's listener for TMF622 events (POST /hub)."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="subscriptions")
    callback = models.URLField(max_length=500)
    query = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.channel.name} -> {self.callback}"
