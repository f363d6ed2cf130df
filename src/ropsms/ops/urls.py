from django.urls import path

from ropsms.ops import views

urlpatterns = [path("metrics", views.metrics, name="metrics")]
