"""The coding process: what of the truth reaches the primary-care record, with which code and when.

Recording is incomplete (each practice with its own completeness), codes are chosen among valid and
vague ones, misleading codes and false positives appear, entries are delayed or carry a default date,
and codes follow the terminology releases in use on their dates."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codesetlib.data.synthetic.calibration import Calibration
from codesetlib.data.synthetic.code_choice import CodeChoice
from codesetlib.data.synthetic.conditions import (
    ATTRIBUTE_CATEGORIES,
    CANCER_SITES,
    Attributes,
    Conditions,
)
from codesetlib.data.synthetic.dates import DEFAULT_DATE, NO_DATE, day_number, years_to_days
from codesetlib.data.synthetic.population import Patients, Registrations

SCREENING_ITEMS = {
    "bowel": "bowel_screening",
    "breast": "breast_screening",
    "cervical_25_49": "cervical_screening",
    "cervical_50_64": "cervical_screening",
}
# Days after the diagnosis code within which each cancer care item is recorded.
CARE_WINDOWS = {
    "cancer_care_review": (30, 365),
    "cancer_support_discussion": (7, 90),
    "cancer_care_plan": (14, 365),
    "holistic_needs_assessment": (14, 180),
    "cancer_staging": (7, 60),
    "cancer_treatment": (14, 180),
}


@dataclass(frozen=True)
class CodingModel:
    """Everything the coding process needs, the same for every chunk."""

    start: int
    end: int
    calibration: Calibration
    choice: CodeChoice
    practice_share: dict[str, np.ndarray]  # recording item -> each practice's share


@dataclass
class EventBuffer:
    """Coded events of a chunk, gathered part by part, then sorted into rows."""

    who: list[np.ndarray] = field(default_factory=list)
    day: list[np.ndarray] = field(default_factory=list)
    code: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)

    def add(self, who: np.ndarray, day: np.ndarray, code: np.ndarray, value=None) -> None:
        self.who.append(np.asarray(who, dtype=np.int64))
        self.day.append(np.asarray(day, dtype=np.int64))
        self.code.append(np.asarray(code, dtype=np.int32))
        self.value.append(np.full(len(who), np.nan) if value is None else np.asarray(value, float))

    def rows(self, patient_id: np.ndarray, with_value: bool) -> dict[str, np.ndarray]:
        """Rows sorted by patient, date, code (then value), as the table holds them."""
        who = np.concatenate([np.empty(0, np.int64), *self.who])
        day = np.concatenate([np.empty(0, np.int64), *self.day])
        code = np.concatenate([np.empty(0, np.int32), *self.code])
        value = np.concatenate([np.empty(0), *self.value])
        order = np.lexsort((value, code, day, who))
        rows = {"patient_id": patient_id[who[order]], "date": day[order], "code": code[order]}
        if with_value:
            rows["value"] = value[order]
        return rows


@dataclass(frozen=True)
class Chunk:
    """The truth of one chunk, and where its patients are registered."""

    patients: Patients
    registrations: Registrations
    conditions: Conditions
    attributes: Attributes


def _recorded(
    model: CodingModel, chunk: Chunk, item: str, who: np.ndarray, days: np.ndarray, rng
) -> np.ndarray:
    """Whether each entry reaches the record, by the completeness of the practice on that day."""
    practice = chunk.registrations.practice_on(who, days)
    return rng.random(len(who)) < model.practice_share[item][practice]


def _recording_deadline(model: CodingModel, chunk: Chunk, who: np.ndarray) -> np.ndarray:
    """The last day an attribute is recorded on: the calibration's `recorded_by` date for people
    registered by then (so the shares hold on that date), otherwise the end of their record."""
    r = chunk.registrations
    by = day_number(model.calibration.recorded_by)
    return np.where(r.first_start[who] <= by, np.minimum(by, r.record_end[who]), r.record_end[who])


def _within_record(
    chunk: Chunk, who: np.ndarray, days: np.ndarray, model: CodingModel
) -> np.ndarray:
    r = chunk.registrations
    return (days >= r.first_start[who]) & (days <= r.record_end[who]) & (days <= model.end)


def _uniform_days(low: np.ndarray, high: np.ndarray, rng) -> np.ndarray:
    return low + (rng.random(len(low)) * np.maximum(high - low, 0)).astype(np.int64)


def _diagnosis_days(model: CodingModel, chunk: Chunk, who, onset, rng) -> np.ndarray:
    """The date a diagnosis is coded: after a delay; at registration (or a default date) if historic."""
    delay = rng.exponential(model.calibration.delays.diagnosis_mean_days, len(who))
    day = onset + np.round(delay).astype(np.int64)
    start = chunk.registrations.first_start[who]
    historic = onset < start
    at_registration = start + rng.integers(0, 60, len(who))
    default = rng.random(len(who)) < model.calibration.delays.historic_default_date
    day = np.where(historic, np.where(default, day_number(DEFAULT_DATE), at_registration), day)
    return np.where(day > model.end, NO_DATE, np.minimum(day, chunk.registrations.record_end[who]))


def _add_choice(buffer: EventBuffer, choice, who, days, rng, value=None) -> None:
    buffer.add(who, days, choice.choose(days, rng), value)


def _repeated(who, first, last, interval: int, jitter: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Entries every `interval` days (give or take `jitter`) from `first` to `last`, per patient."""
    counts = np.where(last >= first, (last - first) // interval + 1, 0)
    rep = np.repeat(who, counts)
    step = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    days = np.repeat(first, counts) + step * interval + rng.integers(-jitter, jitter + 1, len(rep))
    return rep, np.clip(days, np.repeat(first, counts), np.repeat(last, counts))


def code_attributes(model: CodingModel, chunk: Chunk, events: EventBuffer, rng) -> None:
    """Ethnicity, main language, employment status and family history, each recorded or not."""
    p, r, a = chunk.patients, chunk.registrations, chunk.attributes
    count = len(p.patient_id)
    everyone = np.arange(count)
    misleading = model.calibration.misleading
    for attribute, names in ATTRIBUTE_CATEGORIES.items():
        category = getattr(a, attribute)
        who = everyone[category >= 0]
        days = np.minimum(
            r.first_start[who] + rng.exponential(200, len(who)).astype(np.int64),
            _recording_deadline(model, chunk, who),
        )
        days = np.maximum(days, p.date_of_birth[who])
        recorded = _recorded(model, chunk, attribute, who, days, rng)
        for k, name in enumerate(names):
            here = recorded & (category[who] == k)
            _add_choice(
                events, model.choice.categories[attribute][name], who[here], days[here], rng
            )
        if attribute == "ethnicity":
            refused = ~recorded & (rng.random(len(who)) < misleading.ethnicity_not_stated)
            _add_choice(
                events, model.choice.items["ethnicity_not_stated"], who[refused], days[refused], rng
            )
        if attribute == "main_language":
            needs = (
                recorded
                & (category[who] != 0)
                & (rng.random(len(who)) < misleading.interpreter_needed)
            )
            _add_choice(
                events, model.choice.items["interpreter_needed"], who[needs], days[needs], rng
            )
    days = _uniform_days(r.first_start, _recording_deadline(model, chunk, everyone), rng)
    recorded = _recorded(model, chunk, "family_history_of_cancer", everyone, days, rng)
    for item, truth in (("family_history_of_cancer", True), ("no_family_history_of_cancer", False)):
        here = recorded & (a.family_history_of_cancer == truth)
        _add_choice(events, model.choice.items[item], everyone[here], days[here], rng)


def code_cancer(model: CodingModel, chunk: Chunk, events: EventBuffer, rng) -> np.ndarray:
    """Cancer diagnoses, the misleading codes around them, and false positives.

    Returns the day each patient's cancer was coded (NO_DATE when it was not)."""
    p, r, c = chunk.patients, chunk.registrations, chunk.conditions
    items, misleading = model.choice.items, model.calibration.misleading
    count = len(p.patient_id)
    coded_day = np.full(count, NO_DATE, dtype=np.int64)
    who = np.flatnonzero((c.cancer_onset != NO_DATE) & (c.cancer_onset <= r.record_end))
    onset = c.cancer_onset[who]
    days = _diagnosis_days(model, chunk, who, onset, rng)
    recorded = (days != NO_DATE) & _recorded(
        model, chunk, "cancer_diagnosis", who, np.maximum(onset, r.first_start[who]), rng
    )
    site = c.cancer_site[who]
    screen_code = (c.cancer_how[who] == 1) & (rng.random(len(who)) < 0.3)
    for k, name in enumerate(CANCER_SITES):
        item = f"{name}_cancer"
        for detected in (False, True):
            here = recorded & (site == k) & (screen_code == detected)
            if detected and not here.any():
                continue
            chosen = items[f"{item}_screen_detected"] if detected else items[item]
            _add_choice(events, chosen, who[here], days[here], rng)
    coded_day[who[recorded]] = days[recorded]
    # "History of" entries some years later, once treatment is over.
    coded = np.flatnonzero(coded_day != NO_DATE)
    since = np.maximum(coded_day[coded], r.first_start[coded])  # not from a default date
    later = since + rng.integers(365, 5 * 365, len(coded))
    here = (rng.random(len(coded)) < misleading.history_of_cancer) & (
        later <= np.minimum(r.record_end[coded], model.end)
    )
    _add_choice(events, items["history_of_cancer"], coded[here], later[here], rng)
    # Urgent referral and "suspected" before an urgently referred diagnosis.
    urgent = who[c.cancer_how[who] == 0]
    for item, share, (low, high) in (
        ("urgent_referral", misleading.urgent_referral, (7, 28)),
        ("suspected_cancer", misleading.suspected_before_diagnosis, (1, 14)),
    ):
        before = c.cancer_onset[urgent] - rng.integers(low, high, len(urgent))
        here = (rng.random(len(urgent)) < share) & _within_record(chunk, urgent, before, model)
        _add_choice(events, items[item], urgent[here], before[here], rng)
    # Screen-detected cancers follow an abnormal screening result.
    for k, item in ((0, "breast_screening_abnormal"), (3, "bowel_screening_abnormal")):
        detected = who[(c.cancer_how[who] == 1) & (site == k)]
        before = c.cancer_onset[detected] - rng.integers(14, 42, len(detected))
        here = _within_record(chunk, detected, before, model)
        _add_choice(events, items[item], detected[here], before[here], rng)
    # Suspected cancer in adults who never have it, and cancer codes without cancer.
    free = np.flatnonzero(c.cancer_onset == NO_DATE)
    window_start = np.maximum(
        r.first_start[free], np.maximum(model.start, p.date_of_birth[free] + years_to_days(18))
    )
    window_end = r.record_end[free]
    for item, share in (
        ("suspected_cancer", misleading.suspected_cancer),
        ("other_cancer", misleading.false_positive_cancer),
    ):
        day = _uniform_days(window_start, window_end, rng)
        here = (rng.random(len(free)) < share) & (window_end > window_start)
        _add_choice(events, items[item], free[here], day[here], rng)
        if item == "other_cancer":
            coded_day[free[here]] = day[here]  # on the register, so care follows as for any entry
    return coded_day


def code_cancer_care(
    model: CodingModel,
    chunk: Chunk,
    coded_day: np.ndarray,
    events: EventBuffer,
    medications: EventBuffer,
    rng,
) -> None:
    """Reviews, plans, needs assessments, staging and treatment after a new coded diagnosis."""
    r, c = chunk.registrations, chunk.conditions
    items, misleading = model.choice.items, model.calibration.misleading
    # Care follows the practice's cancer register: every patient newly coded there gets the same
    # chance of a review, whether the code marks a new cancer, a past one entered at registration, or
    # (rarely) none at all, as CAN004 counts them.
    who = np.flatnonzero((coded_day != NO_DATE) & (coded_day >= model.start))
    diagnosed = coded_day[who]
    for item, (low, high) in CARE_WINDOWS.items():
        days = diagnosed + rng.integers(low, high + 1, len(who))
        possible = _within_record(chunk, who, days, model)
        recorded = possible & _recorded(model, chunk, item, who, days, rng)
        _add_choice(events, items[item], who[recorded], days[recorded], rng)
        declined = {
            "cancer_care_review": misleading.cancer_care_review_declined,
            "holistic_needs_assessment": misleading.holistic_needs_assessment_declined,
        }.get(item)
        if declined:
            here = possible & ~recorded & (rng.random(len(who)) < declined)
            _add_choice(events, items[f"{item}_declined"], who[here], days[here], rng)
    # Endocrine therapy for most breast cancers: repeat prescriptions for up to five years.
    breast = who[(c.cancer_site[who] == 0) & (rng.random(len(who)) < 0.6)]
    first = coded_day[breast] + 30
    last = np.minimum(np.minimum(first + 5 * 365, r.record_end[breast]), model.end)
    rep, days = _repeated(breast, first, last, 84, 7, rng)
    _add_choice(medications, model.choice.medications["endocrine_therapy"], rep, days, rng)


def code_nmsc(model: CodingModel, chunk: Chunk, events: EventBuffer, rng) -> None:
    """Non-melanoma skin cancers, coded apart from the cancer register's diagnoses."""
    r, c = chunk.registrations, chunk.conditions
    who = np.flatnonzero((c.nmsc_onset != NO_DATE) & (c.nmsc_onset <= r.record_end))
    days = _diagnosis_days(model, chunk, who, c.nmsc_onset[who], rng)
    recorded = (days != NO_DATE) & _recorded(
        model, chunk, "nmsc_diagnosis", who, np.maximum(c.nmsc_onset[who], r.first_start[who]), rng
    )
    _add_choice(events, model.choice.items["nmsc"], who[recorded], days[recorded], rng)


def code_diabetes(
    model: CodingModel, chunk: Chunk, events: EventBuffer, medications: EventBuffer, rng
) -> None:
    """Diabetes diagnoses, HbA1c results (mmol/mol) for diabetic and other adults, and prescriptions."""
    p, r, c = chunk.patients, chunk.registrations, chunk.conditions
    items = model.choice.items
    hba1c = items["hba1c"]
    for item, onset_all, mean, spread in (
        ("diabetes_type1", c.diabetes_type1_onset, 66.0, 13.0),
        ("diabetes_type2", c.diabetes_type2_onset, 57.0, 11.0),
    ):
        who = np.flatnonzero((onset_all != NO_DATE) & (onset_all <= r.record_end))
        onset = onset_all[who]
        days = _diagnosis_days(model, chunk, who, onset, rng)
        recorded = (days != NO_DATE) & _recorded(
            model, chunk, "diabetes_diagnosis", who, np.maximum(onset, r.first_start[who]), rng
        )
        _add_choice(events, items[item], who[recorded], days[recorded], rng)
        first = np.maximum(np.maximum(onset, r.first_start[who]), model.start) + rng.integers(
            0, 182, len(who)
        )
        last = np.minimum(r.record_end[who], model.end)
        rep, rep_days = _repeated(who, first, last, 182, 30, rng)
        values = np.clip(rng.normal(mean, spread, len(rep)), 30, 150).round(0)
        _add_choice(events, hba1c, rep, rep_days, rng, values)
        if item == "diabetes_type2":
            found = who[
                c.diabetes_type2_by_hba1c[who]
                & (onset >= model.start)
                & (onset >= r.first_start[who])
            ]
            values = (48 + rng.exponential(8, len(found))).round(0)
            _add_choice(events, hba1c, found, c.diabetes_type2_onset[found], rng, values)
            for drug, share, lag in (("metformin", 0.75, 30), ("gliclazide", 0.2, 730)):
                takes = who[rng.random(len(who)) < share]
                start_day = np.maximum(
                    np.maximum(c.diabetes_type2_onset[takes] + lag, r.first_start[takes]),
                    model.start,
                )
                rep, rep_days = _repeated(
                    takes, start_day, np.minimum(r.record_end[takes], model.end), 84, 7, rng
                )
                _add_choice(medications, model.choice.medications[drug], rep, rep_days, rng)
    # Adults of 40 and over without diabetes: a test every three years or so for half of them.
    diabetic = (c.diabetes_type1_onset != NO_DATE) | (c.diabetes_type2_onset != NO_DATE)
    who = np.flatnonzero(~diabetic & (rng.random(len(diabetic)) < 0.5))
    first = np.maximum(
        np.maximum(p.date_of_birth[who] + years_to_days(40), r.first_start[who]), model.start
    )
    first = first + rng.integers(0, 3 * 365, len(who))
    rep, days = _repeated(who, first, np.minimum(r.record_end[who], model.end), 3 * 365, 60, rng)
    values = np.clip(rng.normal(37.0, 4.0, len(rep)), 20, 47).round(0)
    _add_choice(events, hba1c, rep, days, rng, values)
    flagged = (values >= 42) & (rng.random(len(rep)) < 0.5)
    _add_choice(events, items["prediabetes"], rep[flagged], days[flagged], rng)


def code_screening(model: CodingModel, chunk: Chunk, events: EventBuffer, rng) -> None:
    """Screening rounds for the eligible: results when taken up (mostly normal), declines when not."""
    p, r = chunk.patients, chunk.registrations
    recording = model.calibration.recording
    for name, programme in model.calibration.screening.items():
        sex = {"any": np.ones_like(p.female), "female": p.female, "male": ~p.female}[programme.sex]
        who = np.flatnonzero(sex)
        low = p.date_of_birth[who] + years_to_days(programme.ages[0])
        high = p.date_of_birth[who] + years_to_days(programme.ages[1] + 1) - 1
        interval = int(years_to_days(programme.interval_years))
        first = np.maximum(np.maximum(low, r.first_start[who]), model.start)
        first = first + rng.integers(0, interval, len(who))
        last = np.minimum(np.minimum(high, r.record_end[who]), model.end)
        rep, days = _repeated(who, first, last, interval, 30, rng)
        attends = rng.random(len(rep)) < programme.uptake
        abnormal = attends & (rng.random(len(rep)) < programme.abnormal)
        result = attends & (rng.random(len(rep)) < recording.screening_result)
        declined = ~attends & (rng.random(len(rep)) < recording.screening_declined)
        stem = SCREENING_ITEMS[name]
        for suffix, here in (
            ("normal", result & ~abnormal),
            ("abnormal", result & abnormal),
            ("declined", declined),
        ):
            _add_choice(events, model.choice.items[f"{stem}_{suffix}"], rep[here], days[here], rng)
