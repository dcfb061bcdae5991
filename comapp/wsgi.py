"""WSGI entry point (gunicorn comapp.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comapp.settings")
application = get_wsgi_application()
