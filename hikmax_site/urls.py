from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

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
    path("api/schema/", views.SchemaView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler400 = "hikmax_site.views.bad_request"
handler404 = "hikmax_site.views.page_not_found"
