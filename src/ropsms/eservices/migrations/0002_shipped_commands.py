from django.db import migrations


def install(apps, schema_editor):
    from ropsms.eservices.shipped import install as install_shipped

    install_shipped(apps.get_model("eservices", "Command"), apps.get_model("eservices", "DataSource"))


class Migration(migrations.Migration):
    dependencies = [("eservices", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
