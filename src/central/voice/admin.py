from django.contrib import admin

from central.voice.models import AIExtension, Resident, Unit, VisitLog


@admin.register(AIExtension)
class AIExtensionAdmin(admin.ModelAdmin):
    list_display = ("number", "return_number", "organization", "bind_ip", "port", "return_port", "enabled")
    list_filter = ("enabled", "organization")
    search_fields = ("number", "return_number")


class ResidentInline(admin.TabularInline):
    model = Resident
    extra = 0
    fields = ("name", "extension", "priority", "active")



@admin.register(Unit)
class UnitAdmin(admin.ModelAdmin):
    list_display = ("number", "block", "organization")
    list_filter = ("organization", "block")
    search_fields = ("number", "block", "residents__name")
    inlines = [ResidentInline]

    def save_formset(self, request, form, formset, change):
        # Residents inherit the unit's organization (TenantOwned needs it set).
        for obj in formset.save(commit=False):
            obj.organization_id = form.instance.organization_id
            obj.save()
        for obj in formset.deleted_objects:
            obj.delete()


@admin.register(Resident)
class ResidentAdmin(admin.ModelAdmin):
    list_display = ("name", "unit", "extension", "active", "organization")
    list_filter = ("organization", "active")
    search_fields = ("name", "extension")


@admin.register(VisitLog)
class VisitLogAdmin(admin.ModelAdmin):
    list_display = ("started_at", "extension_number", "visitor_name", "unit_label", "outcome", "organization")
    list_filter = ("outcome", "organization")
    search_fields = ("visitor_name", "unit_label", "visit_id")
    readonly_fields = [f.name for f in VisitLog._meta.fields] + ["audit"]
