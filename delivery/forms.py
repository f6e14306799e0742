from django import forms

from delivery.models import TRACKING_NUMBER, TRACKING_NUMBER_HELP, ShipmentStatus


class ShipmentFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "All statuses"), *ShipmentStatus.choices], required=False)
    q = forms.CharField(label="Order id", max_length=20, required=False, strip=True)


class ShipForm(forms.Form):
    tracking_number = forms.RegexField(
        regex=TRACKING_NUMBER,
        required=False,
        strip=True,
        error_messages={"invalid": TRACKING_NUMBER_HELP},
    )
