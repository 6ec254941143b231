"""Input rules from the AWS API model (placeholder the input-rule work fills in)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0008_verification_outcomes"),
    ]

    operations = []
