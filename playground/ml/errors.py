"""Errors raised by the model code, each with a message a person can act on."""


class ModelError(Exception):
    """Base class; `code` is the stable identifier sent to clients."""

    code = "model_error"


class ModelNotAvailable(ModelError):
    """The weights for a model are not where its registry entry says."""

    code = "model_not_available"


class RequestError(ValueError):
    """A request a model worker refuses (attention, lens); `code` and `params` go back to the
    web side, which words them (playground.client.error_text)."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code, self.params = code, params
