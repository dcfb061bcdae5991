"""Channel commands: create a channel (an API client) and its token, rotate the token."""
import secrets

from django.contrib.auth import get_user_model
from django.db import transaction

from comapp.errors import Conflict, ValidationFailed
from orders.models import Channel, hash_token


def _new_token() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def create_channel(*, name: str, token: str | None = None) -> tuple[Channel, str]:
    """Create a channel and its API user; returns the channel and its token (shown once, stored hashed).

    Raises Conflict if the name is taken, ValidationFailed if it is not a slug.
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValidationFailed("A channel name is letters, digits, '-' and '_'.")
    if Channel.objects.filter(name=name).exists():
        raise Conflict(f"Channel {name!r} exists; use 'channel rotate {name}' for a new token.")
    user = get_user_model().objects.create_user(username=f"channel-{name}", password=None)
    token = token or _new_token()
    channel = Channel.objects.create(name=name, user=user, token_hash=hash_token(token), token_prefix=token[:8])
    return channel, token


@transaction.atomic
def rotate_channel_token(*, channel: Channel, token: str | None = None) -> str:
    """Replace a channel's token; the old one stops working at once."""
    token = token or _new_token()
    channel.token_hash = hash_token(token)
    channel.token_prefix = token[:8]
    channel.save(update_fields=["token_hash", "token_prefix"])
    return token
