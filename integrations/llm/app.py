"""The llm integration: chat, schema-validated JSON with one repair, untrusted
text delimited as data, and map-reduce that fits any amount of text into the
model's context window, over the host's llm-backend."""

import json

import chunks
import prompt
import schema
from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import llm as api
from wit_world.imports import llm_backend, log

DEFAULT_MAX_TOKENS = 1024
PROMPT_OVERHEAD = 256  # tokens for the system prompt, markers and chat template
MAX_REDUCE_ROUNDS = 4


def _complete(messages, opts, json_schema=None):
    req = llm_backend.Request(
        messages=[llm_backend.Message(role=m["role"], content=m["content"])
                  for m in prompt.guarded(messages)],
        max_tokens=opts.max_tokens or DEFAULT_MAX_TOKENS,
        temperature=opts.temperature,
        json_schema=json_schema,
    )  # fmt: skip
    return llm_backend.complete(req)


def _reply(done, text=None, usage=None) -> api.Reply:
    u = usage or (done.usage.prompt_tokens, done.usage.completion_tokens)
    return api.Reply(
        text=done.text if text is None else text,
        model=done.model,
        finish_reason=done.finish_reason,
        usage=api.Usage(prompt_tokens=u[0], completion_tokens=u[1]),
    )


def _messages(messages):
    return [{"role": m.role, "content": m.content} for m in messages]


def _check(text, spec, salvage=False):
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


def _budget(instructions, opts) -> int:
    """Tokens left for text in one call beside the instructions and the reply."""
    max_tokens = opts.max_tokens or DEFAULT_MAX_TOKENS
    window = llm_backend.context_window()
    budget = window - max_tokens - PROMPT_OVERHEAD - llm_backend.count_tokens(instructions)
    if budget < 64:
        raise Err(f"the context window ({window} tokens) leaves no room for text after the "
                  f"instructions and max-tokens {max_tokens}")  # fmt: skip
    return budget


def _pack(instructions, documents, max_chunks, opts):
    docs = [(d.id, d.text) for d in documents]
    budget = _budget(instructions, opts)
    return budget, *chunks.pack(docs, llm_backend.count_tokens, budget, max(1, max_chunks))


class Llm(exports.Llm):
    def chat(self, messages, opts) -> api.Reply:
        return _reply(_complete(_messages(messages), opts))

    def chat_json(self, messages, json_schema, opts) -> api.Reply:
        try:
            spec = json.loads(json_schema)
            schema.check_schema(spec)
        except (ValueError, schema.SchemaError) as e:
            raise Err(f"json-schema is not usable: {e}") from None
        msgs = _messages(messages)
        done = _complete(msgs, opts, json_schema)
        usage = [done.usage.prompt_tokens, done.usage.completion_tokens]
        value, problem = _check(done.text, spec)
        if problem is not None:
            log.log(log.Level.WARN, f"reply does not match the schema ({problem}); asking again")
            again = (f"That reply is not valid: {problem}. Reply again with only the JSON "
                     "value, matching the schema exactly.")  # fmt: skip
            repair = [*msgs, {"role": "assistant", "content": done.text[:4000]},
                      {"role": "user", "content": again}]  # fmt: skip
            done = _complete(repair, opts, json_schema)
            usage[0] += done.usage.prompt_tokens
            usage[1] += done.usage.completion_tokens
            value, problem = _check(done.text, spec, salvage=True)  # the last chance
            if problem is not None:
                cut = " (the reply was cut at max-tokens)" if done.finish_reason == "length" else ""
                raise Err(f"the model's reply did not match the schema, even after one repair: "
                          f"{problem}{cut}")  # fmt: skip
        return _reply(done, json.dumps(value, ensure_ascii=False), tuple(usage))

    def as_data(self, label, text) -> str:
        return prompt.as_data(label, text)

    def pack(self, instructions, documents, max_chunks, opts) -> api.Packing:
        _, packed, covered, partial, left_out = _pack(instructions, documents, max_chunks, opts)
        return api.Packing(
            chunks=[[api.Document(id=i, text=t) for i, t in chunk] for chunk in packed],
            covered=covered,
            partial=partial,
            left_out=left_out,
        )

    def map_reduce(self, instructions, documents, max_chunks, opts) -> api.Summary:
        budget, packed, covered, partial, left_out = _pack(
            instructions, documents, max_chunks, opts
        )
        usage = [0, 0]
        calls = 0

        def ask(content):
            nonlocal calls
            done = _complete([{"role": "system", "content": instructions},
                              {"role": "user", "content": content}], opts)  # fmt: skip
            calls += 1
            usage[0] += done.usage.prompt_tokens
            usage[1] += done.usage.completion_tokens
            return done.text.strip()

        summaries = [
            ask("\n\n".join(prompt.as_data(doc_id, text) for doc_id, text in chunk))
            for chunk in packed
        ]
        for _ in range(MAX_REDUCE_ROUNDS):
            if len(summaries) <= 1:
                break
            parts = [(f"part {i + 1}", s) for i, s in enumerate(summaries)]
            groups, _c, _p, _l = chunks.pack(parts, llm_backend.count_tokens, budget, len(parts))
            summaries = [
                ask("Combine these partial summaries into one, keeping every concrete finding:"
                    "\n\n" + "\n\n".join(prompt.as_data(pid, text) for pid, text in group))
                for group in groups
            ]  # fmt: skip
        return api.Summary(
            text=summaries[0] if summaries else "",
            usage=api.Usage(prompt_tokens=usage[0], completion_tokens=usage[1]),
            covered=covered,
            partial=partial,
            left_out=left_out,
            calls=calls,
        )

    def count_tokens(self, text) -> int:
        return llm_backend.count_tokens(text)

    def context_window(self) -> int:
        return llm_backend.context_window()
