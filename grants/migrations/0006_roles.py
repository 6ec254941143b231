"""The four roles for people, as groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Viewers": ["view_grant", "view_awsaccount", "view_auditevent", "view_verification"],
    "Verifiers": [
        "view_grant", "view_awsaccount", "view_auditevent", "view_verification", "verify_grant",
    ],
    "Grant managers": [
        "view_grant", "view_awsaccount", "view_auditevent", "view_verification",
        "verify_grant", "manage_grant",
    ],
    "Account managers": [
        "view_grant", "view_awsaccount", "view_auditevent", "view_verification", "manage_account",
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrations; the groups need them now.
    app_config = apps.get_app_config("grants")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="grants", codename__in=codenames)
        )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("grants", "0005_permissions"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
