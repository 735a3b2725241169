"""flows:host/log: guest log lines into the run record."""

from __future__ import annotations

from flows.sandbox.capability import HOST_LOG
from flows.sandbox.report import RunJournal


class Log:
    interface = HOST_LOG

    def __init__(self, journal: RunJournal, component: str) -> None:
        self._journal = journal
        self._component = component

    def log(self, level: str, message: str) -> None:
        self._journal.log(self._component, str(level), message)
