"""Drop what 0005 carried over (fallout.item, item relationships JSON, BillingActivation) and make the new
links required."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0005_liveness_data")]

    operations = [
        migrations.RemoveField(
            model_name='billingactivation',
            name='item',
        ),
        migrations.RemoveField(
            model_name='billingactivation',
            name='order',
        ),
        migrations.RemoveField(
            model_name='billingactivation',
            name='product',
        ),
        migrations.RemoveField(
            model_name='fallout',
            name='item',
        ),
        migrations.RemoveField(
            model_name='historicalproductorderitem',
            name='relationships',
        ),
        migrations.RemoveField(
            model_name='productorderitem',
            name='relationships',
        ),
        migrations.DeleteModel(
            name='BillingActivation',
        ),

        migrations.AlterField(
            model_name='fallout',
            name='category',
            field=models.CharField(choices=[('transient', 'transient downstream'), ('data', 'data error'), ('resource', 'resource shortage'), ('configuration', 'configuration'), ('internal', 'internal error')], max_length=20),
        ),
        migrations.AlterField(
            model_name='fallout',
            name='root_cause',
            field=models.CharField(db_index=True, help_text='Fallouts with the same root cause are grouped on the order desk.', max_length=200),
        ),
        migrations.AlterField(
            model_name='fallout',
            name='stage',
            field=models.CharField(choices=[('checks', 'business checks'), ('planning', 'decomposition'), ('submission', 'sending to SOM'), ('fulfilment', 'fulfilment at SOM'), ('event', 'applying a SOM event'), ('completion', 'inventory and billing'), ('watchdog', 'nothing in flight')], max_length=20),
        ),
        migrations.AlterField(
            model_name='ordercheckresult',
            name='run',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='results', to='orders.checkrun'),
        ),
        migrations.AlterField(
            model_name='processingerror',
            name='stage',
            field=models.CharField(choices=[('checks', 'business checks'), ('planning', 'decomposition'), ('submission', 'sending to SOM'), ('fulfilment', 'fulfilment at SOM'), ('event', 'applying a SOM event'), ('completion', 'inventory and billing'), ('watchdog', 'nothing in flight')], max_length=20),
        ),
        migrations.AlterField(
            model_name='serviceorderitem',
            name='plan',
            field=models.ForeignKey(help_text='The plan version that introduced this row.', on_delete=django.db.models.deletion.PROTECT, related_name='items', to='orders.decompositionplan'),
        ),
    ]
