"""The order desk's roles as groups with exactly the permissions they need (names in ``orders.roles``).

The roles are defined in ``orders.roles`` (also run after every migrate and flush). Their permissions are created
here first (Django creates them only after every migration has run), so the groups can be filled on a fresh
database.
"""
from django.db import migrations

from orders import roles


def set_roles(apps, schema_editor):
    roles.ensure_roles(apps, using=schema_editor.connection.alias)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=roles.ROLES).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("catalog", "0003_mutation_models"),
        ("inventory", "0004_liveness_models"),
        ("orders", "0009_order_desk"),
    ]

    operations = [migrations.RunPython(set_roles, remove_roles)]
