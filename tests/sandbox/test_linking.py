"""Grants: a function gets exactly the integrations app.yaml lists for it."""

from types import SimpleNamespace

import pytest

from flows.errors import LinkError
from flows.project.config import FlowConfig, load_config
from flows.runtime import Runtime
from flows.sandbox.capability import HOST_DEV, HOST_GITHUB_API, HOST_LOG, HOST_MEMORY
from flows.sandbox.linking import plan_flow
from tests.conftest import COMPONENTS, configure

GH = "flows:github/github@0.1.0"
LLM = "flows:llm/llm@0.1.0"
WASI = {"wasi:cli/stdout@0.2.9": {"get-stdout": object()}}
TYPES = {"flows:function/types@0.1.0": {}}
HOST = {HOST_LOG, HOST_GITHUB_API}


def comp(imports=None, exports=None):
    return SimpleNamespace(imports={**WASI, **TYPES, **(imports or {})}, exports=exports or {})


def fn(*ifaces):
    return comp({i: {"f": object()} for i in ifaces}, {"": {"handle": object()}})


GITHUB = comp({HOST_GITHUB_API: {"send": object()}, HOST_LOG: {"log": object()}}, {GH: {}})
LLM_INTEG = comp({"flows:host/llm-backend@0.1.0": {"complete": object()}}, {LLM: {}})


def cfg(**kw):
    return FlowConfig(function="functions/f", **kw)


def test_granted_import_is_routed_to_its_integration():
    plan = plan_flow("f", cfg(integrations=["github"]), fn(GH, HOST_LOG), {"github": GITHUB}, HOST)
    assert plan.routes == {GH: "github", HOST_LOG: "host"}
    assert list(plan.integrations) == ["github"]


def test_ungranted_import_is_refused_naming_flow_and_interface():
    with pytest.raises(LinkError) as e:
        plan_flow("review", cfg(integrations=["github"]), fn(GH, LLM), {"github": GITHUB}, HOST)
    msg = str(e.value)
    assert "flow 'review'" in msg and LLM in msg and "not granted" in msg
    assert "flows.review.integrations [github]" in msg


def test_function_may_not_import_raw_capabilities():
    with pytest.raises(LinkError, match=f"host capability {HOST_GITHUB_API}"):
        plan_flow("f", cfg(), fn(HOST_GITHUB_API), {}, HOST)


def test_memory_needs_memory_true():
    with pytest.raises(LinkError, match=r"memory is not granted \(set flows\.f\.memory: true\)"):
        plan_flow("f", cfg(), fn(HOST_MEMORY), {}, HOST | {HOST_MEMORY})
    plan = plan_flow("f", cfg(memory=True), fn(HOST_MEMORY), {}, HOST | {HOST_MEMORY})
    assert plan.routes == {HOST_MEMORY: "host"}


def test_integration_needing_a_capability_the_host_lacks():
    with pytest.raises(LinkError, match="integration 'llm' imports flows:host/llm-backend"):
        plan_flow("f", cfg(integrations=["llm"]), fn(LLM), {"llm": LLM_INTEG}, HOST)


def test_function_without_handle_is_refused():
    with pytest.raises(LinkError, match="does not export `handle`"):
        plan_flow("f", cfg(), comp(), {}, HOST)


def test_only_a_dev_build_may_import_its_sources_from_the_host():
    served = fn(HOST_DEV)
    served.built = SimpleNamespace(dev=False)
    with pytest.raises(LinkError, match="only `flows dev` builds may import"):
        plan_flow("f", cfg(), served, {}, HOST)
    integ = comp({HOST_DEV: {"sources": object()}}, {GH: {}})
    integ.built = SimpleNamespace(dev=False)
    with pytest.raises(LinkError, match="integration 'github' imports flows:dev/"):
        plan_flow("f", cfg(integrations=["github"]), fn(GH), {"github": integ}, HOST)
    dev = fn(HOST_DEV)
    dev.built = SimpleNamespace(dev=True)
    assert plan_flow("f", cfg(), dev, {}, HOST).routes == {HOST_DEV: "host"}


@pytest.mark.slow
def test_real_component_with_ungranted_import_is_refused_at_load(fake_github):
    rt = Runtime(configure(load_config(COMPONENTS / "app.yaml"), fake_github))
    with pytest.raises(LinkError) as e:
        rt.plan("probe-partial")
    assert "flow 'probe-partial'" in str(e.value)
    assert "flows-test:probe/beta@0.1.0" in str(e.value)
    with pytest.raises(LinkError, match="flow 'direct': its function imports host capability"):
        rt.plan("direct")
