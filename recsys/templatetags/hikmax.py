from datetime import UTC, datetime

from django import template

from recsys.ratings import model_weight, scale_of

register = template.Library()


@register.filter
def when(interaction_timestamp, ordinal: bool = False) -> str:
    """A unix timestamp as a date, or an ordinal step for datasets without time."""
    if interaction_timestamp is None:
        return "—"
    if ordinal:
        return f"step {interaction_timestamp}"
    return datetime.fromtimestamp(int(interaction_timestamp), UTC).strftime("%Y-%m-%d")


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{100 * float(value):.1f}%"


@register.filter
def words(identifier: str) -> str:
    """population_experiment -> Population experiment."""
    return str(identifier).replace("_", " ").capitalize()


@register.filter
def counts_for(interaction, dataset) -> float:
    """What an active interaction of ``dataset`` counts for in the model: its weight times its rating's factor on
    the dataset's scale (recsys.ratings)."""
    return model_weight(interaction.weight, interaction.rating, scale=scale_of(dataset))


@register.filter
def number(value) -> str:
    """A rating or scale bound as people write it, unlocalised (also fit for an input's min, max and step): 5, 0.5."""
    return "" if value is None else f"{float(value):g}"


@register.filter
def with_year(item) -> str:
    """The item's title with its year in brackets, unless the title already holds it (MovieLens titles do)."""
    year = "" if item.year is None else str(item.year)
    return f"{item.title} ({year})" if year and year not in item.title else item.title


@register.filter
def counted_in(count: int, words) -> str:
    """A count in the dataset's own words (``recsys.vocabulary.Words``): "1 film", "9 films", "2 items"."""
    return f"{count} {words.item if count == 1 else words.items}"
