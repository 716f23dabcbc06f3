from __future__ import annotations

from rest_framework.routers import SimpleRouter

from incidents.api.views import IncidentViewSet, ServiceViewSet, TeamViewSet

# SimpleRouter: no API root view at "", which other apps' routes share.
router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="incident")
router.register("teams", TeamViewSet, basename="team")
router.register("services", ServiceViewSet, basename="service")

urlpatterns = router.urls
