from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from recsys import views as recsys_views

from . import views

urlpatterns = [
    path("", recsys_views.landing, name="landing"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("accounts.urls")),
    path("", include("recsys.urls")),
    path("", include("recourse.urls")),
    path("research/diagnostics/", include("diagnostics.urls")),
    path("research/", include("dashboard.urls")),
    path("curators/emerging/", include("forecast.urls")),
    path("api/", include("recsys.api_urls")),
    path("api/", include("recourse.api_urls")),
    # One API version: a fixed one, so ?version= is not read (its raw text went into Content-Disposition; a NUL
    # there made gunicorn answer with its own 500 page).
    path("api/schema/", SpectacularAPIView.as_view(api_version=settings.SPECTACULAR_SETTINGS["VERSION"]),
         name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler400 = "hikmax_site.views.bad_request"
handler404 = "hikmax_site.views.page_not_found"
