"""The simulated plant: roller carriage and heads, airbags, heaters, foot rollers, recline.

The firmware (`firmware/`, through sim.hardware) writes the inputs and reads the sensors;
the simulator calls `step(dt)` across each tick or quiet stretch. Per-zone state is numpy
arrays stepped together. Every dynamic is constant-rate (clamped) or first-order with an
exact closed form, so one `step(5.0)` lands where 500 `step(0.01)` do: that is what makes
fast-forward fast. Time only arrives as `dt`.

The plant has the shape of a chair description (firmware.chairs; the reference chair by
default): `zones` (Z, in its order), `heaters` (H), `track_mm`, `seat_mm`. Its figures
(speeds, time constants, currents, noise) are in sim.plant_figures.

Inputs (the firmware writes): carriage_drive (-1 up, 0, +1 down), technique, width, depth,
speed, pump_on, fill_open (Z,), vent_open (Z,), dump_open, heater_on (H,), heater_supply,
foot_speed, back_drive, leg_drive. Array inputs are the plant's own arrays: write items or
assign a whole array.
Sensors (the firmware reads): encoder_mm, end_top, end_bottom, roller_current_a,
pump_current_a, heater_current_a (H,), pressure_kpa (Z,), thermistor_c (H,), back_pct,
leg_pct, pinch, occupied. Truth (tests, traces, status): carriage_mm, bag_kpa, surface_c,
roller_force_n, body_kpa, pump_running, heaters_powered, cutoff_open. Outputs are sampled at
the end of each step; published arrays are new objects every step (heaters_powered and
heater_current_a, read-only, are shared by the steps with the same relays), so a kept
reference keeps its values. A step's coefficients are kept per step length and input
combination (the valves, the relays and cut-offs): the same numbers, computed once for the
few a session meets (tests/sim/test_plant_cache.py).

Air: the pump feeds a manifold; each zone's fill valve joins its bag to the manifold and
its vent valve joins it to the room. With the pump running and the dump valve closed the
manifold is at the supply pressure (an open fill valve inflates); with the dump valve open
the manifold is at room pressure whatever the pump does (an open fill valve deflates: the
second relief path, independent of the vent valves); with the pump off and the dump closed
an open fill valve passes nothing. Heat: each heater's relay (heater_on) is in series with
one supply relay (heater_supply) for all, so a welded heater relay can still be cut off,
and each pad has its own thermal cut-off (a bimetal, CUTOFF_OPEN_C) that no input overrides.
The pump and each heater have a current sensor: a stuck pump or a welded relay shows as
current drawn while commanded off. The plant starts with the dump valve closed and the
heater supply closed (a bare plant heats when heater_on says so); the firmware's safe state
opens the dump and the heater supply.

Driving the carriage into an end stop clamps it there and stalls the motor (3 A): stop the
drive on the end switch. The sensor noise is pre-drawn from `seed`, a column per zone
then per heater: the same seed and description give the same readings.
"""

from __future__ import annotations

import math

import numpy as np

from firmware import chairs
from sim.body import Body
from sim.plant_faults import PlantFaults
from sim.plant_figures import (
    BACK_TRAVEL_S,
    BODY_COUPLING,
    CARRIAGE_DOWN_MM_S,
    CARRIAGE_UP_MM_S,
    CURRENT_IDLE_A,
    CURRENT_MOVING_A,
    CURRENT_STALL_A,
    CUTOFF_CLOSE_C,
    CUTOFF_OPEN_C,
    DUMP_TAU_S,
    END_SNAP_MM,
    FILL_TAU_DEFAULT_S,
    FILL_TAU_S,
    HEAD_MM_BASE,
    HEAD_MM_PER_DEPTH,
    HEAT_RISE_C,
    HEAT_TAU_S,
    HEATER_CURRENT_A,
    LEAK_TAU_S,
    LEG_TRAVEL_S,
    NOISE_MAX,
    NOISE_ROWS,
    NOISE_SIGMA,
    PUMP_CURRENT_A,
    RELIEF_KPA,
    SUPPLY_KPA,
    THERMISTOR_OPEN_C,
    THERMISTOR_SHORT_C,
    TISSUE_N_PER_MM,
    VENT_TAU_S,
)
from sim.plant_inputs import PlantInputs

#: How near its cut-off a pad's bound may come before step() looks at every surface (°C).
_MARGIN_C = 1e-3
#: The most step lengths, and valve combinations by step length, kept (then forgotten).
_KEPT = 256

#: The reference chair's description: the plant's shape when none is given.
REFERENCE = chairs.load("reference")



