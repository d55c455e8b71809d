from django.contrib import admin

from .models import Attempt, Callback, Campaign, CampaignLease, Contact, DoNotCall, ImportJob


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "pacing_mode", "queue", "max_channels", "created_at"]
    list_filter = ["status", "pacing_mode", "organization"]
    search_fields = ["name", "queue"]
    readonly_fields = ["status", "created_at", "updated_at", "started_at", "finished_at"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["phone", "name", "campaign", "status", "attempts", "last_result", "next_attempt_at"]
    list_filter = ["status", "last_result", "legal_basis"]
    search_fields = ["phone", "name"]
    raw_id_fields = ["campaign"]
    show_full_result_count = False  # COUNT(*) over millions of contacts on every page


@admin.register(DoNotCall)
class DoNotCallAdmin(admin.ModelAdmin):
    list_display = ["phone", "organization", "campaign", "source", "reason", "created_at"]
    list_filter = ["source", "organization"]
    search_fields = ["phone"]
    raw_id_fields = ["campaign"]
    show_full_result_count = False


@admin.register(Attempt)
class AttemptAdmin(admin.ModelAdmin):
    list_display = ["uid", "campaign", "phone", "state", "result", "agent", "created_at"]
    list_filter = ["state", "result", "short_call"]
    search_fields = ["uid", "phone"]
    raw_id_fields = ["campaign", "contact"]
    show_full_result_count = False


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    list_display = ["contact", "campaign", "scheduled_for", "agent", "done_at"]
    raw_id_fields = ["campaign", "contact"]


@admin.register(CampaignLease)
class CampaignLeaseAdmin(admin.ModelAdmin):
    list_display = ["campaign", "holder", "expires_at", "generation"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["filename", "kind", "campaign", "status", "rows", "imported", "merged", "rejected", "created_at"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]
