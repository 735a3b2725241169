"""Comment commands: `/review`, `/summary`, `/ask <question>`, `/pause`,
`/resume`, `/help` (and `/remember`, `/dismiss`, which the host applies).
Only people with write access may use them; bots are never answered."""

from dataclasses import dataclass

MAINTAINERS = ("OWNER", "MEMBER", "COLLABORATOR")
COMMANDS = ("review", "summary", "ask", "pause", "resume", "help", "remember", "dismiss")
HELP = """**flows code-review commands** (for people with write access):
- `/review`: review the whole pull request again
- `/summary`: write the summary again, without the risk analysis
- `/ask <question>`: ask about this pull request
- `/pause` and `/resume`: stop and restart automatic reviews on pushes
- `/remember <convention>`: a team convention later reviews respect
- `/dismiss [reason]` (as a reply to a finding): do not raise it again"""


@dataclass
class Command:
    name: str
    arg: str
    author: str
    trusted: bool


def parse(comment: dict) -> Command | None:
    """The command a comment starts with, if it is one of ours and not a bot's."""
    body = str(comment.get("body") or "").strip()
    user = comment.get("user") or {}
    login = str(user.get("login") or "")
    if user.get("type") == "Bot" or login.endswith("[bot]"):
        return None
    if not body.startswith("/"):
        return None
    word = body[1:].split(None, 1)[0].lower() if len(body) > 1 else ""
    if word not in COMMANDS:
        return None
    arg = body[1 + len(word) :].strip()
    trusted = comment.get("author_association") in MAINTAINERS
    return Command(word, arg[:2000], login, trusted)


def refusal(cmd: Command) -> str:
    return (f"Sorry {cmd.author}, only people with write access to this repository can use "
            f"`/{cmd.name}`.")  # fmt: skip