class Plant(PlantInputs, PlantFaults):
    """The chair's hardware and the person in it, advanced by `step(dt)`. `chair`: a
    description (firmware.chairs.load(name)), None the reference; ValueError if malformed."""

    # sensors and truth, refreshed at the end of every step() and by inject()/clear()
    encoder_mm: float
    end_top: bool
    end_bottom: bool
    roller_current_a: float
    pump_current_a: float
    heater_current_a: np.ndarray
    pressure_kpa: np.ndarray
    thermistor_c: np.ndarray
    back_pct: float
    leg_pct: float
    pinch: bool
    occupied: bool
    carriage_mm: float
    bag_kpa: np.ndarray
    roller_force_n: float
    pump_running: bool  # truth: the pump runs (pump_on, or stuck on)
    heaters_powered: np.ndarray  # truth: each heater element is powered
    active_faults: frozenset[str]

    def __init__(self, body: Body, *, seed: int = 0, ambient_c: float = 24.0,
                 chair: dict | None = None) -> None:
        self.body = body
        self.seed = seed
        self.ambient_c = float(ambient_c)
        self.chair = chair = REFERENCE if chair is None else chairs.check(chair)
        self.zones, self.heaters = tuple(chair["zones"]), tuple(chair["heaters"])
        self.track_mm = float(chair["track_mm"])
        self.seat_mm = float(chair["seat_mm"])
        n_zones = self._n_zones = len(self.zones)
        n_heaters = self._n_heaters = len(self.heaters)
        self._shoulder_mm = body.shoulder_mm(self.seat_mm)

        # inputs, written by the firmware
        self.carriage_drive = 0
        self.technique = "off"
        self.width = 1
        self.depth = 0
        self.speed = 1
        self.pump_on = False
        self.dump_open = False
        self._fill = np.zeros(n_zones, dtype=bool)
        self._vent = np.zeros(n_zones, dtype=bool)
        self._heat = np.zeros(n_heaters, dtype=bool)
        self.heater_supply = True
        self.foot_speed = 0
        self.back_drive = 0
        self.leg_drive = 0

        # airbag tables: for zone z, fill path f (0 closed or a sealed manifold, 1 from the
        # pump's supply, 2 to the room through the dump valve) and vent v, entry
        # 6 z + 2 f + v holds the total rate (1/s) and the equilibrium pressure (kPa) of
        # the first-order model
        fill_rate = 1.0 / np.array([FILL_TAU_S.get(z, FILL_TAU_DEFAULT_S) for z in self.zones])
        dump_rate = 1.0 / DUMP_TAU_S
        vent_rate = 1.0 / VENT_TAU_S
        leak_rate = 1.0 / LEAK_TAU_S
        rate = np.empty((n_zones, 6))
        eq = np.zeros((n_zones, 6))
        for valves in range(6):
            path, vent = divmod(valves, 2)
            inflow = fill_rate if path == 1 else 0.0
            rate[:, valves] = (inflow + (dump_rate if path == 2 else 0.0) + vent * vent_rate
                               + leak_rate)
            eq[:, valves] = inflow * SUPPLY_KPA / rate[:, valves]
        self._air_rate = rate.ravel()
        self._air_eq = eq.ravel()
        self._zone_base = np.arange(n_zones) * 6
        self._no_valves = np.zeros(n_zones, dtype=bool)
        self._no_valves.flags.writeable = False
        self._no_heat = np.zeros(n_heaters, dtype=bool)
        self._no_heat.flags.writeable = False
        self._all_heat = np.ones(n_heaters, dtype=bool)
        self._all_heat.flags.writeable = False
        self._dt = math.nan
        self._air_decay = np.empty(n_zones * 6)
        self._heat_decay = 1.0

        # noise, pre-drawn so the hot path only indexes: a column per zone's pressure, then
        # one per heater's thermistor
        rng = np.random.default_rng(seed)
        noise = rng.normal(0.0, NOISE_SIGMA, (NOISE_ROWS, n_zones + n_heaters))
        self._noise = np.clip(noise, -NOISE_MAX, NOISE_MAX)
        self._noise_kpa = self._noise[:, :n_zones].copy()  # (rows, Z), then (rows, H)
        self._noise_c = self._noise[:, n_zones:].copy()
        self._row = 0
        self._decays: dict[float, tuple] = {}  # dt -> (air decay (6 Z,), heat decay)
        self._air_pairs: dict[tuple, tuple] = {}  # see _air_now
        self._heat_cache: dict[tuple, tuple] = {}  # see _heat_now

        # state
        self.carriage_mm = 0.0
        self.encoder_mm = 0.0
        self.bag_kpa = np.zeros(n_zones)
        self._surface = np.full(n_heaters, self.ambient_c)
        self.back_pct = 0.0
        self.leg_pct = 0.0
        self.pump_running = False
        self.heaters_powered = self._no_heat.copy()
        self.cutoff_open = np.zeros(n_heaters, dtype=bool)  # truth: each pad's cut-off
        self._surface_bound = self.ambient_c  # no surface above it (see step)

        # faults
        self.active_faults = frozenset()
        self._pump_stuck = self._vent_stuck = self._pressure_stuck = False
        self._heater_welded = self._stall = self._encoder_stuck = False
        self._thermistor_fault: str | None = None
        self._stuck_pressure = np.zeros(n_zones)
        self._refresh()
        #: sim.truth.Peaks observing every step, or None (the default: no cost)
        self.peaks = None

    @property
    def surface_c(self) -> np.ndarray:
        """Truth: each heater pad's surface temperature (°C), (heaters,)."""
        return self._surface

    @surface_c.setter
    def surface_c(self, value: np.ndarray) -> None:  # (tests: a surface heated from outside)
        self._surface = np.asarray(value, dtype=float)
        self._surface_bound = math.inf  # the next step looks at every surface again

    @property
    def body_kpa(self) -> np.ndarray:
        """Truth: the contact pressure on the body per zone (kPa), 0 with nobody seated."""
        return self.bag_kpa * BODY_COUPLING if self.occupied else self.bag_kpa * 0.0

    # --- dynamics
    def step(self, dt: float) -> None:
        """Advance `dt` seconds with the inputs held constant (exact for any dt >= 0)."""
        if not dt > 0.0:
            if dt == 0.0:
                return
            raise ValueError(f"Plant.step: dt={dt!r} must be >= 0")
        if dt != self._dt:  # (a session steps ~10 lengths, switching ~2,300 times)
            self._dt = dt
            decays = self._decays.get(dt)
            if decays is None:
                if len(self._decays) >= _KEPT:
                    self._decays.clear()
                decays = self._decays[dt] = (np.exp(-self._air_rate * dt),
                                             math.exp(-dt / HEAT_TAU_S))
            self._air_decay, self._heat_decay = decays

        # carriage: constant speed, clamped at the track ends (exact for any dt)
        drive = self.carriage_drive
        if drive and not self._stall:
            pos = self.carriage_mm + (CARRIAGE_DOWN_MM_S * dt if drive > 0
                                      else -CARRIAGE_UP_MM_S * dt)
            track = self.track_mm
            self.carriage_mm = (0.0 if pos < END_SNAP_MM else track
                                if pos > track - END_SNAP_MM else pos)

        # airbags: p -> eq + (p - eq) exp(-k dt), then the relief valve. The path is
        # monotone, so clamping the end point is exact for any dt.
        eq, decay = self._air_now()
        bag = eq + (self.bag_kpa - eq) * decay
        np.minimum(bag, RELIEF_KPA, out=bag)
        self.bag_kpa = bag

        # heaters: first order toward ambient (+ rise when powered through the cut-off)
        heat = self._heat_now()
        target = heat[2]
        surface = target + (self._surface - target) * self._heat_decay
        # (no surface can pass both where it was and where it heads: the bound spares the
        # reduction while every pad stays clear of its cut-off)
        bound = max(self._surface_bound, heat[3])
        if heat[4] or bound >= CUTOFF_OPEN_C - _MARGIN_C:
            bound = float(surface.max())
            if heat[4] or bound >= CUTOFF_OPEN_C:
                surface = self._heat_with_cutoff(heat[5], dt)
                bound = float(surface.max())
                heat = None  # (a cut-off may have switched: _refresh looks again)
        self._surface_bound = bound
        self._surface = surface

        # recline and leg rest: constant speed, clamped
        if self.back_drive:
            back = self.back_pct + (100.0 / BACK_TRAVEL_S * dt if self.back_drive > 0
                                    else -100.0 / BACK_TRAVEL_S * dt)
            self.back_pct = 0.0 if back < 0.0 else 100.0 if back > 100.0 else back
        if self.leg_drive:
            leg = self.leg_pct + (100.0 / LEG_TRAVEL_S * dt if self.leg_drive > 0
                                  else -100.0 / LEG_TRAVEL_S * dt)
            self.leg_pct = 0.0 if leg < 0.0 else 100.0 if leg > 100.0 else leg

        self._row = (self._row + 1) % NOISE_ROWS
        self._refresh(heat)
        if self.peaks is not None:
            self.peaks.observe(self)

    def _air_now(self) -> tuple[np.ndarray, np.ndarray]:
        """Each zone's (equilibrium kPa, decay over the present dt) for the valves now held,
        kept per valve combination and dt."""
        pump = self.pump_on or self._pump_stuck
        key = (self._fill.tobytes(), self._vent.tobytes(), self.dump_open, pump,
               self._vent_stuck, self._dt)
        pair = self._air_pairs.get(key)
        if pair is None:
            valves = self._fill * (4 if self.dump_open else 2 if pump else 0)
            valves += self._no_valves if self._vent_stuck else self._vent
            valves += self._zone_base
            if len(self._air_pairs) >= _KEPT:
                self._air_pairs.clear()
            pair = self._air_pairs[key] = (self._air_eq.take(valves),
                                           self._air_decay.take(valves))
        return pair

    def _heat_now(self) -> tuple:
        """For the relays, supply and cut-offs now: (powered (H,) bool, current (H,) A,
        target (H,) °C, the highest target, any cut-off open, the relays), read-only and
        kept per combination (there are few)."""
        key = (self._heat.tobytes(), self.cutoff_open.tobytes(), self.heater_supply,
               self._heater_welded, self.ambient_c,  # (an input: tests set it)
               HEAT_RISE_C, HEATER_CURRENT_A)  # (figures tests may patch)
        found = self._heat_cache.get(key)
        if found is None:
            if not self.heater_supply:
                relays = self._no_heat
            else:
                relays = self._all_heat if self._heater_welded else self._heat.copy()
            powered = relays & ~self.cutoff_open
            current = powered * HEATER_CURRENT_A
            target = powered * HEAT_RISE_C + self.ambient_c
            for array in (relays, powered, current, target):
                array.flags.writeable = False
            top = float(target.max()) if self._n_heaters else -math.inf
            found = (powered, current, target, top, bool(self.cutoff_open.any()), relays)
            if len(self._heat_cache) >= 64:
                self._heat_cache.clear()
            self._heat_cache[key] = found
        return found

    def _heat_with_cutoff(self, relays: np.ndarray, dt: float) -> np.ndarray:
        """The surfaces after `dt` s when a cut-off opens or is open: each heater's path is
        split where its bimetal switches, so one step lands where many small ones do."""
        surface = self.surface_c.copy()
        for h in range(self._n_heaters):
            left, temp = dt, float(surface[h])
            while left > 0.0:
                is_open = bool(self.cutoff_open[h])
                goal = self.ambient_c + (HEAT_RISE_C if relays[h] and not is_open else 0.0)
                edge = CUTOFF_CLOSE_C if is_open else CUTOFF_OPEN_C
                # time until the bimetal switches on the path temp -> goal (first order)
                if (temp <= edge) if is_open else (temp >= edge):
                    reach = 0.0
                elif (goal < edge) if is_open else (goal > edge):
                    reach = HEAT_TAU_S * math.log((temp - goal) / (edge - goal))
                else:
                    reach = math.inf
                if reach >= left:
                    temp = goal + (temp - goal) * math.exp(-left / HEAT_TAU_S)
                    break
                temp, left = edge, left - reach
                self.cutoff_open[h] = not is_open
            surface[h] = temp
        return surface

    def _refresh(self, heat: tuple | None = None) -> None:
        """Derive sensors and contact from the state, the inputs held and the faults
        (`heat`: this step's `_heat_now()`, when no cut-off has switched since)."""
        pos = self.carriage_mm
        self.end_top = pos <= 0.0
        self.end_bottom = pos >= self.track_mm
        if not self._encoder_stuck:
            self.encoder_mm = pos
        drive = self.carriage_drive
        if not drive:
            self.roller_current_a = CURRENT_IDLE_A
        elif self._stall or (self.end_top if drive < 0 else self.end_bottom):
            self.roller_current_a = CURRENT_STALL_A
        else:
            self.roller_current_a = CURRENT_MOVING_A

        occupied = self.occupied = self.body.seated and "occupant-leaves" not in self.active_faults
        self.pinch = "pinch" in self.active_faults
        if (occupied and self.depth > 0 and self.technique != "off"
                and self._shoulder_mm <= pos <= self.track_mm):
            self.roller_force_n = (self.body.stiffness * TISSUE_N_PER_MM
                                   * (HEAD_MM_BASE + HEAD_MM_PER_DEPTH * self.depth))
        else:
            self.roller_force_n = 0.0

        self.pump_running = pump = self.pump_on or self._pump_stuck
        self.pump_current_a = PUMP_CURRENT_A if pump else 0.0
        self.heaters_powered, self.heater_current_a = (heat or self._heat_now())[:2]

        row = self._row
        if not self._pressure_stuck:
            self.pressure_kpa = self.bag_kpa + self._noise_kpa[row]
        fault = self._thermistor_fault
        if fault is None:
            self.thermistor_c = self.surface_c + self._noise_c[row]
        elif fault == "thermistor-open":
            self.thermistor_c = np.full(self._n_heaters, THERMISTOR_OPEN_C)
        elif fault == "thermistor-short":
            self.thermistor_c = np.full(self._n_heaters, THERMISTOR_SHORT_C)
        else:  # loose: the thermistor sits in ambient air
            self.thermistor_c = self.ambient_c + self._noise_c[row]
