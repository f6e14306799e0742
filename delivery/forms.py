from django import forms

from delivery.models import ShipmentStatus


class ShipmentFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "All statuses"), *ShipmentStatus.choices], required=False)
    q = forms.CharField(label="Order id", max_length=20, required=False, strip=True)


class ShipForm(forms.Form):
    tracking_number = forms.RegexField(
        regex=r"^[\x21-\x7e]{1,64}$",
        required=False,
        strip=True,
        error_messages={"invalid": "Use 1 to 64 printable characters without spaces."},
    )
