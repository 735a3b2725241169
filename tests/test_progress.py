"""flows.progress: Phase counts from any thread; Reporter shows lines or a bar."""

import io
import threading

from flows.progress import Phase, Reporter, Step


def test_phase_counts_finished_items_across_threads():
    seen: list[Step] = []
    lock = threading.Lock()

    def record(step: Step) -> None:
        with lock:
            seen.append(step)

    phase = Phase("build", 40, record)

    def work(i: int) -> None:
        phase.started(f"c{i}")
        phase.finished(f"c{i}", "built", 0.5)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = sorted(s.done for s in seen if s.finished)
    assert done == list(range(1, 41))  # each count once: none lost, none twice
    assert sum(not s.finished for s in seen) == 40


def test_plain_lines_name_phase_count_item_state_and_time():
    out = io.StringIO()
    show = Reporter(out, tty=False)
    show(Step("build", 0, 2, "function a", "started"))
    show(Step("build", 1, 2, "function a", "built", 7.25))
    show(Step("build", 2, 2, "integration llm", "cached", 0.01))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # a started item prints nothing in a log
    assert lines[0].startswith("build [1/2] function a: built in 7.2 s (")
    assert lines[0].endswith(" s elapsed)")
    assert lines[1].startswith("build [2/2] integration llm: cached (")  # no time under 0.05 s
    assert "\r" not in out.getvalue()


def test_terminal_bar_is_redrawn_in_place_and_ends_the_line_when_done():
    out = io.StringIO()
    show = Reporter(out, tty=True)
    show(Step("compile", 0, 2, "function a", "started"))
    show(Step("compile", 0, 2, "function b", "started"))
    show(Step("compile", 1, 2, "function a", "compiled", 1.0))
    text = out.getvalue()
    assert text.count("\r") == 3 and "\n" not in text
    last = text.rsplit("\r", 1)[1]
    # half full, and it shows what still runs rather than what just finished
    assert "[" + "#" * 12 + "." * 12 + "] 1/2 function b" in last and "..." in last
    show(Step("compile", 2, 2, "function b", "compiled", 1.0))
    assert out.getvalue().endswith("\n")
    assert "2/2" in out.getvalue().rsplit("\r", 1)[1]


def test_note_is_a_line_of_its_own():
    out = io.StringIO()
    Reporter(out, tty=False).note("3 components (1 built, 2 cached)")
    assert out.getvalue() == "3 components (1 built, 2 cached)\n"
