"""The simulated plant's figures: speeds, time constants, currents, noise (sim.physics).

Figures marked "reported" are figures reported for real chairs (catalogues and manuals
collected for this project; docs/safety.md names the sources it has); every other value is
marked "assumed". They describe the simulated hardware, the same for every chair description
(a chair's shape, its zones, heaters, track and seat, comes from its description).
"""

# --- carriage motor: reported, full travel of a 1250 mm track 14.8 s down and 15.9 s up on
# one chair. A motor's speed, whatever the track's length: a shorter track is travelled sooner.
CARRIAGE_DOWN_MM_S = 1250.0 / 14.8  # ~84 mm/s
CARRIAGE_UP_MM_S = 1250.0 / 15.9  # ~79 mm/s
#: A carriage this close to an end stop is at it (mm): many short steps sum to the end only
#: within rounding (1,480 steps of 10 ms: 1249.99999999998 of 1250), one long step exactly.
END_SNAP_MM = 1e-6
CURRENT_IDLE_A = 0.1  # roller motor current, idle (assumed)
CURRENT_MOVING_A = 0.8  # moving (assumed)
CURRENT_STALL_A = 3.0  # stalled, or driven against an end stop (assumed)

# --- roller heads: force = stiffness x 2.5 N/mm x (5 + 5 x depth) mm (assumed)
TISSUE_N_PER_MM = 2.5
HEAD_MM_BASE = 5.0
HEAD_MM_PER_DEPTH = 5.0

# --- airbags
SUPPLY_KPA = 60.0  # pump supply pressure (assumed; no published kPa figure)
RELIEF_KPA = 50.0  # mechanical relief valve: bag pressure never exceeds it (assumed)
#: Fill time constants (assumed): a bag reaches 63 % of the supply (~38 kPa) in tau, its
#: device cap in 1.7 to 5.5 s, within the 1.5 to 10 s inflation times reported. Keyed by
#: zone name; a zone not listed (a chair description's own) fills in FILL_TAU_DEFAULT_S.
FILL_TAU_S = {"shoulders": 4.0, "arms": 2.5, "lumbar": 5.0, "seat": 6.0, "calves": 5.0,
              "feet": 3.0}
FILL_TAU_DEFAULT_S = 5.0  # (assumed: the middle of the figures above)
VENT_TAU_S = 0.4  # vent: a cap's 30-40 kPa to under 1 kPa in ~1.4 s (reported 0.6-2 s)
#: Through the fill valve and the open manifold dump valve to the room (assumed: the fill
#: path is narrower than the vent, so a cap's 30-40 kPa falls under 1 kPa in ~3 s).
DUMP_TAU_S = 0.8
LEAK_TAU_S = 600.0  # slow leak, always present (assumed)
BODY_COUPLING = 0.7  # contact pressure on the body per kPa in the bag (assumed)

# --- heaters, the same for every pad (assumed)
HEAT_RISE_C = 32.0  # heater on: the surface heads for ambient + 32 °C
HEAT_TAU_S = 60.0
#: Thermal cut-off in each pad (a bimetal disc in series with the element, as heating pads
#: carry; assumed ratings): opens when the surface reaches CUTOFF_OPEN_C, closes again
#: once it has cooled to CUTOFF_CLOSE_C. The last layer, for when every check is fooled.
CUTOFF_OPEN_C = 50.0
CUTOFF_CLOSE_C = 40.0

# --- current sensors (assumed)
PUMP_CURRENT_A = 1.2  # the diaphragm pump running
HEATER_CURRENT_A = 2.0  # one heater element powered

# --- recline and leg rest (reported: recline travel 12-15 s)
BACK_TRAVEL_S = 13.0
LEG_TRAVEL_S = 10.0

# --- sensors (assumed)
NOISE_MAX = 0.045  # largest sensor noise (kPa, °C): under 0.05 with float rounding
NOISE_SIGMA = 0.015
NOISE_ROWS = 4096  # pre-drawn noise rows, cycled one per step
THERMISTOR_OPEN_C = -40.0
THERMISTOR_SHORT_C = 150.0
