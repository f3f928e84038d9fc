"""Counts in words, for every sentence a member or analyst reads: "1 interaction", "3 interactions", never
"interaction(s)"."""


def counted(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
