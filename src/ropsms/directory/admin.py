from django.contrib import admin

from ropsms.directory.models import Group, OrgUnit, Person


@admin.register(OrgUnit)
class OrgUnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name_en", "name_ar", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("code", "name_en", "name_ar")


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name_en", "kind", "mobile", "org_unit", "rank", "bounce_count", "active")
    list_filter = ("kind", "active")
    search_fields = ("name_en", "name_ar", "civil_id", "employee_no", "mobile")
    raw_id_fields = ("org_unit",)


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name_en", "name_ar", "kind", "owner_unit")
    list_filter = ("kind",)
    search_fields = ("name_en", "name_ar")
    raw_id_fields = ("owner_unit", "members", "units")
