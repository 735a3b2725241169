"""Errors the CLI and service turn into clear messages."""


class FlowsError(Exception):
    """Base class: a problem with input or configuration (CLI exit code 2)."""

    exit_code = 2


class ConfigError(FlowsError):
    """app.yaml is missing, malformed or invalid."""


class BuildError(FlowsError):
    """A component failed to build; the message points at the source."""


class LinkError(FlowsError):
    """A flow's component cannot be linked (e.g. an import that is not granted)."""


class EventError(FlowsError):
    """An event file or payload that cannot be used."""


class RepositoryError(FlowsError):
    """A local git repository, ref or range that cannot be reviewed."""
