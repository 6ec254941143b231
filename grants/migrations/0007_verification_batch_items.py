"""A verification batch gets one item per grant (claimed by exactly one task run);
the list of grant ids it kept before becomes items."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def grant_ids_from_items(apps, schema_editor):
    Batch = apps.get_model("grants", "VerificationBatch")
    for batch in Batch.objects.all():
        batch.grant_ids = list(
            batch.items.exclude(grant=None).order_by("pk").values_list("grant_id", flat=True)
        )
        batch.save(update_fields=["grant_ids"])


def items_from_grant_ids(apps, schema_editor):
    Batch = apps.get_model("grants", "VerificationBatch")
    Item = apps.get_model("grants", "VerificationBatchItem")
    Grant = apps.get_model("grants", "Grant")
    Verification = apps.get_model("grants", "Verification")
    for batch in Batch.objects.all():
        batch.actor_name = batch.actor.username if batch.actor_id else "system"
        # Earlier batches ran in a thread of the web process: whatever has no
        # result by now never will.
        batch.finished_at = batch.finished_at or django.utils.timezone.now()
        batch.save(update_fields=["actor_name", "finished_at"])
        grants = Grant.objects.in_bulk(batch.grant_ids)
        for grant_id in dict.fromkeys(batch.grant_ids):
            grant = grants.get(grant_id)
            verification = (
                Verification.objects.filter(batch=batch, grant_id=grant_id).order_by("pk").first()
            )
            Item.objects.create(
                batch=batch,
                grant=grant,
                grant_label=(
                    f"{grant.role_name} in {grant.trusting_account.name}"
                    if grant
                    else f"grant #{grant_id}"
                ),
                state="verified" if verification else "skipped",
                verification=verification,
                finished_at=verification.started_at if verification else batch.finished_at,
                note="" if verification else "No result was recorded.",
            )


class Migration(migrations.Migration):

    dependencies = [
        ('grants', '0006_roles'),
    ]

    operations = [
        migrations.AddField(
            model_name='verificationbatch',
            name='actor_name',
            field=models.CharField(default='system', max_length=150),
        ),
        migrations.CreateModel(
            name='VerificationBatchItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('grant_label', models.CharField(max_length=300)),
                ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('verified', 'Verified'), ('skipped', 'Not verified')], db_index=True, default='queued', max_length=8)),
                ('task_id', models.CharField(blank=True, max_length=64)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('note', models.TextField(blank=True)),
                ('batch', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='items', to='grants.verificationbatch')),
                ('grant', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='grants.grant')),
                ('verification', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='grants.verification')),
            ],
            options={
                'ordering': ['pk'],
                'constraints': [models.UniqueConstraint(fields=('batch', 'grant'), name='one_item_per_grant_per_batch')],
            },
        ),
        migrations.RunPython(items_from_grant_ids, grant_ids_from_items),
        migrations.RemoveField(
            model_name='verificationbatch',
            name='grant_ids',
        ),
    ]
