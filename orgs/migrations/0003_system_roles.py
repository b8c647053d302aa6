"""Seed 000's system roles, with the seed's permissions."""

from django.db import migrations

SYSTEM_ROLES = {
    "owner": ("Organization owner with full permissions", {"*": ["*"]}),
    "admin": ("Administrator with most permissions", {"*": ["read", "write", "delete"]}),
    "member": ("Regular member with basic permissions", {"*": ["read"]}),
}


def seed(apps, schema_editor):
    Role = apps.get_model("orgs", "Role")
    for name, (description, permissions) in SYSTEM_ROLES.items():
        Role.objects.update_or_create(
            org=None,
            name=name,
            defaults={"description": description, "permissions": permissions, "is_system_role": True},
        )


def unseed(apps, schema_editor):
    apps.get_model("orgs", "Role").objects.filter(org=None, name__in=SYSTEM_ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("orgs", "0002_structure")]
    operations = [migrations.RunPython(seed, unseed)]
