from django import forms


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(label="Was this explanation helpful?", choices=[("yes", "Yes"), ("no", "No")],
                                     coerce=lambda value: value == "yes", widget=forms.RadioSelect,
                                     error_messages={"required": "Please answer yes or no.",
                                                     "invalid_choice": "Please answer yes or no."})
    comment = forms.CharField(label="Anything to add? (optional)", required=False, max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3}), error_messages={
                                  "max_length": "A comment can be at most %(limit_value)d characters; "
                                                "yours has %(show_value)d. Nothing was saved."})
