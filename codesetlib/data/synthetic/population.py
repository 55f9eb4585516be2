"""Practices, patients and registrations: an England-like population in North Central London.

Everything here is vectorised over the patients of one chunk; no loop runs per patient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesetlib.data.synthetic.dates import NO_DATE, years_to_days

# England's population by five-year age band (0-4 ... 85-89, 90+), per cent, ONS mid-year estimates
# rounded: the shape matters here, not the decimals.
AGE_BAND_SHARES = np.array(
    [5.4, 5.9, 6.0, 5.6, 5.9, 6.6, 6.9, 6.8, 6.6, 6.3, 6.8, 6.9, 6.3, 5.4, 5.1, 3.9, 2.7, 1.6, 1.0]
)
# Share of people in each borough's IMD quintiles (1 = most deprived), roughly as NCL's boroughs lie.
BOROUGH_IMD = {
    "Barnet": [0.08, 0.17, 0.25, 0.27, 0.23],
    "Camden": [0.18, 0.27, 0.22, 0.18, 0.15],
    "Enfield": [0.27, 0.28, 0.20, 0.14, 0.11],
    "Haringey": [0.30, 0.30, 0.18, 0.12, 0.10],
    "Islington": [0.28, 0.35, 0.20, 0.10, 0.07],
}
MOVE_SHARE = 0.12  # patients who change practice in the record window
MOVE_WITHIN_BOROUGH = 0.7
LEAVE_SHARE = 0.04  # patients who leave (emigrate, move out of the area) in the window
JOIN_IN_WINDOW = 0.10  # patients whose first registration falls in the window


@dataclass(frozen=True)
class Practices:
    """Practices with their borough and expected share of the population."""

    borough: np.ndarray  # index into the borough names
    share: np.ndarray  # expected list share, sums to 1
    names: tuple[str, ...]  # borough names


@dataclass
class Patients:
    """The patients of one chunk (arrays indexed by position in the chunk)."""

    patient_id: np.ndarray
    female: np.ndarray
    date_of_birth: np.ndarray
    date_of_death: np.ndarray  # NO_DATE when alive at the end
    imd_quintile: np.ndarray


@dataclass(frozen=True)
class Registrations:
    """At most two registrations per patient: a first practice, and the one moved to."""

    first_practice: np.ndarray
    first_start: np.ndarray
    moved: np.ndarray
    move_date: np.ndarray
    second_practice: np.ndarray
    record_end: np.ndarray  # the last day of the record: death, leaving, or the end of the window
    left: np.ndarray

    def practice_on(self, who: np.ndarray, days: np.ndarray) -> np.ndarray:
        """The practice each patient `who` is registered with on `days`."""
        after_move = self.moved[who] & (days >= self.move_date[who])
        return np.where(after_move, self.second_practice[who], self.first_practice[who])

    def final_practice(self) -> np.ndarray:
        return np.where(self.moved, self.second_practice, self.first_practice)


def draw_practices(count: int, boroughs: list[str], rng: np.random.Generator) -> Practices:
    """Practices spread over the boroughs in turn, with list sizes varying about fivefold."""
    share = rng.lognormal(0.0, 0.5, count)
    return Practices(
        borough=np.arange(count) % len(boroughs), share=share / share.sum(), names=tuple(boroughs)
    )


def annual_death_hazard(age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """A Gompertz hazard close to England's life tables: about 0.3% a year at 50, 5% at 80."""
    return np.exp(-10.5 + 0.095 * age) * np.where(female, 1.0, 1.3)


def draw_patients(
    first_id: int, count: int, start: int, end: int, practices: Practices, rng: np.random.Generator
) -> tuple[Patients, np.ndarray]:
    """Patients with England's age and sex structure at `end`, deaths in the window, and IMD by borough.

    Returns the patients and each one's first practice (drawn here because IMD depends on it)."""
    band = rng.choice(len(AGE_BAND_SHARES), count, p=AGE_BAND_SHARES / AGE_BAND_SHARES.sum())
    age_at_end = band * 5 + rng.random(count) * np.where(band == len(AGE_BAND_SHARES) - 1, 12, 5)
    dob = end - years_to_days(age_at_end)
    female_share = np.where(age_at_end < 65, 0.5, np.where(age_at_end < 80, 0.54, 0.62))
    female = rng.random(count) < female_share
    dod = np.full(count, NO_DATE, dtype=np.int64)
    for year_start in range(start, end, 365):
        age = (year_start - dob) / 365.25
        hazard = annual_death_hazard(np.maximum(age, 0), female)
        dies = (rng.random(count) < -np.expm1(-hazard)) & (dod == NO_DATE) & (dob < year_start)
        dod[dies] = np.minimum(year_start + rng.integers(0, 365, dies.sum()), end)
    practice = rng.choice(len(practices.share), count, p=practices.share)
    imd = np.empty(count, dtype=np.int8)
    draw = rng.random(count)
    for b, name in enumerate(practices.names):
        weights = np.cumsum(BOROUGH_IMD.get(name, [0.2] * 5))
        here = practices.borough[practice] == b
        imd[here] = 1 + np.searchsorted(weights / weights[-1], draw[here], side="right")
    patients = Patients(
        patient_id=np.arange(first_id, first_id + count, dtype=np.int64),
        female=female,
        date_of_birth=dob,
        date_of_death=dod,
        imd_quintile=np.minimum(imd, 5),
    )
    return patients, practice


