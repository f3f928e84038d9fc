from django import forms
from django.core.validators import MaxValueValidator

from forecast.engine import Policy
from recsys.ratings import STAR_TOP, RatingScale


class TrainForecasterForm(forms.Form):
    count = forms.IntegerField(label="τ_count: future ratings a hit needs (and the popularity cut)", min_value=1,
                               initial=Policy.count)
    avg = forms.FloatField(label="τ_avg: future mean rating at least", min_value=0, initial=Policy.avg)
    neg = forms.FloatField(label="τ_neg: highest negative-tag probability at most", min_value=0, max_value=1,
                           initial=Policy.neg)
    cutoff_quantile = forms.FloatField(label="Cutoff τ at this quantile of rating timestamps", min_value=0.05,
                                       max_value=0.95, initial=0.75)
    min_recall = forms.FloatField(label="Minimum recall of the decision threshold", min_value=0.01, max_value=1,
                                  initial=0.10)
    full_grid = forms.BooleanField(label="The paper's hyper-parameter grids (slower)", required=False, initial=True)
    sensitivity = forms.BooleanField(label="Run the 27-policy sensitivity analysis", required=False, initial=True)
    sensitivity_count_scale = forms.FloatField(label="Scale of the sensitivity counts 50/70/90", min_value=0.01,
                                               max_value=10, initial=1.0)
    activate = forms.BooleanField(label="Activate when ready", required=False, initial=True)

    def __init__(self, *args, scale: RatingScale | None = None, **kwargs):
        """``scale``: the dataset's rating scale, when known: τ_avg is on it, its default at the paper's 3 of 5."""
        super().__init__(*args, **kwargs)
        # A future mean above the top of the scale makes every title a miss: the job could only fail.
        top = scale.high if scale is not None else STAR_TOP
        self.fields["avg"].validators.append(MaxValueValidator(top))
        self.fields["avg"].widget.attrs["max"] = top
        if scale is not None and not scale.stars:
            self.fields["avg"].initial = round(Policy.avg / STAR_TOP * scale.high, 6)
            self.fields["avg"].label = f"τ_avg: future mean rating at least, on {scale.named}"

    def settings(self) -> dict:
        data = self.cleaned_data
        return {"policy": {"count": data["count"], "avg": data["avg"], "neg": data["neg"]},
                **{key: data[key] for key in ("cutoff_quantile", "min_recall", "full_grid", "sensitivity",
                                              "sensitivity_count_scale")}}
