"""What each app holds about a member. Apps register their export and erasure in AppConfig.ready(), so
accounts (the bottom layer) collects them without importing the apps above it."""

from collections.abc import Callable
from dataclasses import dataclass

from .models import User

Export = Callable[[User], dict]  # JSON-ready sections of the member's export
Erase = Callable[[User], dict]  # deletes or anonymises the app's data; returns a summary for the erasure record


@dataclass(frozen=True)
class Holder:
    app: str
    export: Export
    erase: Erase | None = None


_holders: dict[str, Holder] = {}


def register(app: str, *, export: Export, erase: Erase | None = None) -> None:
    _holders[app] = Holder(app, export, erase)


def export_sections(user: User) -> dict:
    sections: dict = {}
    for holder in _holders.values():
        sections.update(holder.export(user))
    return sections


def erase_everywhere(user: User) -> dict:
    """Run every app's erasure (in registration order); the account itself is deleted by the caller."""
    summary: dict = {}
    for holder in _holders.values():
        if holder.erase is not None:
            summary.update(holder.erase(user))
    return summary
