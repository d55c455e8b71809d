"""URL map: API under /api/v1/, dashboard at /, operations endpoints at the root."""

from importlib.util import find_spec

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from central.core import health
from central.core.loginguard import GuardedAdminAuthenticationForm, GuardedAuthenticationForm
from central.messaging.webhook import webhook as whatsapp_webhook

# Each capability app contributes ``central.<app>.api_urls`` when it has an API; listing
# them here (rather than each app editing this file) keeps the apps independent.
CAPABILITY_APIS = ["telephony", "dialer", "voice", "documents", "messaging", "scheduling", "agents", "recordings"]

api_patterns = [path("", include("central.core.api_urls"))]
page_patterns = []
for _app in CAPABILITY_APIS:
    for _module in ("api_urls", "api_live_urls"):
        if find_spec(f"central.{_app}.{_module}") is not None:
            api_patterns.append(path(f"{_app}/", include(f"central.{_app}.{_module}")))
    if find_spec(f"central.{_app}.urls") is not None:
        page_patterns.append(path(f"{_app}/", include(f"central.{_app}.urls")))



def favicon(request):
    """Browsers ask for /favicon.ico on their own (the admin and Swagger pages name none).
    Resolved per request: the static storage's manifest may not exist at import time."""
    return HttpResponsePermanentRedirect(static("dashboard/favicon.svg"))


# The admin's sign-in goes through the same limit (and message) as the dashboard's.
admin.site.login_form = GuardedAdminAuthenticationForm

urlpatterns = [
    path("health", health.health, name="health"),
    path("ready", health.ready, name="ready"),
    path("metrics", health.metrics, name="metrics"),
    # Browsers ask for /favicon.ico on their own (the admin and Swagger pages name none).
    path("favicon.ico", favicon),
    # Meta's Cloud API webhook: one URL per installation, signed deliveries, no session.
    path("webhooks/whatsapp", whatsapp_webhook, name="whatsapp-webhook"),
    path("api/v1/", include(api_patterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Split view + sidecar: Swagger UI's files and script come from this site (CSP, no CDN).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(
        url_name="schema", template_name="dashboard/swagger_ui.html"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="dashboard/login.html", authentication_form=GuardedAuthenticationForm),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    *page_patterns,
    path("", include("central.dashboard.urls")),
]

handler404 = "central.dashboard.views.not_found"
handler500 = "central.core.errors.json_500"
