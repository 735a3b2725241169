"""Test function that imports a host capability directly (must be refused)."""

import wit_world
from wit_world.imports import github_api, types


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, context: types.Context) -> str:
        return str(github_api.repository())
