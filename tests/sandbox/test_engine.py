"""The two compilers: Cranelift for serving, Winch for `flows dev`; both keep
the sandbox's limits."""

import pytest

from flows.project.config import load_config
from flows.runtime import Runtime
from flows.sandbox.engine import Engine
from tests.conftest import COMPONENTS, configure, probe_event

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fast_engine():
    engine = Engine("fast")
    yield engine
    engine.close()


def test_unknown_compiler_names_the_known_ones():
    with pytest.raises(ValueError, match="known: optimized, fast"):
        Engine("turbo")


def test_each_compiler_caches_its_own_machine_code(fast_engine):
    optimized = Engine()
    try:
        assert optimized.compiled_path("d") != fast_engine.compiled_path("d")
        assert fast_engine.compiled_path("d").name.endswith("-fast.cwasm")
    finally:
        optimized.close()


def test_fast_compiler_runs_the_flow_and_keeps_deadline_and_fuel(fake_github, fast_engine):
    cfg = configure(load_config(COMPONENTS / "app.yaml"), fake_github)
    cfg.flows["probe"].limits.timeout_s = 0.5
    rt = Runtime(cfg, engine=fast_engine)
    assert rt.run("probe", probe_event("noop")).ok
    assert rt.built and all(
        fast_engine.compiled_path(d).is_file() for d in rt.built
    )  # compiled once, kept for the next start
    loop = rt.run("probe", probe_event("loop"))
    assert loop.error.kind == "timeout" and loop.duration_ms < 5000
    fuel = rt.run("probe-fuel", probe_event("fuel"))
    assert fuel.error.kind == "fuel", fuel.error
