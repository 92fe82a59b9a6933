from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelKind(models.TextChoices):
    CAUSAL_LM = "causal_lm", _("Causal language model")
    ENCODER = "encoder", _("Encoder")


class ModelEntry(models.Model):
    """A model the workers can serve: where its weights are and whether it is on."""

    name = models.SlugField(_("name"), max_length=100, unique=True)
    display_name = models.CharField(_("display name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=ModelKind.choices)
    source = models.CharField(
        _("weights"), max_length=500, help_text=_("A local folder, or a hub id already in the local Hugging Face cache.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    is_builtin = models.BooleanField(default=False, editable=False)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_builtin", "kind", "name"]
        verbose_name = _("model")

    def __str__(self):
        return self.display_name
