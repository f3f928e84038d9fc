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
    models: dict[str, str] | None = None  # model label -> export section ("histories[].interactions": nested)


_holders: dict[str, Holder] = {}


def register(app: str, *, export: Export, erase: Erase | None = None, models: dict[str, str] | None = None) -> None:
    """``models``: every model of the app holding member data, with the export section its rows appear in
    (tests/web/test_export_everything.py fails for a model with a path to the user that is not listed)."""
    _holders[app] = Holder(app, export, erase, models)


def exported_models() -> dict[str, str]:
    """Model label -> export section, over every registered app."""
    return {label: section for holder in _holders.values() for label, section in (holder.models or {}).items()}


def export_sections(user: User) -> dict:
    sections: dict = {}
    for holder in _holders.values():
        for name, content in holder.export(user).items():
            if name in sections:
                raise RuntimeError(f"{holder.app} exports a section {name!r} another app already exports")
            sections[name] = content
    return sections


def erase_everywhere(user: User) -> dict:
    """Run every app's erasure (in registration order); the account itself is deleted by the caller."""
    summary: dict = {}
    for holder in _holders.values():
        if holder.erase is not None:
            summary.update(holder.erase(user))
    return summary
