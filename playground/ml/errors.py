"""Errors raised by the model code, each with a message a person can act on."""


class ModelError(Exception):
    """Base class; `code` is the stable identifier sent to clients."""

    code = "model_error"


class ModelNotAvailable(ModelError):
    """The weights for a model are not where its registry entry says."""

    code = "model_not_available"
