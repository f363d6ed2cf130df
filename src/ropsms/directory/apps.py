from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "ropsms.directory"
    label = "directory"
    verbose_name = "Directory"
