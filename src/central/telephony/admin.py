from django.contrib import admin

from .models import AsteriskServer, CallRecord, Extension, LiveCall, QueueTargets


@admin.register(AsteriskServer)
class AsteriskServerAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "host", "port", "username", "secret_env", "enabled",
                    "use_simulator", "status", "status_at"]
    list_filter = ["enabled", "use_simulator", "status", "organization"]
    search_fields = ["name", "host"]
    readonly_fields = ["status", "status_detail", "status_at", "created_at", "updated_at"]


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = ["exten", "label", "server", "organization", "state", "registered", "last_activity"]
    list_filter = ["state", "registered", "organization"]
    search_fields = ["exten", "label", "device"]


@admin.register(LiveCall)
class LiveCallAdmin(admin.ModelAdmin):
    list_display = ["linkedid", "server", "state", "from_number", "to_number", "queue", "agent", "started_at"]
    list_filter = ["state", "organization"]


@admin.register(CallRecord)
class CallRecordAdmin(admin.ModelAdmin):
    list_display = ["started_at", "server", "direction", "from_number", "to_number", "disposition",
                    "queue", "agent", "billsec", "hangup_cause"]
    list_filter = ["disposition", "direction", "organization", "queue"]
    search_fields = ["linkedid", "from_number", "to_number", "attempt_id"]
    date_hierarchy = "started_at"


@admin.register(QueueTargets)
class QueueTargetsAdmin(admin.ModelAdmin):
    list_display = ["organization", "service_level_s", "max_wait_s"]
