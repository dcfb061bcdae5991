from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self):
        from orders.roles import ensure_roles_after_migrate

        post_migrate.connect(ensure_roles_after_migrate, sender=self, dispatch_uid="orders.ensure_roles")
