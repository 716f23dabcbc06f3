from __future__ import annotations

from django.urls import path

from demo.views import DemoForwardView

urlpatterns = [
    path("test/load", DemoForwardView.as_view(action="load"), name="demo-load"),
    path("test/fail", DemoForwardView.as_view(action="fail"), name="demo-fail"),
    path("test/recover", DemoForwardView.as_view(action="recover"), name="demo-recover"),
]
