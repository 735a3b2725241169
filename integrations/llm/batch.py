"""Model calls that always fit: each request counted as sent before it goes,
many sent at once, a call too long for the window (by the count, or by the
server's refusal) split in two and each half sent again, JSON replies checked
against their schema and repaired once, all within a budget of calls."""

import json

import chunks
import prompt
import schema
from componentize_py_types import Err
from wit_world.imports import llm_backend, log

DEFAULT_MAX_TOKENS = 1024
MAX_SPLITS = 4  # halvings of one call: at most 16 parts
REPAIR_TEXT = (4000, 1000, 0)  # characters of the bad reply shown back, as room allows


def max_tokens(opts) -> int:
    return opts.max_tokens or DEFAULT_MAX_TOKENS


def request(messages, opts, json_schema=None):
    return llm_backend.Request(
        messages=[llm_backend.Message(role=m["role"], content=m["content"])
                  for m in prompt.guarded(messages)],
        max_tokens=max_tokens(opts),
        temperature=opts.temperature,
        json_schema=json_schema,
    )  # fmt: skip


def user_text(preamble: str, docs) -> str:
    return "\n\n".join(([preamble] if preamble else []) + [prompt.as_data(i, t) for i, t in docs])


def check(text, spec, salvage=False):
    """(value, None) when `text` is JSON matching `spec`, else (None, reason);
    `salvage`: list items that break the schema are dropped first."""
    try:
        value = schema.trim(prompt.parse_json(text), spec)
    except ValueError as e:
        return None, str(e)
    problem = schema.validate(value, spec)
    if problem is not None and salvage:
        pruned, dropped = schema.prune(value, spec)
        if dropped and schema.validate(pruned, spec) is None:
            log.log(log.Level.WARN, f"dropped {dropped} list item(s) that broke the schema "
                    f"({problem})")  # fmt: skip
            value, problem = pruned, None
    return (prompt.clean(value), None) if problem is None else (None, problem)


def repair(messages, text: str, problem: str, opts, json_schema, window: int):
    """The request that shows the model its bad reply and the reason, cut
    to fit the window; None when even the reason alone does not fit."""
    again = (f"That reply is not valid: {problem}. Reply again with only the JSON value, "
             "matching the schema exactly.")  # fmt: skip
    for keep in REPAIR_TEXT:
        shown = [{"role": "assistant", "content": text[:keep]}] if keep and text else []
        req = request([*messages, *shown, {"role": "user", "content": again}], opts, json_schema)
        if llm_backend.count_request(req) + max_tokens(opts) <= window:
            return req
    return None


class Job:
    """One call, or a part of one after splits."""

    def __init__(self, index: int, call, docs, spec, depth: int = 0):
        self.index, self.call, self.docs, self.spec, self.depth = index, call, docs, spec, depth
        user = user_text(call.preamble, docs)
        self.messages = [{"role": "system", "content": call.instructions},
                         {"role": "user", "content": user}]  # fmt: skip
        self.request = request(self.messages, call.opts, call.json_schema)

    def split(self):
        """Two jobs with half of this one's text each, or None."""
        if self.depth >= MAX_SPLITS:
            return None
        docs = self.docs
        if len(docs) > 1:
            half, size, cut = sum(len(t) for _, t in docs) / 2, 0, 1
            for i, (_, t) in enumerate(docs[:-1], 1):
                size += len(t)
                cut = i
                if size >= half:
                    break
            sides = [docs[:cut], docs[cut:]]
        elif docs and (cut := chunks.halves(docs[0][1])):
            sides = [[(docs[0][0], cut[0])], [(docs[0][0], cut[1])]]
        else:
            return None
        return [Job(self.index, self.call, side, self.spec, self.depth + 1) for side in sides]


