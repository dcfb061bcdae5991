"""The order desk in the Django admin: queues, the order page, repairs, approvals and the dashboard.

``commands`` is the allow-list of what a person can do (each one service call with the user and a reason),
``forms`` what each asks for, ``views`` the screens (mounted by ``orders.admin`` through ``get_urls``),
``charts`` the dashboard's server-rendered SVG. Reads come from ``orders.selectors``; nothing here writes.
"""
