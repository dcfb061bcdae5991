from django.urls import re_path

from .listener import ServiceOrderEventListenerApi

app_name = "tmf641-listener"
urlpatterns = [
    re_path(r"^(?P<event_type>serviceOrderStateChangeEvent|serviceOrderAttributeValueChangeEvent)/?$",
            ServiceOrderEventListenerApi.as_view(), name="event"),
]
