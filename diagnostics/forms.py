from django import forms

from diagnostics.models import DiagnosticRun
from recsys.models import Dataset


class StartRunForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.order_by("name"))
    architecture = forms.ChoiceField(choices=DiagnosticRun.Architecture.choices, initial="mf")
    users = forms.IntegerField(min_value=0, max_value=1000, initial=20, label="Members to sample")
    items = forms.IntegerField(min_value=0, max_value=1000, initial=20, label="Titles to sample")
    seeds = forms.IntegerField(min_value=1, max_value=10, initial=3, label="Seeds (R)")
    # The run stores it in a PositiveIntegerField: PostgreSQL's integer, SQLite's 64-bit one.
    sample_seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0, label="Sampling seed")
    epochs = forms.IntegerField(min_value=1, max_value=200, initial=5, label="Epochs (sequential models)")


class ExclusionForm(forms.Form):
    reason = forms.CharField(max_length=300)
