from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.roles import Role

__all__ = ["ExternalIdentity", "Role", "Team", "User"]  # Role is defined in core (the base layer) and used from here too


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    managers = models.ManyToManyField(
        "accounts.User", related_name="managed_teams", blank=True, verbose_name=_("managers")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class User(AbstractUser):
    """An employee of the company; `role` decides what they may open."""

    name = models.CharField(_("full name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.EMPLOYEE)
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("team"),
    )

    class Meta:
        ordering = ["username"]

    def __str__(self):
        return self.name or self.username

    @property
    def effective_role(self) -> str:
        # Superusers made with createsuperuser act as admins whatever their field says.
        return Role.ADMIN if self.is_superuser else self.role

    @property
    def display_name(self) -> str:
        return self.name or self.get_full_name() or self.username


class ExternalIdentity(models.Model):
    """Who someone is at the company's identity provider: the issuer's stable subject
    (`sub`, or SAML's NameID), linked to one person here. Later sign-ins find the person
    by this link, never by a name or an email the directory may reuse."""

    issuer = models.CharField(_("issuer"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="external_identities",
                             verbose_name=_("person"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="external_identity_unique")]
        verbose_name = _("identity provider link")

    def __str__(self):
        return f"{self.issuer} {self.subject}"
