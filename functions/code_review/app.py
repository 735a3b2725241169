"""code-review: one comment per pull request with its summary, a walkthrough,
its risks and its breaking changes, kept current as the PR moves.

Triggers: pull_request opened, reopened, ready_for_review, synchronize; the
comment commands in commands.py. Settings: app.yaml's `settings:` under the
`code_review:` section of .github/flows.yaml on the default branch (see
settings.py). State between pushes lives in the PR's memory; findings and
maintainers' feedback in the repository's.
"""

import json

import commands
import diffmap
import prompts
import render
import wit_world
from componentize_py_types import Err
from review import ASK_KEY, PAUSED_KEY, Review, hunks_of, load_state, priority, repo_settings
from wit_world.imports import github, llm, log, memory, types

ACTIONS = {"opened", "reopened", "ready_for_review", "synchronize"}


# -- commands ------------------------------------------------------------------------------


def _reply(event_name: str, number: int, c: dict, text: str) -> None:
    if event_name == "pull_request_review_comment":
        github.reply_review_comment(number, c["id"], text)
    else:
        github.create_comment(number, text)


def _ask(payload: dict, number: int, question: str, ctx: types.Context, event_name: str) -> str:
    pr = github.get_pull_request(number)
    st = load_state()
    branch = (payload.get("repository") or {}).get("default_branch") or pr.base_ref
    s, _ = repo_settings(ctx, branch)
    files = [f for f in github.list_files(number) if f.patch]
    where = (payload.get("comment") or {}).get("path")
    q = question.lower()
    files.sort(
        key=lambda f: (
            f.filename != where,
            f.filename.lower() not in q and f.filename.rsplit("/", 1)[-1].lower() not in q,
            priority(f),
        )
    )
    docs = [
        llm.Document(f.filename, diffmap.numbered(f.status, hunks_of(f.patch), f.previous_filename))
        for f in files[: s.max_files]
    ]
    history = json.loads(memory.get("pr", ASK_KEY) or "[]")
    review = st.summary + "".join(f"\n- {f.severity}: {f.title} ({f.path})" for f in st.findings)
    system = prompts.system("ask", s.language, s.instructions, [])
    if review:
        system += "\n\nThe review so far:\n" + review
    opts = llm.Options(max_tokens=700, temperature=None)
    desc = llm.as_data("pull request", f"{pr.title}\n\n{pr.body[:4000]}")
    asked = "\n\n".join(f"Q: {h['q']}\nA: {h['a']}" for h in history[-4:])
    tail = llm.as_data("earlier questions", asked) if asked else ""
    asked_now = llm.as_data("question", question)
    preamble = "\n\n".join(p for p in (desc, tail, asked_now) if p)
    packing = llm.pack(system, preamble, docs, 1, None, opts)
    chunk = packing.chunks[0] if packing.chunks else []
    (got,) = llm.chat_batch([llm.Call(system, preamble, chunk, None, opts)], 4)
    texts = [p.reply.text.strip() for p in got.parts if p.reply is not None]
    if not texts:  # the model's failure, said plainly in the reply
        raise Err(f"the model could not answer: {got.parts[0].error if got.parts else 'no reply'}")
    allowed = render.urls_in("\n".join([pr.body] + [f.patch or "" for f in files]))
    answer = render.safe_markdown("\n\n".join(texts), allowed) or "_The model gave no answer._"
    quoted = "\n".join("> " + line for line in question.splitlines())
    _reply(event_name, number, payload["comment"], f"{quoted}\n\n{answer}")
    history = ([*history, {"q": question[:1000], "a": answer[:2000]}])[-10:]
    memory.put("pr", ASK_KEY, json.dumps(history))
    return answer


def _command(event: types.Event, payload: dict, ctx: types.Context) -> dict:
    c = payload.get("comment") or {}
    cmd = commands.parse(c)
    if cmd is None:
        return {"skipped": "not a command for this flow (or written by a bot)"}
    issue = payload.get("issue") or {}
    if event.name == "issue_comment" and "pull_request" not in issue:
        return {"skipped": f"/{cmd.name} on an issue: code-review answers on pull requests"}
    number = (payload.get("pull_request") or issue).get("number")
    if not isinstance(number, int):
        raise Err("the payload has no pull request number")
    if not cmd.trusted:
        _reply(event.name, number, c, commands.refusal(cmd))
        return {"refused": cmd.name, "author": cmd.author}
    log.log(log.Level.INFO, f"/{cmd.name} from {cmd.author} on #{number}")
    if cmd.name in ("remember", "dismiss"):  # the host applied it from the webhook
        github.add_reaction(
            github.ReactionSubject.ISSUE_COMMENT
            if event.name == "issue_comment"
            else github.ReactionSubject.REVIEW_COMMENT,
            c["id"],
            "+1",
        )
        return {"command": cmd.name, "acknowledged": True}
    if cmd.name == "help":
        _reply(event.name, number, c, commands.HELP)
        return {"command": "help"}
    if cmd.name in ("pause", "resume"):
        if cmd.name == "pause":
            memory.put("pr", PAUSED_KEY, cmd.author)
            text = "Automatic reviews are paused on this pull request; `/resume` restarts them."
        else:
            memory.delete("pr", PAUSED_KEY)
            text = "Automatic reviews are back on for this pull request."
        _reply(event.name, number, c, text)
        return {"command": cmd.name}
    if cmd.name == "ask":
        if not cmd.arg:
            _reply(event.name, number, c, "Ask a question after `/ask`, e.g. `/ask is this safe?`")
            return {"command": "ask", "answered": False}
        _ask(payload, number, cmd.arg, ctx, event.name)
        return {"command": "ask", "answered": True}
    mode = "summary" if cmd.name == "summary" else "full"
    return {"command": cmd.name, **Review(payload, number, ctx, mode).run()}


class WitWorld(wit_world.WitWorld):
    def handle(self, event: types.Event, context: types.Context) -> str:
        try:
            payload = json.loads(event.payload)
        except ValueError:
            raise Err("the event payload is not JSON") from None
        if event.name == "pull_request":
            if event.action not in ACTIONS:
                return json.dumps({"skipped": f"pull_request.{event.action} is not reviewed"})
            pr = payload.get("pull_request")
            if not isinstance(pr, dict) or not isinstance(pr.get("number"), int):
                raise Err("the payload has no pull_request.number")
            out = Review(payload, pr["number"], context, "auto").run()
        elif event.name in ("issue_comment", "pull_request_review_comment"):
            if event.action != "created":
                return json.dumps({"skipped": f"{event.name}.{event.action} is not a command"})
            out = _command(event, payload, context)
        else:
            out = {"skipped": f"{event.name} events are not handled"}
        return json.dumps(out)
