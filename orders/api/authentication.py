"""Channel authentication: ``Authorization: Bearer TOKEN``, the token created by ``manage.py channel add``."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from orders.models import Channel, hash_token


class ChannelTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer TOKEN'.")
        try:
            token = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        channel = (
            Channel.objects.select_related("user").filter(token_hash=hash_token(token), is_active=True).first()
        )
        if channel is None or not channel.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return channel.user, channel

    def authenticate_header(self, request):
        return self.keyword


class ChannelTokenScheme(OpenApiAuthenticationExtension):
    """Documents the channel bearer token in the OpenAPI schema (/api/schema/)."""

    target_class = "orders.api.authentication.ChannelTokenAuthentication"
    name = "channelBearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A channel's token, created with `manage.py channel add NAME`."}
