"""Swagger UI works with no internet: every asset of /api/docs/ comes from this server (drf-spectacular-sidecar)."""
import re
from urllib.parse import urlsplit

import pytest

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


@pytest.fixture
def browser(client, django_user_model):
    """A logged-in admin user's browser session (the docs are served to authenticated users only)."""
    client.force_login(django_user_model.objects.create_user(username="dev", password="pw", is_staff=True))
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.django_db
def test_docs_refuse_anonymous_callers(client):
    assert client.get("/api/docs/").status_code in (401, 403)


@pytest.mark.django_db
def test_docs_page_names_no_external_host(browser):
    page = browser.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    urls = ASSET.findall(html)
    assert len(urls) >= 3, html  # stylesheet, bundle, standalone preset, init script
    external = [url for url in urls if urlsplit(url).netloc not in ("", "testserver")]
    assert external == []
    assert "cdn" not in html.lower() and "unpkg" not in html.lower() and "jsdelivr" not in html.lower()


@pytest.mark.django_db
def test_every_asset_of_the_docs_page_is_served_here(browser):
    html = browser.get("/api/docs/").content.decode()
    assets = [url for url in ASSET.findall(html) if "/static/" in url]
    names = {url.rsplit("/", 1)[-1] for url in assets}
    assert {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"} <= names
    for url in assets:
        response = browser.get(url)
        assert response.status_code == 200, url
        assert len(_body(response)) > 100, url


@pytest.mark.django_db
def test_docs_load_the_schema_from_this_server(browser):
    html = browser.get("/api/docs/").content.decode()
    inline = "".join(re.findall(r"<script>(.*?)</script>", html, flags=re.S))
    assert "/api/schema/" in inline
    assert not re.search(r"https?://(?!testserver)", inline)
    schema = browser.get("/api/schema/?format=json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")