def _other_practice(
    first: np.ndarray, practices: Practices, rng: np.random.Generator
) -> np.ndarray:
    """A practice to move to: mostly one in the same borough, never the practice moved from."""
    count = len(practices.share)
    anywhere = (first + 1 + rng.integers(0, max(count - 1, 1), len(first))) % count
    members = np.argsort(practices.borough, kind="stable")
    sizes = np.bincount(practices.borough, minlength=len(practices.names))
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    borough = practices.borough[first]
    slot = (rng.random(len(first)) * sizes[borough]).astype(np.int64)
    nearby = members[offsets[borough] + slot]
    clash = nearby == first
    slot = np.where(clash, (slot + 1) % np.maximum(sizes[borough], 1), slot)
    nearby = members[offsets[borough] + slot]
    same_borough = (rng.random(len(first)) < MOVE_WITHIN_BOROUGH) & (nearby != first)
    return np.where(same_borough, nearby, anywhere)


def draw_registrations(
    patients: Patients,
    first_practice: np.ndarray,
    start: int,
    end: int,
    practices: Practices,
    rng: np.random.Generator,
) -> Registrations:
    """Registrations: a first practice from birth or years before the window, moves, leavers, deaths."""
    count = len(patients.patient_id)
    dob, dod = patients.date_of_birth, patients.date_of_death
    last_alive = np.minimum(dod, end)
    joins = rng.random(count) < JOIN_IN_WINDOW
    before = start - years_to_days(rng.random(count) * 25)
    during = start + rng.integers(0, end - start, count)
    first_start = np.where(joins, during, before)
    first_start = np.maximum(first_start, dob + rng.integers(0, 42, count))
    first_start = np.minimum(first_start, last_alive)
    window_from = np.maximum(first_start, start) + 1
    room = last_alive - window_from
    can_change = (room > 30) & (len(practices.share) > 1)
    moved = (rng.random(count) < MOVE_SHARE) & can_change
    left = (rng.random(count) < LEAVE_SHARE) & can_change & ~moved
    change_date = window_from + (rng.random(count) * np.maximum(room, 0)).astype(np.int64)
    move_date = np.where(moved, change_date, NO_DATE)
    record_end = np.where(left, change_date, last_alive)
    return Registrations(
        first_practice=first_practice,
        first_start=first_start,
        moved=moved,
        move_date=move_date,
        second_practice=np.where(moved, _other_practice(first_practice, practices, rng), -1),
        record_end=record_end,
        left=left,
    )


def registration_rows(
    patients: Patients, registrations: Registrations, end: int
) -> dict[str, np.ndarray]:
    """The `registrations` table of a chunk: one row per registration, end date NO_DATE when open."""
    r = registrations
    open_end = np.where(r.left | (patients.date_of_death <= end), r.record_end, NO_DATE)
    first_end = np.where(r.moved, r.move_date - 1, open_end)
    who = np.flatnonzero(r.moved)
    ids = np.concatenate([patients.patient_id, patients.patient_id[who]])
    order = np.argsort(ids, kind="stable")
    return {
        "patient_id": ids[order],
        "practice_id": np.concatenate([r.first_practice, r.second_practice[who]])[order] + 1,
        "start_date": np.concatenate([r.first_start, r.move_date[who]])[order],
        "end_date": np.concatenate([first_end, open_end[who]])[order],
    }


def registered_at_end(patients: Patients, registrations: Registrations, end: int) -> np.ndarray:
    """Patients alive and registered on the last day of the window."""
    return (patients.date_of_death > end) & ~registrations.left
