"""Verification outcomes say who was tested: the grantee, the portal, or nobody (static only).

A "passed" of before is split by who acted: a grantee profile (acted_as starts
"The grantee") or the portal's own identity in the trusted account. Going back
folds both passes into "passed".
"""

from django.db import migrations, models


def split_passed(apps, schema_editor):
    Verification = apps.get_model("grants", "Verification")
    passed = Verification.objects.filter(outcome="passed")
    passed.filter(acted_as__startswith="The grantee").update(outcome="passed_grantee")
    passed.filter(acted_as__startswith="The portal").update(outcome="passed_portal")
    # Nothing live ran (no identity could assume the role): a static check only.
    Verification.objects.filter(outcome="passed").update(outcome="static_only")


def fold_passed(apps, schema_editor):
    Verification = apps.get_model("grants", "Verification")
    Verification.objects.filter(
        outcome__in=["passed_grantee", "passed_portal", "static_only"]
    ).update(outcome="passed")


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0007_verification_batch_items"),
    ]

    operations = [
        migrations.AlterField(
            model_name="verification",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("passed_grantee", "Passed as the grantee"),
                    ("passed_portal", "Passed as the portal (the grantee itself not proven)"),
                    ("static_only", "Checked statically only (nothing live could run)"),
                    ("failed", "Failed"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunPython(split_passed, fold_passed),
    ]
