"""Test integration: calls the log host capability."""

from wit_world import exports
from wit_world.imports import log


class Beta(exports.Beta):
    def note(self, message: str) -> int:
        log.log(log.Level.INFO, message)
        return len(message)
