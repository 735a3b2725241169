"""The shape of a host capability, as the sandbox links it.

The flows:host interface names, and the contract: a capability is an object
with a class attribute `interface` and one method per WIT function
(`list-keys` -> `list_keys`). A method returns the ok value; raising
HostError returns the `err` case to the guest.
"""

from __future__ import annotations

HOST_LOG = "flows:host/log@0.1.0"
HOST_GITHUB_API = "flows:host/github-api@0.1.0"
HOST_LLM = "flows:host/llm-backend@0.1.0"
HOST_MEMORY = "flows:host/memory@0.1.0"
HOST_INTERFACES = (HOST_LOG, HOST_GITHUB_API, HOST_LLM, HOST_MEMORY)
# only a `flows dev` build imports it (flows/guest_dev); never granted otherwise
HOST_DEV = "flows:dev/dev-sources@0.1.0"


class HostError(Exception):
    """An expected failure, returned to the guest as the `err` of a result.

    `transient` marks failures worth retrying later (GitHub 5xx, rate limits,
    timeouts); `retry_after` is the wait the server asked for, in seconds."""

    def __init__(
        self, message: str, transient: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after
