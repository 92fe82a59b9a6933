from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    """Through which door a change came in: the same action reads differently when an
    admin made it by hand, a CSV import made it, or the identity provider's mapping did."""

    WEB = "web", _("web page")
    ADMIN = "admin", _("Django admin")
    COMMAND = "command", _("command line (people, CSV)")
    IDP = "idp", _("identity provider sign-in")
    SCIM = "scim", _("SCIM directory sync")
    SYSTEM = "system", _("the system")


class AppendOnly(Exception):
    """An audit entry is written once and never changed; only retention deletes it."""


class AuditEntry(models.Model):
    """One thing that happened: who, when, what (before → after), and from where.

    Append-only: `save()` refuses to update a stored entry and `delete()` refuses
    outright. The one way out is `audit.services.audit_purge_expired` (retention)."""

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    # The actor may later be erased on purpose; the label keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("actor"),
    )
    actor_label = models.CharField(_("who"), max_length=200, blank=True)
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    token = models.CharField(_("token"), max_length=100, blank=True)  # e.g. the SCIM token's name
    target_type = models.CharField(_("object type"), max_length=64, blank=True, db_index=True)
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    target_label = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_label}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnly("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit entries are deleted only by retention (audit_purge_expired)")
