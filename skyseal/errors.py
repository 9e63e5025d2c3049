"""Errors the composition root reports to people as one clear line."""


class SkysealError(Exception):
    """An expected failure with a message fit to show a user as is."""


class MediaError(SkysealError):
    """A file that is not a readable video or image."""


class ConfigError(SkysealError):
    """Settings, keys or certificates that cannot be used."""
