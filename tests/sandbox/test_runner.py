"""Limits, error mapping and host-mediated linking on real components."""

import json

import pytest

from flows.project.config import load_config
from flows.runtime import Runtime
from tests.conftest import COMPONENTS, configure, probe_event

pytestmark = pytest.mark.slow


def test_ok_run_links_function_to_both_integrations(probe_runtime, fake_github, pr_event):
    fake_github.requests.clear()
    report = probe_runtime.run("probe", probe_event("ok", canary="c1"))
    assert report.ok, report.error
    assert report.result["repo"] == "Codertocat/Hello-World"
    assert report.result["settings"] == {"greeting": "hi"}
    components = {(log["component"], log["message"]) for log in report.logs}
    assert ("function", "canary c1") in components
    assert ("integration:beta", "hello from probe") in components
    assert ("function", "probe: mode=ok") in components  # stdout captured
    (write,) = report.writes
    comment = write.pop("html_url")  # where GitHub says the comment is
    assert comment.startswith("https://github.com/Codertocat/Hello-World/pull/1#issuecomment-")
    assert write == {
        "method": "POST",
        "path": "/repos/Codertocat/Hello-World/issues/1/comments",
        "body": {"body": "hello c1"},
        "dry_run": False,
        "status": 201,
    }
    assert fake_github.writes()[-1]["body"] == {"body": "hello c1"}
    assert set(report.resources["fuel_consumed"]) == {
        "function",
        "integration:alpha",
        "integration:beta",
    }
    assert all(v > 0 for v in report.resources["fuel_consumed"].values())


def test_dry_run_captures_writes_and_sends_none(probe_runtime, fake_github, pr_event):
    fake_github.requests.clear()
    report = probe_runtime.run("probe", probe_event("ok", canary="c2"), dry_run=True)
    assert report.ok, report.error
    assert report.writes[0]["dry_run"] is True
    assert report.writes[0]["body"] == {"body": "hello c2"}
    assert [r["method"] for r in fake_github.requests] == ["GET"]


def test_flow_error_is_a_failed_run_with_its_message(probe_runtime):
    report = probe_runtime.run("probe", probe_event("err"))
    assert report.status == "failed"
    assert report.error.kind == "flow_error"
    assert report.error.message == "expected failure: the PR has no description"


def test_guest_exception_names_exception_and_line(probe_runtime):
    report = probe_runtime.run("probe", probe_event("raise"))
    assert report.error.kind == "exception"
    assert report.error.component == "function"
    assert "ValueError: boom" in report.error.message
    assert "app.py:" in report.error.message
    assert any("Traceback" in log["message"] for log in report.logs)


def test_exception_inside_integration_is_attributed_to_it(probe_runtime):
    report = probe_runtime.run("probe", probe_event("integration-raise"))
    assert report.error.kind == "exception"
    assert report.error.component == "integration:alpha"
    assert "RuntimeError: alpha broke" in report.error.message


def _runtime_with(fake_github, flow: str, **limits) -> Runtime:
    cfg = configure(load_config(COMPONENTS / "app.yaml"), fake_github)
    for k, v in limits.items():
        setattr(cfg.flows[flow].limits, k, v)
    return Runtime(cfg)


def test_infinite_loop_stops_at_deadline(fake_github):
    rt = _runtime_with(fake_github, "probe", timeout_s=0.5)
    report = rt.run("probe", probe_event("loop"))
    assert report.error.kind == "timeout"
    assert "0.5 s" in report.error.message and "limits.timeout_s" in report.error.message
    assert report.duration_ms < 5000


def test_loop_inside_integration_stops_at_deadline(fake_github):
    rt = _runtime_with(fake_github, "probe", timeout_s=0.5)
    report = rt.run("probe", probe_event("integration-loop"))
    assert report.error.kind == "timeout"
    assert report.error.component == "integration:alpha"


