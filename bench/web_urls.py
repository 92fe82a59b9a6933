"""The site's URLs plus /bench/trivial/: a sync view that returns two bytes, through the
same middleware (session, login, CSRF, security headers) as every page; and /bench/sleep/,
a sync view that waits 0.2 s, to show whether sync views overlap within a process."""

import time

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def trivial(request):
    return HttpResponse("ok", content_type="text/plain")


def sleep(request):
    time.sleep(0.2)
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/trivial/", trivial), path("bench/sleep/", sleep), *site_urlpatterns]
