from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import ErasureRecord, User


@admin.register(User)
class HikmaxUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")


@admin.register(ErasureRecord)
class ErasureRecordAdmin(admin.ModelAdmin):
    list_display = ("former_user_id", "erased_at")
    readonly_fields = ("former_user_id", "erased_at", "summary")

    def has_add_permission(self, request):
        return False
