"""Production's static files storage: whitenoise's compressed, hashed files, with each
name's URL worked out once per process.

ManifestStaticFilesStorage.url() looks the name up in the manifest, then cleans, splits,
quotes and joins it again on every call: some 20 µs, and a page has a dozen {% static %}
tags. The manifest does not change while a process serves (a release restarts it), so
the answer for a name is kept; saving a new manifest (collectstatic) forgets them all.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs):
        self._urls: dict[str, str] = {}
        super().__init__(*args, **kwargs)

    def url(self, name, force=False):
        if force:
            return super().url(name, force)
        try:
            return self._urls[name]
        except KeyError:
            url = self._urls[name] = super().url(name)  # a name not in the manifest raises, and is not kept
            return url

    def save_manifest(self):
        self._urls.clear()
        super().save_manifest()