@pytest.mark.parametrize(
    "mode, component", [("sleep", "function"), ("integration-sleep", "integration:alpha")]
)
def test_a_guest_cannot_sleep_past_its_deadline(fake_github, mode, component):
    # epoch interruption cannot stop a guest parked in a WASI wait: the clock
    # the guest gets cannot block, so time.sleep(60) under a 2 s deadline ends now
    rt = _runtime_with(fake_github, "probe", timeout_s=2)
    report = rt.run("probe", probe_event(mode, seconds=60))
    assert report.error.kind == "blocked", report.error
    assert report.error.component == component
    assert "tried to wait 60 s" in report.error.message
    assert "limits.timeout_s (2 s)" in report.error.message
    assert report.duration_ms < 2000
    # the clock still reads: the same process runs the next event normally
    assert rt.run("probe", probe_event("noop")).ok


@pytest.mark.parametrize(
    "number, problem",
    [
        (-1, "u32: OverflowError: can't convert negative int to unsigned"),
        (2**40, "u32: OverflowError: out of range integral type conversion attempted"),
        ("12", "u32: TypeError: 'str' object cannot be interpreted as an integer"),
    ],
)
def test_a_value_that_does_not_fit_a_wit_type_is_named(probe_runtime, number, problem):
    report = probe_runtime.run("probe", probe_event("bad-arg", number=number))
    assert report.error.kind == "bad_value"
    assert report.error.message == (
        f"function called `comment` with a value that does not fit its WIT type {problem}"
    )


def test_unbounded_allocation_hits_memory_cap(probe_runtime):
    report = probe_runtime.run("probe", probe_event("mem"))
    assert report.error.kind == "memory"
    assert "128 MB" in report.error.message


def test_fuel_limit(probe_runtime):
    report = probe_runtime.run("probe-fuel", probe_event("fuel"))
    assert report.error.kind == "fuel"
    assert "limits.fuel" in report.error.message


def test_output_is_capped(probe_runtime):
    report = probe_runtime.run("probe", probe_event("spam"))
    assert report.ok
    stdout = [log for log in report.logs if log["level"] == "stdout"]
    assert 200 < len(stdout) < 300  # 4 MiB printed, 256 KiB kept
    assert any(log["message"] == "output over 256 KiB was cut" for log in report.logs)


def test_what_a_run_returns_and_records_is_bounded(probe_runtime):
    big = probe_runtime.run("probe", probe_event("big", chars=3_000_000))
    assert big.ok
    assert big.result["cut"] is True and big.result["chars"] > 3_000_000
    assert len(big.result["start"]) == 4096
    assert any("only its start is kept" in log["message"] for log in big.logs)
    failed = probe_runtime.run("probe", probe_event("big-err", chars=2_000_000))
    assert failed.error.kind == "flow_error"
    assert len(failed.error.message) < 9000 and "chars cut]" in failed.error.message
    assert len(json.dumps(big.to_dict())) < 200_000
    assert len(json.dumps(failed.to_dict())) < 200_000


def test_process_stays_healthy_after_every_failure(probe_runtime):
    for mode in ("raise", "mem", "integration-raise", "err"):
        assert probe_runtime.run("probe", probe_event(mode)).status == "failed"
    report = probe_runtime.run("probe", probe_event("ok", canary="after"))
    assert report.ok, report.error


def test_github_refusal_reaches_guest_as_err(probe_runtime, fake_github):
    fake_github.fail_next("/repos/Codertocat/Hello-World", 404)
    report = probe_runtime.run("probe", probe_event("ok"))
    assert report.error.kind == "flow_error"
    assert report.error.message == "GitHub answered 404"


def test_concurrent_runs_are_isolated(probe_runtime, pr_event):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        reports = list(
            pool.map(
                lambda i: probe_runtime.run("probe", probe_event("ok", canary=f"n{i}")), range(16)
            )
        )
    assert all(r.ok for r in reports), [r.error for r in reports if not r.ok]
    for i, r in enumerate(reports):
        assert ("function", f"canary n{i}") in {(x["component"], x["message"]) for x in r.logs}
