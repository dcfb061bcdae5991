"""TMF641 listener routes: ``listener/<eventType>`` (each TMF641 event type, or any other) and ``listener``
itself for a SOM that posts every event to the callback it was given."""
from django.urls import re_path

from .listener import ServiceOrderEventCallbackApi, ServiceOrderEventListenerApi

app_name = "tmf641-listener"
urlpatterns = [
    re_path(r"^listener/(?P<event_type>[A-Za-z][A-Za-z0-9]{0,79})/?$", ServiceOrderEventListenerApi.as_view(),
            name="event"),
    re_path(r"^listener/?$", ServiceOrderEventCallbackApi.as_view(), name="events"),
]
