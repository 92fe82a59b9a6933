"""Domain errors: what a selector or service raises when the answer is "no such thing
for you". They carry no HTTP: the same reads run in Celery tasks and commands. On a
page, core.middleware.DomainErrorMiddleware answers them (NotFound is a 404)."""


class NotFound(Exception):
    """It does not exist, or the asker may not know that it does (the same answer)."""
