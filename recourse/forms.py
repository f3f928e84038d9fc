from django import forms


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(label="Was this explanation helpful?", choices=[("yes", "Yes"), ("no", "No")],
                                     coerce=lambda value: value == "yes", widget=forms.RadioSelect)
    comment = forms.CharField(label="Anything to add? (optional)", required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}))
