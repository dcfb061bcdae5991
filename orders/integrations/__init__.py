"""Integrations below the services: the SOM's TMF641 API (translation, endpoints, signatures, HTTP client).

Services call these modules; these never call services. TMF641 JSON never leaves ``tmf641.py``.
"""
