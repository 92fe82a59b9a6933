"""The site's URLs plus /bench/trivial/: a sync view that returns two bytes, through the
same middleware (session, login, CSRF, security headers) as every page."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def trivial(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/trivial/", trivial), *site_urlpatterns]
