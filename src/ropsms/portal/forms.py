"""Forms: validation and labels (every field has a label for screen readers)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from ropsms.directory.models import Group, OrgUnit
from ropsms.portal.models import InterviewSession, MessageTemplate, UnitPolicy
from ropsms.portal.ranks import RANKS, rank_name


def unit_choices(units, language: str) -> list[tuple[int, str]]:
    """Units indented by depth so the hierarchy reads in a plain <select>."""
    return [(u.pk, "\u2003" * (u.path.count("/") - 2) + u.name(language)) for u in units]


class ComposeForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    unit = forms.TypedChoiceField(label=_("Send for unit"), coerce=int)
    template = forms.ChoiceField(label=_("Template"), required=False)
    text = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 5}),
                           help_text=_("Placeholders: {name} and {rank} are filled for each staff member."))
    groups = forms.TypedMultipleChoiceField(label=_("Groups"), coerce=int, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    units = forms.TypedMultipleChoiceField(label=_("Whole units (and below)"), coerce=int, required=False,
                                           widget=forms.SelectMultiple(attrs={"size": 6}))
    staff = forms.TypedMultipleChoiceField(label=_("Individual staff"), coerce=int, required=False,
                                           widget=forms.SelectMultiple(attrs={"size": 8}))
    numbers = forms.CharField(label=_("Pasted numbers"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3, "dir": "ltr"}),
                              help_text=_("One per line, or separated by commas."))
    scheduled_for = forms.DateTimeField(label=_("Send later (optional)"), required=False,
                                        widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                   format="%Y-%m-%dT%H:%M"),
                                        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])

    def __init__(self, *args, units, groups, staff, templates, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        choices = unit_choices(units, language)
        self.fields["unit"].choices = choices
        self.fields["units"].choices = choices
        self.fields["groups"].choices = [(g.pk, f"{g.name(language)} ({g.owner_unit.code})") for g in groups]
        self.fields["staff"].choices = [
            (p.pk, f"{p.name(language)} · {rank_name(p.rank, language)} · {p.org_unit.code}") for p in staff]
        self.fields["template"].choices = [("", "—")] + [(t.pk, t.name) for t in templates]


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class TemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["org_unit", "name", "text"]


class GroupForm(forms.ModelForm):
    ranks = forms.MultipleChoiceField(label=_("Ranks (dynamic groups; none = any)"), required=False,
                                      choices=[(en, f"{en} / {ar}") for en, ar in RANKS],
                                      widget=forms.SelectMultiple(attrs={"size": 6}))

    class Meta:
        model = Group
        fields = ["name_en", "name_ar", "kind", "owner_unit", "units", "ranks", "members"]
        widgets = {"units": forms.SelectMultiple(attrs={"size": 6}), "members": forms.SelectMultiple(attrs={"size": 8})}


class PolicyForm(forms.ModelForm):
    class Meta:
        model = UnitPolicy
        fields = ["approval_threshold", "monthly_quota"]


class SessionForm(forms.ModelForm):
    class Meta:
        model = InterviewSession
        fields = ["org_unit", "title", "date", "time", "venue_en", "venue_ar", "bring_en", "bring_ar"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"}), "time": forms.TimeInput(attrs={"type": "time"}),
                   "venue_ar": forms.TextInput(attrs={"dir": "rtl"}), "bring_ar": forms.TextInput(attrs={"dir": "rtl"})}


class UploadForm(forms.Form):
    file = forms.FileField(label=_("Applicants file (CSV or XLSX)"),
                           help_text=_("Columns: name, mobile, language (ar/en), civil_id (optional)."))


class OtpForm(forms.Form):
    token = forms.CharField(label=_("6-digit code from your authenticator app"), max_length=8,
                            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code",
                                                          "dir": "ltr"}))


def limit_units(form: forms.ModelForm, units, language: str, *fields: str) -> None:
    """Restrict a model form's unit fields to the units the user may act for."""
    for name in fields:
        field = form.fields[name]
        field.queryset = OrgUnit.objects.filter(pk__in=units.values("pk"))
        field.label_from_instance = lambda u: u.name(language)


class UserForm(forms.Form):
    username = forms.RegexField(label=_("Username"), max_length=150, regex=r"^[\w.@+-]+$")
    unit = forms.TypedChoiceField(label=_("Unit"), coerce=int)
    roles = forms.MultipleChoiceField(label=_("Roles"), widget=forms.CheckboxSelectMultiple)
    person = forms.CharField(label=_("Employee number (optional)"), required=False, max_length=20)

    def __init__(self, *args, units, roles, language: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = unit_choices(units, language)
        self.fields["roles"].choices = roles
