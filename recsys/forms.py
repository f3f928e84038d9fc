from django import forms

from . import ratings
from .models import Dataset


class CatalogueSearchForm(forms.Form):
    q = forms.CharField(label="Title contains", required=False, max_length=100)
    category = forms.ChoiceField(label="Category", required=False)
    year = forms.IntegerField(label="Year", required=False, min_value=1800, max_value=2100)
    order = forms.ChoiceField(label="Order", required=False, choices=[
        ("popular", "Most popular first"), ("title", "Title A–Z")])

    def __init__(self, *args, categories=(), years=True, popularity=True, **kwargs):
        """No category (year) filter for a catalogue whose items have none: it could only ever find nothing; no
        "most popular first" without a trained model to count popularity (the list is then in title order)."""
        super().__init__(*args, **kwargs)
        category = self.fields["category"]
        assert isinstance(category, forms.ChoiceField)
        category.choices = [("", "Any category")] + [(c, c) for c in categories]
        if not categories:
            del self.fields["category"]
        if not years:
            del self.fields["year"]
        if not popularity:
            order = self.fields["order"]
            assert isinstance(order, forms.ChoiceField)
            order.choices = [("title", "Title A–Z")]


class AddToHistoryForm(forms.Form):
    rating = forms.FloatField(label="Your rating (optional)", required=False)

    def __init__(self, *args, scale: ratings.RatingScale, **kwargs):
        """``scale``: the item's dataset's (``ratings.scale_of``); its rule is the message for any bad rating."""
        super().__init__(*args, **kwargs)
        self.scale = scale
        self.fields["rating"].error_messages["invalid"] = scale.member_rule

    def clean_rating(self):
        rating = self.cleaned_data["rating"]
        if rating is not None and not self.scale.is_member_rating(rating):
            raise forms.ValidationError(self.scale.member_rule)
        return rating


class DatasetChoiceForm(forms.Form):
    """The member's dataset switcher: datasets without recommendations are listed disabled with the reason
    (``selectors.datasets_for``) and refused if posted anyway, unless they hold the member's history."""

    dataset = forms.ModelChoiceField(queryset=Dataset.objects.all(), label="Dataset", empty_label=None,
                                     error_messages={"invalid_choice": "That dataset does not exist.",
                                                     "required": "Choose a dataset."})

    def __init__(self, choices: list, *args, current: Dataset | None = None, **kwargs):
        """choices: ``selectors.datasets_for(user, current)``."""
        kwargs.setdefault("initial", {"dataset": current})
        super().__init__(*args, **kwargs)
        self.choices = choices
        field = self.fields["dataset"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Dataset.objects.filter(pk__in=[choice.dataset.pk for choice in self.choices])

    def clean_dataset(self):
        dataset = self.cleaned_data["dataset"]
        choice = next(choice for choice in self.choices if choice.dataset.pk == dataset.pk)
        if not choice.selectable:
            raise forms.ValidationError(f"{dataset} has no recommendations yet (no model is active); "
                                        "pick another dataset.")
        return dataset


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


class ImportDatasetForm(forms.Form):
    FORMATS = [
        ("", "Detect automatically"),
        ("ml-100k", "MovieLens-100K"),
        ("ml-1m", "MovieLens-1M"),
        ("ml-latest", "MovieLens latest / latest-small"),
        ("recbole", "RecBole atomic files"),
        ("sasrec", "SASRec user-item lines"),
        ("csv", "Generic CSV"),
    ]
    name = forms.SlugField(label="Dataset name (slug)", max_length=64)
    title = forms.CharField(label="Title", max_length=200, required=False)
    format = forms.ChoiceField(choices=FORMATS, required=False)
    item_kind = forms.ChoiceField(
        label="The items are", required=False,
        choices=[("", "Taken from the format (MovieLens: films; CSV, RecBole, SASRec: items)"),
                 *Dataset.ItemKind.choices],
        help_text="The words members read: “the films you watched” or “the items you picked”. For more files added "
                  "to a dataset, leaving it to the format keeps what the dataset has.")
    path = forms.CharField(label="Server path (file or folder)", required=False, max_length=500,
                           help_text="Read by the worker that runs the import: with workers on several machines, "
                                     "a path they all see (uploaded files need nothing).")
    # Named like Form.files: the form metaclass moves declared fields off the class, so they never clash.
    files = MultipleFileField(label="…or upload the files", required=False)  # type: ignore[assignment]

    def clean(self):
        data = super().clean() or {}
        # A refused upload (an empty file, say) already says what is wrong with it.
        if not data.get("path") and not data.get("files") and "files" not in self.errors:
            raise forms.ValidationError("Give a server path or upload the dataset's files.")
        return data
