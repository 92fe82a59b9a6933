"""The roles a person has. They live in the base layer because the access policy and the
navigation decide by them; `accounts.models.User.role` stores one."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    EMPLOYEE = "employee", _("Employee")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Admin")
