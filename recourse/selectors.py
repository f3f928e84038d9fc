"""Reads of the recourse app shared by pages, API and the account export."""


def export_for_user(user) -> dict:
    return {}
