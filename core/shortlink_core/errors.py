"""The one error every check of a ShortLink raises (also importable from `validation`)."""


class InvalidLink(ValueError):
    """A link that can never be served as written; the message says why, for a person."""
