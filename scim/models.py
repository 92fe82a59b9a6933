"""What directory sync keeps beside people and teams: the bearer tokens a directory
presents (hashed), and the directory's ids for the people and groups it manages."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_scim_id() -> str:
    return uuid.uuid4().hex


class ScimToken(models.Model):
    """A directory's bearer token. Only its SHA-256 is stored: the token is 256 random
    bits, so a fast hash is as good as a slow one, and a lookup by digest is one index hit.
    Its name goes into every audit entry the directory causes (Origin.token)."""

    name = models.SlugField(_("name"), max_length=100, unique=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("SCIM token")

    def __str__(self):
        return self.name


class DirectoryUser(models.Model):
    """A person the directory manages, under the SCIM id we gave them. A SCIM DELETE
    marks the link deleted (the person is deactivated, never erased): the id then answers
    404, as RFC 7644 §3.6 asks, and a later create of the same userName adopts the person
    again under a new id."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory")
    scim_id = models.CharField(max_length=32, unique=True, default=new_scim_id)
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.user} ({self.scim_id})"


class DirectoryGroup(models.Model):
    """A group the directory pushed: a team (`team`), or the manager group (no team; its
    name is SCIM_MANAGER_GROUP), whose members have the manager role."""

    scim_id = models.CharField(max_length=32, unique=True, default=new_scim_id)
    display_name = models.CharField(max_length=100, unique=True)
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    team = models.OneToOneField("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="directory_group")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name
