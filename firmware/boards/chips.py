"""What each chip allows on its GPIOs, for the pin-map check (pinmap.py).

Each function returns a problem (a sentence) or None. MicroPython-compatible.
"""

BOARDS = ("esp32", "rp2040")

# Board rules. ESP32 (WROOM-32): 6-11 drive the flash; 0, 2, 5, 12, 15 are strapping pins
# (their level at reset picks the boot mode); 1 and 3 are UART0, the USB serial port;
# 34-39 are input-only with no pulls; 14 puts out a PWM signal while booting. Analog
# inputs only on ADC1 (32-39): ADC2 is shared with the radio.
ESP32_PINS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23,
              25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)
ESP32_FLASH = (6, 7, 8, 9, 10, 11)
ESP32_STRAPPING = (0, 2, 5, 12, 15)
ESP32_CONSOLE = (1, 3)
ESP32_INPUT_ONLY = (34, 35, 36, 37, 38, 39)
ESP32_BOOT_GLITCH = (14,)
ESP32_ADC = (32, 33, 34, 35, 36, 37, 38, 39)
# RP2040 on a Pico: GPIO 23-25 and 29 are wired on the board (SMPS mode, VBUS sense, LED,
# VSYS/3); ADC on 26-28 only. GPIO n is PWM slice (n >> 1) & 7, channel n & 1.
RP2040_PINS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
               22, 26, 27, 28)
RP2040_ADC = (26, 27, 28)


def gpio_problem(board, value, output=False, adc=False, strapping_ok=False):
    """Why GPIO `value` cannot be used so on `board` (None: it can)."""
    if board == "esp32":
        if value not in ESP32_PINS:
            return f"GPIO{value} does not exist on the esp32"
        if value in ESP32_FLASH:
            return f"GPIO{value} is a flash pin on the esp32"
        if value in ESP32_CONSOLE:
            return f"GPIO{value} is the USB serial console (UART0) on the esp32"
        if value in ESP32_STRAPPING and not strapping_ok:
            return (f"GPIO{value} is a strapping pin on the esp32 (its level at reset picks "
                    "the boot mode)")
        if output and value in ESP32_INPUT_ONLY:
            return f"GPIO{value} is input-only on the esp32"
        if output and value in ESP32_BOOT_GLITCH:
            return f"GPIO{value} puts out a signal while the esp32 boots: use it as an input only"
        if adc and value not in ESP32_ADC:
            return f"GPIO{value} has no ADC1 channel (esp32 analog: GPIO32-39)"
        return None
    if value not in RP2040_PINS:
        return f"GPIO{value} is not free on a Pico (GPIO0-22, 26-28)"
    if adc and value not in RP2040_ADC:
        return (f"GPIO{value} has no ADC on the rp2040 (GPIO26-28; more analog inputs "
                "through the analog mux, key amux)")
    return None


def function_problem(board, gpio, kind, unit, role):
    """On the rp2040 a UART or I2C unit reaches only some GPIOs: UART n TX (role 0) on GPIO k
    with k % 4 == 0 and ((k + 4) >> 3) & 1 == n, RX (role 1) one above; I2C n SDA (role 0)
    on even GPIOs with (k >> 1) & 1 == n, SCL (role 1) on odd ones. The ESP32 routes any."""
    if board != "rp2040":
        return None
    if kind == "UART":
        ok = gpio % 4 == role and ((gpio + 4) >> 3) & 1 == unit
        names = ("TX", "RX")
    else:
        ok = gpio % 2 == role and (gpio >> 1) & 1 == unit
        names = ("SDA", "SCL")
    return None if ok else f"GPIO{gpio} is not {kind}{unit} {names[role]} on the rp2040"


def pull_problem(board, gpio):
    """The ESP32's GPIO34-39 have no internal pull resistors."""
    if board == "esp32" and gpio in ESP32_INPUT_ONLY:
        return (f"GPIO{gpio} has no internal pull resistor on the esp32: fit one on the "
                "board and leave pull out")
    return None
