"""The llm integration: chat, schema-validated JSON with one repair, untrusted
text delimited as data, map-reduce that fits any amount of text into the
model's context window, and batches of calls that always fit, over the
host's llm-backend."""

import json

import batch
import chunks
import prompt
import schema
from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import llm as api
from wit_world.imports import llm_backend

MAX_REDUCE_ROUNDS = 4
SAFETY = 16  # tokens kept free in each packed chunk, beside the counted ones


def _reply(done, text=None, extra=None) -> api.Reply:
    """A reply with the usage of its completion and of a repair, if any."""
    calls = [d for d in (done, extra) if d is not None]
    return api.Reply(
        text=done.text if text is None else text,
        model=(extra or done).model,
        finish_reason=(extra or done).finish_reason,
        usage=api.Usage(
            prompt_tokens=sum(d.usage.prompt_tokens for d in calls),
            completion_tokens=sum(d.usage.completion_tokens for d in calls),
        ),
    )


def _messages(messages):
    return [{"role": m.role, "content": m.content} for m in messages]


def _spec(json_schema):
    if json_schema is None:
        return None
    try:
        spec = json.loads(json_schema)
        schema.check_schema(spec)
    except (ValueError, schema.SchemaError) as e:
        raise Err(f"json-schema is not usable: {e}") from None
    return spec


def _budget(instructions, preamble, json_schema, opts) -> int:
    """Tokens left for documents in one call beside the instructions, the
    preamble, the schema and the reply, as the host counts the request."""
    mt = batch.max_tokens(opts)
    window = llm_backend.context_window()
    messages = [{"role": "system", "content": instructions}, {"role": "user", "content": preamble}]
    skeleton = batch.request(messages, opts, json_schema)
    budget = window - mt - llm_backend.count_request(skeleton) - SAFETY
    if budget < 64:
        raise Err(f"the context window ({window} tokens) leaves no room for text after the "
                  f"instructions and max-tokens {mt}")  # fmt: skip
    return budget


def _overhead(doc_id: str) -> int:
    """A document's delimiters in a prompt, and the blank line before it."""
    return llm_backend.count_tokens(prompt.as_data(doc_id, "x")) + 1


def _pack(instructions, preamble, documents, max_chunks, json_schema, opts):
    docs = [(d.id, d.text) for d in documents]
    budget = _budget(instructions, preamble, json_schema, opts)
    packed = chunks.pack(docs, llm_backend.count_tokens, budget, max(1, max_chunks), _overhead)
    return budget, *packed


def _call(instructions, preamble, docs, json_schema, opts) -> api.Call:
    return api.Call(instructions=instructions, preamble=preamble,
                    documents=[api.Document(id=i, text=t) for i, t in docs],
                    json_schema=json_schema, opts=opts)  # fmt: skip


def _answers(calls, max_calls):
    for c in calls:
        _spec(c.json_schema)  # a bad schema is the caller's error, before any call
    parts, splits = batch.Batch(calls, max_calls).run()
    out = []
    for call_parts, n in zip(parts, splits, strict=True):
        made = [api.Part(documents=ids, reply=_reply(r[1], r[0], r[2]) if r else None, error=error)
                for ids, r, error in call_parts]  # fmt: skip
        out.append(api.Answer(parts=made, splits=n))
    return out


class Llm(exports.Llm):
    def chat(self, messages, opts) -> api.Reply:
        req = batch.request(_messages(messages), opts)
        return _reply(llm_backend.complete(req))

    def chat_json(self, messages, json_schema, opts) -> api.Reply:
        spec = _spec(json_schema)
        msgs = _messages(messages)
        done = llm_backend.complete(batch.request(msgs, opts, json_schema))
        value, problem = batch.check(done.text, spec)
        fixed = None
        if problem is not None:
            window = llm_backend.context_window()
            ask = batch.repair(msgs, done.text, problem, opts, json_schema, window)
            fixed = llm_backend.complete(ask) if ask is not None else None
            value, problem = batch.check((fixed or done).text, spec, salvage=True)  # last chance
            if problem is not None:
                cut = (" (the reply was cut at max-tokens)"
                       if (fixed or done).finish_reason == "length" else "")  # fmt: skip
                raise Err(f"the model's reply did not match the schema, even after one repair: "
                          f"{problem}{cut}")  # fmt: skip
        return _reply(done, json.dumps(value, ensure_ascii=False), fixed)

    def chat_batch(self, calls, max_calls) -> list[api.Answer]:
        return _answers(calls, max_calls)

    def as_data(self, label, text) -> str:
        return prompt.as_data(label, text)

    def pack(self, instructions, preamble, documents, max_chunks, json_schema, opts):
        _, packed, covered, partial, left_out = _pack(
            instructions, preamble, documents, max_chunks, json_schema, opts
        )
        return api.Packing(
            chunks=[[api.Document(id=i, text=t) for i, t in chunk] for chunk in packed],
            covered=covered,
            partial=partial,
            left_out=left_out,
        )

    def map_reduce(self, instructions, documents, max_chunks, opts) -> api.Summary:
        budget, packed, covered, partial, left_out = _pack(
            instructions, "", documents, max_chunks, None, opts
        )
        usage, calls, unread = [0, 0], [0], []

        def ask(preamble, groups) -> tuple[list[str], list[str]]:
            """A summary per group, all at once; and why parts got none."""
            answers = _answers([_call(instructions, preamble, g, None, opts) for g in groups],
                               2 * len(groups))  # fmt: skip
            texts, errors = [], []
            for a in answers:
                got = []
                for p in a.parts:
                    calls[0] += 1
                    if p.reply is None:
                        errors.append(p.error or "no reply")
                        unread.extend(p.documents)
                        continue
                    usage[0] += p.reply.usage.prompt_tokens
                    usage[1] += p.reply.usage.completion_tokens
                    got.append(p.reply.text.strip())
                if got:
                    texts.append("\n\n".join(got))
            return texts, errors

        summaries, errors = ask("", packed)
        if packed and not summaries:
            raise Err(f"no part of the text could be summarized: {errors[0]}")
        lost = set(unread)  # documents of a failed part are not read, and say so
        covered = [d for d in covered if d not in lost]
        partial = [d for d in partial if d not in lost]
        left_out = left_out + [d for d in dict.fromkeys(unread) if d not in left_out]
        combine = "Combine these partial summaries into one, keeping every concrete finding:"
        for _ in range(MAX_REDUCE_ROUNDS):
            if len(summaries) <= 1:
                break
            parts = [(f"part {i + 1}", s) for i, s in enumerate(summaries)]
            groups, _c, _p, _l = chunks.pack(parts, llm_backend.count_tokens, budget, len(parts),
                                             _overhead)  # fmt: skip
            merged, _errors = ask(combine, groups)
            if not merged:
                break  # the partial summaries stand, joined
            summaries = merged
        return api.Summary(
            text="\n\n".join(summaries),
            usage=api.Usage(prompt_tokens=usage[0], completion_tokens=usage[1]),
            covered=covered,
            partial=partial,
            left_out=left_out,
            calls=calls[0],
        )

    def count_tokens(self, text) -> int:
        return llm_backend.count_tokens(text)

    def context_window(self) -> int:
        return llm_backend.context_window()
