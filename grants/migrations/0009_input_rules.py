"""Input rules from the AWS API model: field validators read botocore's model at run time."""

from django.db import migrations, models

import grants.validators


class Migration(migrations.Migration):
    dependencies = [
        ("grants", "0008_verification_outcomes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="awsaccount",
            name="account_id",
            field=models.CharField(
                max_length=12,
                validators=[grants.validators.InputRuleValidator("account_id")],
                verbose_name="account ID",
            ),
        ),
        migrations.AlterField(
            model_name="awsaccount",
            name="default_region",
            field=models.CharField(
                default="us-east-1",
                max_length=32,
                validators=[grants.validators.InputRuleValidator("region")],
            ),
        ),
        migrations.AlterField(
            model_name="awsaccount",
            name="hub_external_id",
            field=models.CharField(
                blank=True,
                max_length=1224,
                validators=[grants.validators.InputRuleValidator("external_id")],
                verbose_name="hub role external ID",
            ),
        ),
        migrations.AlterField(
            model_name="awsaccount",
            name="hub_role_name",
            field=models.CharField(
                blank=True,
                help_text="For example OrganizationAccountAccessRole.",
                max_length=64,
                validators=[grants.validators.InputRuleValidator("role_name")],
                verbose_name="hub role name",
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="external_id",
            field=models.CharField(
                blank=True,
                max_length=1224,
                validators=[grants.validators.InputRuleValidator("external_id")],
                verbose_name="external ID",
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="grantee_name",
            field=models.CharField(
                blank=True,
                max_length=64,
                validators=[grants.validators.InputRuleValidator("user_name")],
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="inline_policy_name",
            field=models.CharField(
                blank=True,
                max_length=128,
                validators=[grants.validators.InputRuleValidator("policy_name")],
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="region",
            field=models.CharField(
                max_length=32, validators=[grants.validators.InputRuleValidator("region")]
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="role_description",
            field=models.CharField(
                blank=True,
                max_length=1000,
                validators=[grants.validators.InputRuleValidator("role_description")],
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="role_name",
            field=models.CharField(
                max_length=64, validators=[grants.validators.InputRuleValidator("role_name")]
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="role_path",
            field=models.CharField(
                default="/",
                max_length=512,
                validators=[grants.validators.InputRuleValidator("role_path")],
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="trusted_aws_account_id",
            field=models.CharField(
                max_length=12,
                validators=[grants.validators.InputRuleValidator("account_id")],
                verbose_name="trusted account ID",
            ),
        ),
        migrations.AlterField(
            model_name="grant",
            name="trusted_principal_arn",
            field=models.CharField(
                max_length=2048,
                validators=[grants.validators.InputRuleValidator("trust_principal_arn")],
                verbose_name="trusted principal ARN",
            ),
        ),
    ]
