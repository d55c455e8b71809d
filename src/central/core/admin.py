from django.contrib import admin

from .models import (
    AuditLog,
    Invitation,
    Membership,
    Organization,
    ProcessHeartbeat,
    RetentionPolicy,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "role", "is_default", "created_at"]
    list_filter = ["role", "organization"]
    search_fields = ["user__username", "organization__name"]

    def get_readonly_fields(self, request, obj=None):
        # A membership's user and organization never change (re-pointing one moves a
        # person into another tenant); the default organization is the user's own choice.
        return ["user", "organization", "is_default"] if obj is not None else ["is_default"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only view of invitations; they are created and revoked through the API."""

    list_display = ["organization", "email", "username", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role", "organization"]
    search_fields = ["email", "username"]
    exclude = ["token_hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ["created_at", "organization", "actor_name", "action", "target_type", "target_id", "ip"]
    list_filter = ["action", "organization"]
    search_fields = ["actor_name", "action", "target_id", "request_id"]
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProcessHeartbeat)
class ProcessHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "host", "pid", "started_at", "last_seen"]


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    """Days of data each organization keeps (``central maintenance`` applies them)."""

    list_display = ("organization", "attempts_days", "call_records_days", "conversations_days", "audit_days",
                    "recordings_days")
    search_fields = ("organization__name", "organization__slug")
