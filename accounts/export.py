"""Everything the account holds, gathered from every app's ``selectors.export_for_user(user)``.

An app that stores member data contributes its sections by defining, in its ``selectors`` module,
``export_for_user(user) -> dict[str, list | dict]`` and ``EXPORTED_MODELS`` (model label -> the
section, ``"histories[].interactions"`` for rows nested in another section's rows). The export test
checks that every model with a foreign-key path to the user is listed there and really exported.
"""

import csv
import io
import json
import zipfile
from importlib import import_module

from django.apps import apps
from django.utils import timezone
from django.utils.module_loading import module_has_submodule


def contributors() -> list:
    """The ``selectors`` modules of installed apps that define ``export_for_user``, accounts first."""
    modules = []
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "selectors"):
            module = import_module(f"{config.name}.selectors")
            if callable(getattr(module, "export_for_user", None)):
                modules.append(module)
    return sorted(modules, key=lambda module: module.__name__ != "accounts.selectors")


def exported_models() -> dict[str, str]:
    """Model label -> export section, over all contributing apps."""
    return {label: section for module in contributors()
            for label, section in getattr(module, "EXPORTED_MODELS", {}).items()}


def export_user_data(user) -> dict:
    data: dict = {"exported_at": timezone.now().isoformat()}
    for module in contributors():
        for section, content in module.export_for_user(user).items():
            if section in data:
                raise RuntimeError(f"two apps export a section called {section!r}")
            data[section] = content
    return data


def export_zip_of_csv(user) -> bytes:
    """One CSV per section (rows nested in another section's rows get their own file); nested values as JSON."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in _tables(export_user_data(user)):
            archive.writestr(f"{name}.csv", _csv(rows))
    return buffer.getvalue()


def _tables(data: dict):
    for section, content in data.items():
        if isinstance(content, dict):
            yield section, [content]
        elif isinstance(content, list):
            nested = {key for row in content if isinstance(row, dict) for key, value in row.items()
                      if isinstance(value, list) and value and all(isinstance(v, dict) for v in value)}
            if not nested:
                yield section, content
                continue
            link = f"{section}_row"  # numbers a row so its nested rows (in their own file) can point back to it
            yield section, [{link: n, **{k: v for k, v in row.items() if k not in nested}}
                            for n, row in enumerate(content, 1)]
            for key in sorted(nested):
                yield f"{section}-{key}", [{link: n, **child} for n, row in enumerate(content, 1)
                                           for child in row.get(key, [])]
        else:
            yield section, [{section: content}]


def _csv(rows: list[dict]) -> str:
    fields: list[str] = []
    for row in rows:
        fields.extend(key for key in row if key not in fields)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields or ["(none)"])
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items()})
    return out.getvalue()


def _cell(value):
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else value