class Batch:
    def __init__(self, calls, max_calls: int):
        self.calls, self.max_calls, self.used = calls, max_calls, 0
        self.window = llm_backend.context_window()
        self.parts = [[] for _ in calls]
        self.bare = {}  # call index -> tokens without documents
        self.splits = [0] * len(calls)

    def _part(self, job, reply=None, error=None) -> None:
        ids = list(dict.fromkeys(i for i, _ in job.docs))
        self.parts[job.index].append((ids, reply, error))

    def _bare(self, job) -> int:
        """The tokens of the call without its documents, and its reply's room."""
        if job.index not in self.bare:
            empty = Job(job.index, job.call, [], job.spec)
            self.bare[job.index] = llm_backend.count_request(empty.request) + max_tokens(
                job.call.opts
            )
        return self.bare[job.index]

    def _too_long(self, job, why: str, later: list) -> None:
        bare = self._bare(job)
        halves = job.split() if bare < self.window else None
        if halves is None:
            parts = 2**job.depth
            where = f" even cut into {parts} parts" if parts > 1 else ""
            if bare >= self.window:
                where = (f": its instructions and the room for its reply alone take {bare} "
                         f"tokens")  # fmt: skip
            self._part(job, error=f"the call does not fit the model's context window of "
                       f"{self.window} tokens{where} (the window is llm.openai.context_window "
                       f"or llm.llama.n_ctx, or less where the server says so): {why}")  # fmt: skip
            return
        self.splits[job.index] += 1
        log.log(log.Level.INFO, f"call {job.index + 1} is too long for the model ({why}); "
                f"split in two, {len(job.docs)} document(s) between them")  # fmt: skip
        later.extend(halves)

    def _send(self, requests):
        room = max(0, self.max_calls - self.used)
        sent = requests[:room]
        self.used += len(sent)
        results = llm_backend.complete_batch(sent) if sent else []
        return results + [None] * (len(requests) - len(sent))

    def run(self):
        pending = [Job(i, c, [(d.id, d.text) for d in c.documents],
                       json.loads(c.json_schema) if c.json_schema else None)
                   for i, c in enumerate(self.calls)]  # fmt: skip
        while pending:
            ready, later = [], []
            for job in pending:
                mt = max_tokens(job.call.opts)
                prompt_tokens = llm_backend.count_request(job.request)
                if prompt_tokens + mt > self.window:
                    self._too_long(job, f"the prompt ({prompt_tokens} tokens) plus max-tokens "
                                   f"{mt} is over the context window of {self.window} tokens",
                                   later)  # fmt: skip
                else:
                    ready.append(job)
            fixes = []
            for job, res in zip(ready, self._send([j.request for j in ready]), strict=True):
                if res is None:
                    self._part(job, error=f"not sent: over the budget of {self.max_calls} "
                               "model calls")  # fmt: skip
                elif isinstance(res, Err):
                    if res.value.too_long:
                        self.window = llm_backend.context_window()  # the server may have said less
                        self._too_long(job, res.value.message, later)
                    else:
                        self._part(job, error=res.value.message)
                elif job.spec is None:
                    self._part(job, reply=(res.value.text, res.value, None))
                else:
                    value, problem = check(res.value.text, job.spec)
                    if problem is None:
                        self._part(job, reply=(json.dumps(value, ensure_ascii=False), res.value,
                                               None))  # fmt: skip
                    else:
                        fixes.append((job, res.value, problem))
            self._repair(fixes)
            pending = later
        return self.parts, self.splits

    def _repair(self, fixes) -> None:
        """One repair request per bad JSON reply, all at once; what still
        breaks the schema loses the list items that break it, or fails."""
        asks = []
        for job, done, problem in fixes:
            log.log(log.Level.WARN, f"reply does not match the schema ({problem}); asking again")
            asks.append(repair(job.messages, done.text, problem, job.call.opts,
                               job.call.json_schema, self.window))  # fmt: skip
        sendable = [a for a in asks if a is not None]
        answers = iter(self._send(sendable))
        for (job, first, problem), ask in zip(fixes, asks, strict=True):
            res = next(answers) if ask is not None else None
            done = res.value if res is not None and not isinstance(res, Err) else None
            value, why = check(done.text, job.spec, salvage=True) if done else (None, problem)
            if value is None and done is None:  # no repair answer: keep what the first had
                value, why = check(first.text, job.spec, salvage=True)
            if why is None:
                self._part(job, reply=(json.dumps(value, ensure_ascii=False), first, done))
                continue
            cut = (" (the reply was cut at max-tokens)"
                   if (done or first).finish_reason == "length" else "")  # fmt: skip
            self._part(job, error=f"the model's reply did not match the schema, even after one "
                       f"repair: {why}{cut}")  # fmt: skip
