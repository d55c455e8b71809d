from django.contrib import admin

from .models import Agent, AgentInterface, AgentSettings, PauseCode


class AgentInterfaceInline(admin.TabularInline):
    model = AgentInterface
    extra = 0
    fields = ["interface", "server"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "extension", "organization"]
    list_filter = ["organization"]
    search_fields = ["name", "extension", "user__username"]
    inlines = [AgentInterfaceInline]

    def save_formset(self, request, form, formset, change):
        for inline_form in formset.forms:  # interfaces belong to the agent's organization
            if inline_form.instance is not None and hasattr(inline_form.instance, "agent_id"):
                inline_form.instance.organization_id = form.instance.organization_id
        super().save_formset(request, form, formset, change)


@admin.register(PauseCode)
class PauseCodeAdmin(admin.ModelAdmin):
    list_display = ["label", "code", "position", "active", "organization"]
    list_filter = ["organization", "active"]


@admin.register(AgentSettings)
class AgentSettingsAdmin(admin.ModelAdmin):
    list_display = ["organization", "pause_alert_minutes", "wrapup_alert_seconds"]
