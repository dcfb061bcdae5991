"""The people's roles on the order desk, as Django groups (channels are API identities, in no group).

- ``AGENT`` works the held and fallout queues and requests changes: views orders, their items, checks, plans,
  service orders, products, offerings and billing; releases, rejects and annotates held orders
  (``change_productorder``); repairs fallout (``change_fallout``); requests mutations (``add_mutationrequest``).
- ``SUPERVISOR``: all of that, approves or rejects changes (``approve_mutationrequest``, never their own) and
  changes customer profiles.
- ``CATALOG_MANAGER``: views, adds and changes the catalog.

``ensure_roles`` creates the groups with exactly these permissions. It runs from a migration (``0010_desk_roles``)
and after every ``migrate`` or ``flush`` (``post_migrate``, connected in ``OrdersConfig.ready``), so a database
emptied by a test or by ``flush`` gets its roles back as it gets its permissions back. Running it again sets the
same permissions.
"""
AGENT = "Order desk agent"
SUPERVISOR = "Supervisor"
CATALOG_MANAGER = "Catalog manager"
ROLES = (AGENT, SUPERVISOR, CATALOG_MANAGER)

AGENT_PERMISSIONS = [
    # read the order and everything that happened to it
    ("orders", "view_productorder"), ("orders", "view_productorderitem"), ("orders", "view_orderevent"),
    ("orders", "view_ordercheckresult"), ("orders", "view_checkrun"), ("orders", "view_decompositionplan"),
    ("orders", "view_serviceorder"), ("orders", "view_serviceorderitem"), ("orders", "view_serviceordercancellation"),
    ("orders", "view_billingintent"), ("orders", "view_fallout"), ("orders", "view_mutationrequest"),
    ("inventory", "view_product"), ("catalog", "view_productoffering"),
    # the commands: held orders (release, reject, ask for information, notes), repairs, change requests
    ("orders", "change_productorder"), ("orders", "change_fallout"), ("orders", "add_mutationrequest"),
]
SUPERVISOR_PERMISSIONS = AGENT_PERMISSIONS + [
    ("orders", "approve_mutationrequest"),
    ("orders", "view_customerprofile"), ("orders", "change_customerprofile"),
]


def _create_permissions(apps, using):
    """Django creates permissions only after every migration has run: create the ones the roles need now."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        had_models = getattr(app_config, "models_module", None)  # a migration's app stubs have none
        app_config.models_module = had_models or True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = had_models


def ensure_roles(apps, using="default"):
    """Create or update the three groups with exactly their permissions (``apps``: a migration's or the real)."""
    _create_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def permissions(pairs):
        wanted = set(pairs)
        found = [p for p in Permission.objects.using(using).select_related("content_type").filter(
            content_type__app_label__in={app for app, _ in pairs}, codename__in={code for _, code in pairs})
            if (p.content_type.app_label, p.codename) in wanted]
        missing = wanted - {(p.content_type.app_label, p.codename) for p in found}
        if missing:
            raise RuntimeError(f"permissions missing for the desk roles: {sorted(missing)}")
        return found

    catalog = list(Permission.objects.using(using).filter(content_type__app_label="catalog",
                                                          codename__regex=r"^(view|add|change)_")
                   .exclude(codename__contains="_historical"))
    for name, granted in ((AGENT, permissions(AGENT_PERMISSIONS)),
                          (SUPERVISOR, permissions(SUPERVISOR_PERMISSIONS)),
                          (CATALOG_MANAGER, catalog)):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.set(granted)


def ensure_roles_after_migrate(sender, using="default", apps=None, **kwargs):
    """``post_migrate`` receiver: once, for this app, after a migrate or a flush (a flush sends no ``apps``)."""
    from django.apps import apps as installed_apps

    if sender.name == "orders":
        ensure_roles(apps or installed_apps, using=using)
