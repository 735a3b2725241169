"""Model text made safe to post: plain Markdown, no raw HTML, no images, no
links the diff did not contain, no control characters. (The github
integration also neutralizes @-mentions in everything it posts.)"""

import re

_CODE = re.compile(r"(```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]+`)", re.S)
# one pass over prose: an image, a [link](url), an <autolink>, or a bare URL
_URLISH = re.compile(
    r"!\[(?P<alt>[^\]]*)\]\([^)]*\)"
    r"|\[(?P<label>[^\]]+)\]\(\s*<?(?P<href>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
    r"|<(?P<auto>https?://[^>\s]+)>"
    r"|(?P<bare>\bhttps?://[^\s)<>\]`]+)"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
URL_IN_TEXT = re.compile(r"https?://[^\s)<>\]\"'`]+")


def urls_in(text: str) -> set[str]:
    """The URLs a text (e.g. the diff) contains: the only ones a comment may link."""
    return {u.rstrip(".,;:") for u in URL_IN_TEXT.findall(text)}


def safe_markdown(text: str, allowed_urls: set[str] | frozenset[str] = frozenset()) -> str:
    text = _CONTROL.sub("", text)
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):
        parts[i] = _prose(parts[i], allowed_urls)
    return "".join(parts)


def _prose(text: str, allowed: set[str] | frozenset[str]) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group("alt") is not None:
            return m.group("alt")  # images (tracking pixels) become their alt text
        if m.group("href") is not None:
            url = m.group("href")
            return m.group(0) if url in allowed else f"{m.group('label')} (`{url}`)"
        url = m.group("auto") or m.group("bare")
        tail = ""
        while url and url[-1] in ".,;:!?":
            url, tail = url[:-1], url[-1] + tail
        return (url if url in allowed else f"`{url}`") + tail

    text = _URLISH.sub(one, text)
    # raw HTML: shown as text, never rendered (links and code above are already safe)
    return text.replace("<", "&lt;")


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def whole_sentences(text: str, limit: int) -> str:
    """Text that reached its length cap, cut back to its last full sentence
    (or its last whole word, with an ellipsis); shorter text as it is."""
    text = text.strip()
    if len(text) < limit - 1:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if ends and ends[-1] >= len(text) - 1:
        return text
    if ends and ends[-1] >= limit // 3:
        return text[: ends[-1]]
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-")
    return cut + "…"
